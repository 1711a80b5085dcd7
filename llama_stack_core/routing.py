"""Routing and the one way to call a provider: from a request to the provider that serves it (a dict lookup and one
awaited call per request), then the call itself, traced and metered (:class:`Operation`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from .apis.resources import RESOURCE_KINDS, Model, Resource
from .apis.routes import Api, Route
from .call_telemetry import meter_answer, observed_stream
from .errors import BadRequestError, ResourceNotFoundError, ServiceUnavailableError
from .owners import Action, authorize
from .providers import RegisteredProviderSpec
from .tracing import CURRENT, SpanRecord

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


def provider_method(provider: ProviderInstance, name: str) -> Any:
    """The provider's method for an operation; a provider that lacks it answers 501, not 500."""
    method = getattr(provider.impl, name, None)
    if method is None:
        raise NotImplementedError(
            f"provider '{provider.provider_id}' ({provider.provider_type}) does not implement {name}"
        )
    return method


def serving(provider: ProviderInstance) -> ProviderInstance:
    """Name the provider a router's own operation picked on the operation's span (when recorded)."""
    span = CURRENT.get()
    if span is not None and span.recording:
        span.set("provider.id", provider.provider_id)
        span.set("provider.type", provider.provider_type)
    return provider


class ResourceLookup(Protocol):
    """The registry as routers see it (the stack's ``ResourceService``)."""

    async def lookup(self, resource_type: str, identifier: str) -> Resource | None: ...

    def on_provider(self, resource_type: str, provider_id: str, name: str) -> Resource | None: ...

    async def register(self, resource_type: str, request: Any) -> Resource: ...


class ApiRouter:
    """Picks the provider for each call to one API: by the resource a request names, else the API's default."""

    def __init__(
        self,
        api: Api,
        providers: dict[str, ProviderInstance],
        resources: ResourceLookup,
        settings: BaseModel | None = None,
        peers: Mapping[Api, ApiRouter] | None = None,
    ) -> None:
        from .apis import api_spec

        self.api = api
        self.providers = providers
        self._resources = resources
        #: the run config's section for this API (``safety:``, ``tool_runtime:``), for routers that read one
        self.settings = settings
        #: the stack's routers by API (filled as the stack starts), for router operations that call another API
        self.peers: Mapping[Api, ApiRouter] = peers if peers is not None else {}
        self._default = next(iter(providers.values()))
        self._routes = {route.name: route for route in api_spec(api).routes}
        #: every operation of the API, by name: what the server's endpoints and :meth:`call` call
        self.operations = {name: Operation(self, route) for name, route in self._routes.items()}

    async def call(self, operation: str, request: BaseModel) -> Any:
        """Call an operation of this API as a client would, from inside the server (a provider that depends on
        another API): the same path as an HTTP request's, so the call is traced and metered the same way."""
        return await self.operations[operation].call(request)

    async def call_as(self, operation: str, request: BaseModel, model: type[T]) -> T:
        """``call`` with the answer as ``model`` (providers may answer with JSON bytes, dicts or models)."""
        return as_model(await self.call(operation, request), model)

    def peer(self, api: Api) -> ApiRouter:
        """Another API's router; 501 when this stack does not serve that API."""
        router = self.peers.get(api)
        if router is None:
            raise NotImplementedError(f"{self.api.value} needs the {api.value} API, which this stack does not serve")
        return router

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

    async def lookup(self, resource_type: str, identifier: str) -> Resource | None:
        """A registered resource of any type, if the caller may read it: for a provider that reads a resource it was
        not told about yet (registered by another process a moment ago)."""
        return await self._resources.lookup(resource_type, identifier)

    async def resolve(
        self, resource_type: str, identifier: str, action: Action = Action.read
    ) -> tuple[ProviderInstance, str, Resource | None]:
        """The provider serving a resource, the id that provider knows it by, and the resource if registered.

        ``provider_id/name`` reaches a provider directly: a resource registered there under that name, or (for
        models) the provider's own model id, unregistered (a shared model to access rules). With auth on, a
        resource the caller may not read is not found; one they may read but not ``action`` is a 403.
        """

        def not_found() -> ResourceNotFoundError:
            return ResourceNotFoundError(
                RESOURCE_KINDS[resource_type].title, identifier, hint=_NOT_FOUND_HINTS.get(resource_type)
            )

        resource = await self._resources.lookup(resource_type, identifier)
        if resource is None and "/" in identifier:
            provider_id, _, name = identifier.partition("/")
            if provider_id in self.providers:
                resource = self._resources.on_provider(resource_type, provider_id, name)
                if resource is None and resource_type == "model":
                    authorize(action, resource_type, identifier, None, not_found)
                    return self.providers[provider_id], name, None
                if resource is not None:
                    authorize(Action.read, resource_type, resource.identifier, resource.owner, not_found)
        if resource is None:
            raise not_found()
        if action is not Action.read:
            authorize(action, resource_type, resource.identifier, resource.owner, not_found)
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
        provider, provider_resource_id, resource = await self.resolve(ref.resource_type, identifier, ref.action)
        if ref.model_type is not None and isinstance(resource, Model) and resource.model_type != ref.model_type:
            raise BadRequestError(
                f"model '{identifier}' is of type {resource.model_type.value}; this endpoint "
                f"needs a model of type {ref.model_type}",
                param=ref.field,
            )
        if provider_resource_id != identifier:
            request = request.model_copy(update={ref.field: provider_resource_id})
        return provider, request


class Operation:
    """One operation of one API, called the one way, whether an HTTP endpoint or the server itself calls it
    (:meth:`ApiRouter.call`): the router picks the provider, the provider's method is called, the call is a span when
    the trace is recorded, and an inference call's token usage is metered whether it is recorded or not.

    A router's own method of the operation's name (an operation that also needs the registry or other providers) is
    called instead, traced the same way; it picks its provider itself (and names it on the span with
    :func:`serving`). With tracing off (no current span) it is just the routed call."""

    __slots__ = ("_api", "_meters_tokens", "_override", "_resource_field", "_router", "_span_name", "name", "route")

    def __init__(self, router: ApiRouter, route: Route) -> None:
        self._router = router
        self.route = route
        self.name = route.name
        self._override = getattr(router, route.name, None)
        self._resource_field = route.resource.field if route.resource is not None else None
        self._api = router.api.value
        self._span_name = f"{router.api.value}.{route.name}"
        self._meters_tokens = router.api is Api.inference and self._override is None

    async def call(self, request: BaseModel | None) -> Any:
        span = CURRENT.get()
        if span is None:  # tracing off
            if self._override is not None:
                return await self._override(request)
            provider, request = await self._router.route(self.route, request)
            return await provider_method(provider, self.name)(request)
        field = self._resource_field
        resource_id = getattr(request, field) if field is not None and request is not None else None
        if self._override is not None:
            provider, serve = None, self._override
        else:
            provider, request = await self._router.route(self.route, request)
            serve = provider_method(provider, self.name)
        if span.recording:
            return await self._recorded(span, provider, serve, request, resource_id)
        result = await serve(request)
        if self._meters_tokens:  # not recorded, but token usage still counts
            meter = span.tracer.tokens
            if type(result) is not bytes and hasattr(result, "__aiter__"):
                return observed_stream(result, None, meter, resource_id, provider.provider_id)
            meter_answer(meter, resource_id, provider.provider_id, result, None)
        return result

    async def _recorded(
        self,
        parent: SpanRecord,
        provider: ProviderInstance | None,
        serve: Any,
        request: BaseModel | None,
        resource_id: str | None,
    ) -> Any:
        """The call as a span under ``parent`` with the API, provider and resource (and, for inference, ``llm.*``
        token counts and time to first chunk); a stream's span ends with the stream."""
        attributes: dict[str, Any] = {"api": self._api}
        if provider is not None:
            attributes["provider.id"] = provider.provider_id
            attributes["provider.type"] = provider.provider_type
        if resource_id:
            attributes["resource.id"] = resource_id
        span = parent.child(self._span_name, attributes)
        tracer = span.tracer
        token = CURRENT.set(span)
        try:
            result = await serve(request)
        except BaseException as exc:
            span.fail(exc)
            tracer.finish(span)
            raise
        finally:
            CURRENT.reset(token)
        meter = tracer.tokens if self._meters_tokens else None
        if type(result) is not bytes and hasattr(result, "__aiter__"):
            provider_id = provider.provider_id if provider is not None else ""
            return observed_stream(result, span, meter, resource_id, provider_id)
        if meter is not None:
            meter_answer(meter, resource_id, provider.provider_id, result, span)
        tracer.finish(span)
        return result
