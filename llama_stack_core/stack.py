"""The Stack: providers instantiated from a run config, their routers, the registry, and the lifecycle.

Built once at start-up. Everything a request needs afterwards is in ``stack.routers`` (api -> ApiRouter).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from pydantic import ValidationError

from . import PROVIDER_API_VERSION, access
from .apis.resources import RegisterRequest, ResourceSource
from .apis.routes import Api
from .config.model import RunConfig
from .errors import ConfigError, StackError
from .inference.chat_store import ChatCompletionStore
from .plugins import PluginManager
from .provider_contracts import (
    RESOURCE_CONTRACTS,
    DrainsBackgroundWork,
    ListensToFileDeletions,
    ReportsHealth,
    ResourceContracts,
    ShutsDown,
    SpanExporter,
)
from .providers import missing_operations
from .redaction import redact, remember_secrets_in
from .registry import ResourceRegistry
from .resources import ResourceService
from .routers import router_class
from .routers.inference import InferenceRouter
from .routing import ApiRouter, ProviderInstance
from .storage import KVStore, open_kvstore
from .trace_sampling import Sampler
from .tracing import Tracer

log = logging.getLogger(__name__)

_CANCEL_GRACE = 1.0  # seconds a draining provider gets beyond its deadline to cancel what is left


async def _health(instance: ProviderInstance, timeout: float = 5.0) -> dict[str, Any]:
    """A provider's own ``health()`` answer, bounded in time; providers without one say Not Implemented."""
    if not isinstance(instance.impl, ReportsHealth):
        return {"status": "Not Implemented"}
    try:
        return dict(await asyncio.wait_for(instance.impl.health(), timeout))
    except Exception as exc:
        message = "timed out" if isinstance(exc, TimeoutError) else redact(str(exc), "message")
        return {"status": "Error", "message": message}


def _api(name: str, where: str) -> Api:
    try:
        return Api(name)
    except ValueError:
        raise ConfigError(f"{where}: unknown API '{name}' (known: {', '.join(a.value for a in Api)})") from None


class Stack:
    """``stop_timeout``: seconds each provider gets at stop to finish its background work, and again to shut down."""

    def __init__(self, config: RunConfig, pm: PluginManager, *, stop_timeout: float = 10.0) -> None:
        self.config = config
        self.pm = pm
        self.providers: dict[str, dict[str, ProviderInstance]] = {}
        self.routers: dict[Api, ApiRouter] = {}
        self.resources: ResourceService | None = None
        self._stores: list[KVStore] = []
        self._refresh_task: asyncio.Task[None] | None = None
        #: the stored chat completions (``inference_store:``), when on and inference is served
        self.chat_completions: ChatCompletionStore | None = None
        self.tracer = Tracer([])
        self.stop_timeout = stop_timeout

    @property
    def apis(self) -> list[Api]:
        """The APIs this stack serves (with providers)."""
        return list(self.routers)

    # -- start-up ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        enabled = self.config.enabled_providers()
        served = [_api(name, "apis") for name in self.config.apis] or [_api(n, "providers") for n in enabled]
        for api in served:
            if api.value not in enabled:
                raise ConfigError(f"apis lists '{api.value}' but no provider is configured for it")
        remember_secrets_in(self.config.storage)  # database passwords in DSNs
        access.configure(self.config.server.outbound, self.config.server.local_access)
        registry_store = await self.open_store("metadata")
        self.resources = ResourceService(ResourceRegistry(registry_store), self.providers, self.pm.hook)
        for api in self._dependency_order(served, enabled):
            await self._start_api(api, enabled[api.value])
        self._connect_file_deletions()
        await self._open_inference_store()
        self.tracer = self._tracer()
        self.tracer.start()
        for resource in await self.resources.registry.refresh():
            await self.resources.hydrate(resource)
        await self._register_declared_resources()
        await self._check_default_shield()
        await self._call_lifecycle_hook("startup")
        interval = self.config.server.registry_refresh_seconds
        self._refresh_task = asyncio.create_task(self._refresh_registry(interval), name="registry-refresh")

    def _tracer(self) -> Tracer:
        """The request tracer: exporting to every telemetry provider that takes spans, sampling as configured."""
        settings = self.config.telemetry
        exporters = [
            i.impl for i in self.providers.get(Api.telemetry.value, {}).values() if isinstance(i.impl, SpanExporter)
        ]
        return Tracer(
            exporters if settings.enabled else [],
            sampler=Sampler(settings.sample_ratio, settings.max_traces_per_second, burst=settings.max_traces_burst),
            record_failed_requests=settings.record_failed_requests,
            flush_every=settings.export_interval_seconds,
        )

    def _connect_file_deletions(self) -> None:
        """Vector stores drop a file's chunks as soon as the Files API deletes the file."""
        files = self.routers.get(Api.files)
        if files is None:
            return
        for instance in self.providers.get(Api.vector_io.value, {}).values():
            if isinstance(instance.impl, ListensToFileDeletions):
                files.deletion_listeners.append(instance.impl.file_deleted)

    async def _open_inference_store(self) -> None:
        """The inference store, on its ``storage`` store: ``inference_store.store`` if the config names such a
        store or backend, else the registry's backend in namespace ``inference_store``."""
        settings = self.config.inference_store
        router = self.routers.get(Api.inference)
        if not settings.enabled or not isinstance(router, InferenceRouter):
            return
        storage = self.config.storage
        if settings.store in storage.stores or settings.store in storage.backends:
            ref = storage.stores.get(settings.store)
            kv = await self.open_store(settings.store, None if ref and ref.namespace else "inference_store")
        else:
            kv = await self.open_store(storage.stores["metadata"].backend, "inference_store")
        self.chat_completions = ChatCompletionStore(kv, settings)
        self.chat_completions.start()
        router.use_store(self.chat_completions)

    async def open_store(self, store_name: str, namespace: str | None = None) -> KVStore:
        """Open a store named in ``storage.stores`` (or a backend by name) for the core or a provider."""
        storage = self.config.storage
        ref = storage.stores.get(store_name)
        backend_name = ref.backend if ref else store_name
        if backend_name not in storage.backends:
            raise ConfigError(f"storage: no store or backend named '{store_name}'")
        store = await open_kvstore(storage.backends[backend_name], namespace or (ref.namespace if ref else None))
        self._stores.append(store)
        return store

    def _dependency_order(self, served: list[Api], enabled: dict[str, Any]) -> list[Api]:
        graph: dict[Api, set[Api]] = {}
        for api in served:
            deps: set[Api] = set()
            for entry in enabled[api.value]:
                spec = self._spec(api, entry.provider_type).spec
                missing = [d.value for d in spec.api_dependencies if d not in served]
                if missing:
                    raise ConfigError(
                        f"provider {entry.provider_id} ({entry.provider_type}) needs the "
                        f"{', '.join(missing)} API, which this config does not serve"
                    )
                deps.update(d for d in (*spec.api_dependencies, *spec.optional_api_dependencies) if d in served)
            graph[api] = deps
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise ConfigError(f"provider API dependencies form a cycle: {exc.args[1]}") from None

    def _spec(self, api: Api, provider_type: str):
        registered = self.pm.provider_spec(api, provider_type)
        if registered is None:
            known = sorted(s.spec.provider_type for s in self.pm.provider_specs.values() if s.spec.api == api)
            broken = "".join(f"; plugin {name} failed to load ({why})" for name, why in self.pm.failed.items())
            raise ConfigError(
                f"no installed plugin provides {provider_type} for the {api.value} API "
                f"(installed: {', '.join(known) or 'none'}){broken}"
            )
        if not registered.spec.compatible:
            raise ConfigError(
                f"{registered.plugin.package or registered.plugin.name} provides {provider_type} built "
                f"for provider API version {registered.spec.core_api_version}, but this "
                f"llama-stack-core implements version {PROVIDER_API_VERSION}; upgrade one of them"
            )
        return registered

    async def _start_api(self, api: Api, entries: list[Any]) -> None:
        instances: dict[str, ProviderInstance] = {}
        for entry in entries:
            registered = self._spec(api, entry.provider_type)
            spec = registered.spec
            try:
                config = spec.config_class.model_validate(entry.config, context=self.config.validation_context())
            except ValidationError as exc:
                lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                raise ConfigError(
                    f"providers.{api.value} '{entry.provider_id}' config is invalid:\n" + "\n".join(lines)
                ) from None
            remember_secrets_in(config)  # masked in every message from now on (an upstream may echo them)
            deps = {
                dep: self.routers[dep]
                for dep in (*spec.api_dependencies, *spec.optional_api_dependencies)
                if dep in self.routers
            }
            try:
                factory = spec.load_factory()
            except ValueError as exc:
                raise ConfigError(
                    f"providers.{api.value} '{entry.provider_id}' ({entry.provider_type}): {exc}"
                ) from None
            impl = await spec.create(config, deps)
            missing = missing_operations(impl, spec)
            if missing:
                raise ConfigError(
                    f"providers.{api.value} '{entry.provider_id}' ({entry.provider_type}) does not implement the "
                    f"{api.value} API: its factory {factory.__qualname__} returned {type(impl).__name__}, which "
                    f"lacks {', '.join(missing)}"
                )
            instances[entry.provider_id] = ProviderInstance(
                api, entry.provider_id, entry.provider_type, registered, config, impl
            )
        self.providers[api.value] = instances
        self.routers[api] = router_class(api)(
            api, instances, self.resources, self.config.api_settings(api.value), peers=self.routers
        )

    async def _register_declared_resources(self) -> None:
        """Run-config resources, plugin defaults and provider-listed resources, in that order of precedence.

        One resource type at a time, in ``RESOURCE_KINDS`` order (a type refers only to types before it), so a
        resource of either origin may refer to one of the other (a run-config vector DB on a plugin's default
        embedding model, a plugin's default on a run-config model). Within a type the defaults and listed
        resources come first, and a run-config resource of the same id replaces them."""
        assert self.resources is not None
        try:
            requests = self.config.resource_requests()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        declared = {(resource_type, request.requested_id()) for resource_type, request in requests}
        for resource_type, contracts in RESOURCE_CONTRACTS.items():
            for instance in self.all_instances():
                await self._register_defaults(instance, contracts, declared)
            for request in (r for t, r in requests if t == resource_type):
                try:
                    await self.resources.register(resource_type, request, ResourceSource.run_config, replace=True)
                except StackError as exc:
                    raise ConfigError(
                        f"{resource_type} '{request.requested_id()}' from the run config: {exc.message}"
                    ) from None

    async def _check_default_shield(self) -> None:
        assert self.resources is not None
        shield_id = self.config.safety.default_shield_id
        if shield_id is not None and await self.resources.lookup("shield", shield_id) is None:
            raise ConfigError(f"safety.default_shield_id: shield '{shield_id}' is not registered")

    async def _register_defaults(
        self, instance: ProviderInstance, contracts: ResourceContracts, declared: set[tuple[str, str | None]]
    ) -> None:
        """A provider's plugin defaults and listed resources, except those the run config declares itself."""
        assert self.resources is not None
        resource_type, plural = contracts.resource_type, contracts.plural
        hook = getattr(self.pm.hook, f"register_{plural}")
        results = hook(provider_type=instance.provider_type, provider_id=instance.provider_id, config=instance.config)
        for request in (r for result in results for r in (result or ())):
            request = request.model_copy(update={"provider_id": instance.provider_id})
            if (resource_type, request.requested_id()) in declared:
                continue
            existing = await self.resources.registry.find(resource_type, request.requested_id() or "")
            if existing is None or existing.origin == ResourceSource.plugin_default:
                await self.resources.register(resource_type, request, ResourceSource.plugin_default, replace=True)
        discover = contracts.discover_method(instance.impl)
        if discover is not None:
            try:
                listed: list[RegisterRequest] = await discover()
            except Exception as exc:  # an unreachable upstream must not stop the stack; keep what was listed before
                log.warning("provider %s could not list its %s: %s", instance.provider_id, plural, exc)
                return
            await self.resources.sync_listed(instance, resource_type, listed)

    async def _refresh_registry(self, interval: float) -> None:
        assert self.resources is not None
        while True:
            await asyncio.sleep(interval)
            try:
                for resource in await self.resources.registry.refresh():
                    await self.resources.hydrate(resource)
            except Exception as exc:  # keep serving on a transient store error
                log.warning("registry refresh failed: %s", exc)

    # -- shut-down -----------------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the registry refresh and the tracer, call the ``shutdown`` hooks, then stop each provider in reverse
        start order (a provider before the APIs it depends on, so vector_io's ingestion can still embed while it
        drains), and close the core's stores. No provider step holds the stop up beyond its bound."""
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
        await self.tracer.stop()
        await self._call_lifecycle_hook("shutdown")
        for instance in reversed(self.all_instances()):
            await self._stop_provider(instance)
        if self.chat_completions is not None:  # after the providers: their background work may still have chatted
            await self.chat_completions.drain(self.stop_timeout)
        for store in self._stores:
            await store.close()

    async def _stop_provider(self, instance: ProviderInstance) -> None:
        """Drain the provider's background work (``stop_timeout`` to finish, a moment more to cancel the rest), then
        shut it down (``stop_timeout``); a step that fails or overruns is logged and the stop goes on."""
        impl = instance.impl
        if isinstance(impl, DrainsBackgroundWork):
            await self._bounded(
                instance, "drain", lambda: impl.drain(self.stop_timeout), self.stop_timeout + _CANCEL_GRACE
            )
        if isinstance(impl, ShutsDown):
            await self._bounded(instance, "shutdown", impl.shutdown, self.stop_timeout)

    @staticmethod
    async def _bounded(
        instance: ProviderInstance, step: str, step_call: Callable[[], Awaitable[Any]], timeout: float
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                await step_call()
        except TimeoutError:
            log.error(
                "provider %s: %s did not finish within %.1f s; stopping anyway", instance.provider_id, step, timeout
            )
        except Exception:
            log.exception("provider %s: %s failed", instance.provider_id, step)

    async def _call_lifecycle_hook(self, name: str) -> None:
        for result in getattr(self.pm.hook, name)(stack=self):
            if inspect.isawaitable(result):
                await result

    # -- introspection -------------------------------------------------------------------------------------------

    async def provider_info(self, instance: ProviderInstance) -> dict[str, Any]:
        return {
            "api": instance.api.value,
            "provider_id": instance.provider_id,
            "provider_type": instance.provider_type,
            "config": redact(instance.config),
            "health": await _health(instance),
            "package": instance.registered.plugin.package,
            "version": instance.registered.plugin.version,
        }

    def all_instances(self) -> list[ProviderInstance]:
        return [i for instances in self.providers.values() for i in instances.values()]
