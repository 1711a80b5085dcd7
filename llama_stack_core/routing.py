"""Routing: from a request to the provider object that serves it. A dict lookup and one awaited call per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from .apis.resources import RESOURCE_KINDS, Model, Resource
from .apis.routes import Api, Route
from .errors import BadRequestError, ResourceNotFoundError, ServiceUnavailableError
from .providers import RegisteredProviderSpec

_NOT_FOUND_HINTS = {"model": "List models with GET /v1/models."}


@dataclass
class ProviderInstance:
    """A configured, running provider."""

    api: Api
    provider_id: str
    provider_type: str
    registered: RegisteredProviderSpec
    config: BaseModel
    impl: Any


T = TypeVar("T", bound=BaseModel)


def as_model(result: Any, model: type[T]) -> T:
    """A provider's answer (JSON bytes, a dict or a model) as the given model."""
    if isinstance(result, model):
        return result
    if isinstance(result, (bytes, str)):
        return model.model_validate_json(result)
    if isinstance(result, BaseModel):
        return model.model_validate(result.model_dump())
    return model.model_validate(result)


class ResourceLookup(Protocol):
    async def lookup(self, resource_type: str, identifier: str) -> Resource | None: ...

    def on_provider(self, resource_type: str, provider_id: str, name: str) -> Resource | None: ...


class ApiRouter:
    """Picks the provider for each call to one API: by the resource a request names, else the API's default."""

    def __init__(self, api: Api, providers: dict[str, ProviderInstance], resources: ResourceLookup) -> None:
        from .apis import api_spec

        self.api = api
        self.providers = providers
        self._resources = resources
        self._default = next(iter(providers.values()))
        self._routes = {route.name: route for route in api_spec(api).routes}

    async def call(self, operation: str, request: BaseModel) -> Any:
        """Call an operation of this API as a client would (for providers that depend on another API)."""
        override = getattr(self, operation, None)
        if override is not None:
            return await override(request)
        provider, request = await self.route(self._routes[operation], request)
        return await getattr(provider.impl, operation)(request)

    async def call_as(self, operation: str, request: BaseModel, model: type[T]) -> T:
        """``call`` with the answer as ``model`` (providers may answer with JSON bytes, dicts or models)."""
        return as_model(await self.call(operation, request), model)

    def default_provider(self, request: BaseModel | None = None) -> ProviderInstance:
        """The provider for a call that names no resource: ``provider_id`` in the request, else the first one."""
        provider_id = getattr(request, "provider_id", None)
        if not provider_id:
            return self._default
        if provider_id not in self.providers:
            raise BadRequestError(
                f"unknown provider_id '{provider_id}' for {self.api.value}; configured: {', '.join(self.providers)}",
                param="provider_id",
            )
        return self.providers[provider_id]

    def _default_for(self, operation: str) -> ProviderInstance:
        """The first provider that implements an operation (e.g. telemetry queries skip export-only providers)."""
        if hasattr(self._default.impl, operation):
            return self._default
        return next((p for p in self.providers.values() if hasattr(p.impl, operation)), self._default)

    async def resolve(self, resource_type: str, identifier: str) -> tuple[ProviderInstance, str, Resource | None]:
        """The provider serving a resource, the id that provider knows it by, and the resource if registered.

        ``provider_id/name`` reaches a provider directly: a resource registered there under that name, or (for
        models) the provider's own model id, unregistered.
        """
        resource = await self._resources.lookup(resource_type, identifier)
        if resource is None and "/" in identifier:
            provider_id, _, name = identifier.partition("/")
            if provider_id in self.providers:
                resource = self._resources.on_provider(resource_type, provider_id, name)
                if resource is None and resource_type == "model":
                    return self.providers[provider_id], name, None
        if resource is None:
            raise ResourceNotFoundError(
                RESOURCE_KINDS[resource_type].title, identifier, hint=_NOT_FOUND_HINTS.get(resource_type)
            )
        provider = self.providers.get(resource.provider_id)
        if provider is None:
            raise ServiceUnavailableError(
                f"{RESOURCE_KINDS[resource_type].title} '{identifier}' is served by "
                f"provider '{resource.provider_id}', which is not configured here"
            )
        return provider, resource.provider_resource_id or resource.identifier, resource

    async def route(self, route: Route, request: BaseModel | None) -> tuple[ProviderInstance, BaseModel | None]:
        """The provider for this call and the request as that provider should see it."""
        ref = route.resource
        identifier = getattr(request, ref.field) if ref is not None and request is not None else None
        if identifier is None:
            if getattr(request, "provider_id", None):
                return self.default_provider(request), request
            return self._default_for(route.name), request
        provider, provider_resource_id, resource = await self.resolve(ref.resource_type, identifier)
        if ref.model_type is not None and isinstance(resource, Model) and resource.model_type != ref.model_type:
            raise BadRequestError(
                f"model '{identifier}' is of type {resource.model_type.value}; this endpoint "
                f"needs a model of type {ref.model_type}",
                param=ref.field,
            )
        if provider_resource_id != identifier:
            request = request.model_copy(update={ref.field: provider_resource_id})
        return provider, request
