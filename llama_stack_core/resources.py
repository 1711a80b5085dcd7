"""Registering and unregistering resources: provider choice, validation, provider hooks, persistence."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .access import check_uri, check_url
from .apis.resources import (
    RESOURCE_KINDS,
    Dataset,
    RegisterDatasetRequest,
    RegisterRequest,
    Resource,
    ResourceKind,
    ResourceSource,
    ToolGroup,
    URIDataSource,
)
from .errors import BadRequestError, ConflictError, NotConfiguredError, ResourceNotFoundError, UnprocessableError
from .owners import Action, authorize, authorize_create, current_owner, may
from .provider_contracts import RESOURCE_CONTRACTS, ReadsDatasetSources
from .registry import ResourceRegistry

if TYPE_CHECKING:
    from pluggy import HookRelay

    from .routing import ProviderInstance

log = logging.getLogger(__name__)


def _referenced_ids(fields: Resource | dict[str, Any], field: str) -> list[str]:
    value = fields.get(field) if isinstance(fields, dict) else getattr(fields, field, None)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


async def _check_locations(resource: Resource) -> None:
    """A dataset's URI and a tool group's MCP endpoint reach only what ``server.outbound`` and
    ``server.local_access`` allow (400)."""
    if isinstance(resource, Dataset) and isinstance(resource.source, URIDataSource):
        await check_uri(resource.source.uri, "source.uri", "source")
    elif isinstance(resource, ToolGroup) and resource.mcp_endpoint is not None:
        await check_url(resource.mcp_endpoint.uri, "mcp_endpoint.uri", "mcp_endpoint")


async def _dataset_reader(configured: dict[str, ProviderInstance], request: RegisterDatasetRequest) -> str:
    """The first datasetio provider that reads the dataset's source (:class:`ReadsDatasetSources`)."""
    for provider_id, instance in configured.items():
        if isinstance(instance.impl, ReadsDatasetSources) and await instance.impl.reads_dataset_source(request.source):
            return provider_id
    source = request.source
    what = f"'{source.uri}'" if isinstance(source, URIDataSource) else "inline rows"
    raise BadRequestError(
        f"no datasetio provider here reads {what}; name one with provider_id ({', '.join(configured)})",
        param="provider_id",
    )


class ResourceService:
    """The one place resources are created and removed. Providers see ``register_<type>``/``unregister_<type>``."""

    def __init__(
        self, registry: ResourceRegistry, providers: dict[str, dict[str, ProviderInstance]], hooks: HookRelay
    ) -> None:
        self.registry = registry
        self._providers = providers  # api -> provider_id -> instance
        self._hooks = hooks  # the plugins' hooks (validate_<type>)

    # -- lookups used by routing -----------------------------------------------------------------------------------

    async def lookup(self, resource_type: str, identifier: str) -> Resource | None:
        """The resource, if it exists and the caller may read it (with auth on)."""
        resource = self.registry.cached(resource_type, identifier)
        if resource is None:
            resource = await self.registry.find(resource_type, identifier)
            if resource is not None:
                await self.hydrate(resource)
        if resource is not None and not may(Action.read, resource_type, identifier, resource.owner):
            return None
        return resource

    async def get(self, resource_type: str, identifier: str, action: Action = Action.read) -> Resource:
        """The resource from the store, if the caller may do ``action`` to it: else 404 (or 403, see
        :func:`~llama_stack_core.owners.authorize`)."""
        resource = await self.registry.get(resource_type, identifier)
        authorize(
            action,
            resource_type,
            identifier,
            resource.owner,
            lambda: ResourceNotFoundError(RESOURCE_KINDS[resource_type].title, identifier),
        )
        return resource

    def on_provider(self, resource_type: str, provider_id: str, name: str) -> Resource | None:
        for resource in self.registry.cached_all(resource_type):
            if resource.provider_id == provider_id and name in (resource.identifier, resource.provider_resource_id):
                return resource
        return None

    def _instance(self, resource: Resource) -> ProviderInstance | None:
        return self._providers.get(RESOURCE_KINDS[resource.type].api.value, {}).get(resource.provider_id)

    async def hydrate(self, resource: Resource) -> None:
        """Tell a resource's provider about it (a resource stored earlier or by another process)."""
        instance = self._instance(resource)
        hook = RESOURCE_CONTRACTS[resource.type].register_method(instance.impl) if instance else None
        if hook is None:
            return
        try:
            await hook(resource)
        except Exception as exc:  # a bad stored resource must not stop the server
            log.warning(
                "provider %s could not load %s '%s': %s", resource.provider_id, resource.type, resource.identifier, exc
            )

    # -- register ------------------------------------------------------------------------------------------------

    async def _pick_provider(self, kind: ResourceKind, request: RegisterRequest) -> str:
        configured = self._providers.get(kind.api.value, {})
        if not configured:
            raise NotConfiguredError(f"cannot register a {kind.type}: no {kind.api.value} provider is configured")
        provider_id = request.provider_id or (getattr(request, "metadata", None) or {}).get("provider_id")
        if provider_id:
            if provider_id not in configured:
                raise BadRequestError(
                    f"unknown provider_id '{provider_id}' for {kind.api.value}; configured: {', '.join(configured)}",
                    param="provider_id",
                )
            return provider_id
        if len(configured) > 1 and isinstance(request, RegisterDatasetRequest):
            return await _dataset_reader(configured, request)
        if len(configured) > 1:
            raise BadRequestError(
                f"provider_id is required: {len(configured)} {kind.api.value} providers are "
                f"configured ({', '.join(configured)})",
                param="provider_id",
            )
        return next(iter(configured))

    async def build(self, resource_type: str, request: RegisterRequest, origin: ResourceSource) -> Resource:
        """Turn a register request into a validated resource (nothing stored yet)."""
        kind = RESOURCE_KINDS[resource_type]
        provider_id = await self._pick_provider(kind, request)
        identifier = request.requested_id() or f"{kind.type}-{uuid.uuid4()}"
        owner = current_owner() if origin == ResourceSource.via_register_api else None
        fields: dict[str, Any] = request.resource_fields()
        await self._check_references(kind, fields)
        if kind.type == "vector_db" and fields.get("embedding_dimension") is None:
            model = await self.lookup("model", fields["embedding_model"])
            fields["embedding_dimension"] = (model.metadata if model else {}).get("embedding_dimension")
            if fields["embedding_dimension"] is None:
                kind_of = f"of type {model.model_type}" if model else "not registered"
                raise BadRequestError(
                    f"embedding_model '{fields['embedding_model']}' is {kind_of}: name an embedding model (or give "
                    "embedding_dimension)",
                    param="embedding_model",
                )
        try:
            resource = kind.model(
                identifier=identifier,
                provider_id=provider_id,
                origin=origin,
                owner=owner,
                provider_resource_id=request.provider_resource_id() or identifier,
                **fields,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UnprocessableError(
                f"invalid {kind.type}: {first['msg']}", param=".".join(map(str, first["loc"]))
            ) from None
        await _check_locations(resource)
        try:
            getattr(self._hooks, f"validate_{kind.type}")(**{kind.type: resource})
        except ValueError as exc:
            raise BadRequestError(f"{kind.type} '{identifier}' refused: {exc}") from None
        return resource

    async def _check_references(self, kind: ResourceKind, fields: dict[str, Any]) -> None:
        for field, target_type in kind.references:
            for target in _referenced_ids(fields, field):
                if await self.lookup(target_type, target) is None:
                    raise BadRequestError(
                        f"{field}: {RESOURCE_KINDS[target_type].title} '{target}' is not registered", param=field
                    )

    async def register(
        self,
        resource_type: str,
        request: RegisterRequest,
        origin: ResourceSource = ResourceSource.via_register_api,
        *,
        replace: bool = False,
    ) -> Resource:
        """Validate, let the provider prepare it, then store it (409 if it exists, unless ``replace``). With auth on
        the caller becomes its owner."""
        authorize_create(resource_type, request.requested_id() or "")
        resource = await self.build(resource_type, request, origin)
        if not replace and await self.registry.find(resource_type, resource.identifier) is not None:
            raise ConflictError(f"{RESOURCE_KINDS[resource_type].title} '{resource.identifier}' already exists")
        instance = self._instance(resource)
        hook = RESOURCE_CONTRACTS[resource_type].register_method(instance.impl) if instance else None
        if hook is not None:
            try:
                await hook(resource)
            except ValueError as exc:  # the documented way for a provider to refuse, like the validate_ hooks
                raise BadRequestError(f"{resource_type} '{resource.identifier}' refused: {exc}") from None
        if replace:
            return await self.registry.put(resource)
        try:
            return await self.registry.add(resource)
        except ConflictError:
            await self._provider_unregister(resource)
            raise

    # -- unregister ----------------------------------------------------------------------------------------------

    async def unregister(self, resource_type: str, identifier: str) -> Resource:
        resource = await self.get(resource_type, identifier, Action.delete)
        await self._check_not_in_use(resource)
        await self._provider_unregister(resource)
        await self.registry.remove(resource_type, identifier)
        return resource

    async def _check_not_in_use(self, resource: Resource) -> None:
        for kind in RESOURCE_KINDS.values():
            for field, target_type in kind.references:
                if target_type != resource.type:
                    continue
                for other in await self.registry.list(kind.type):
                    if resource.identifier in _referenced_ids(other, field):
                        raise ConflictError(
                            f"{RESOURCE_KINDS[resource.type].title} '{resource.identifier}' is in "
                            f"use by {kind.type} '{other.identifier}'"
                        )

    async def _provider_unregister(self, resource: Resource) -> None:
        instance = self._instance(resource)
        hook = RESOURCE_CONTRACTS[resource.type].unregister_method(instance.impl) if instance else None
        if hook is not None:
            await hook(resource)

    # -- start-up ------------------------------------------------------------------------------------------------

    async def sync_listed(
        self, instance: ProviderInstance, resource_type: str, requests: list[RegisterRequest]
    ) -> list[Resource]:
        """Make the resources a provider lists the current set of that provider's listed resources."""
        listed = []
        for request in requests:
            name = request.requested_id() or ""
            request = request.model_copy(
                update={
                    "provider_id": instance.provider_id,
                    request.id_field: f"{instance.provider_id}/{name}",
                    request.provider_id_field: request.provider_resource_id() or name,
                }
            )
            existing = await self.registry.find(resource_type, request.requested_id() or "")
            if existing is not None and existing.origin != ResourceSource.listed_from_provider:
                continue  # registered by a user or the run config: theirs wins
            listed.append(
                await self.register(resource_type, request, ResourceSource.listed_from_provider, replace=True)
            )
        keep = {r.identifier for r in listed}
        for stale in await self.registry.list(resource_type):
            if (
                stale.provider_id == instance.provider_id
                and stale.origin == ResourceSource.listed_from_provider
                and stale.identifier not in keep
            ):
                await self.registry.remove(resource_type, stale.identifier)
        return listed
