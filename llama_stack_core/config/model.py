"""The run config model. Its shape follows upstream Llama Stack's ``run.yaml`` so upstream configs need few edits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from ..apis.resources import RESOURCE_KINDS, RegisterRequest
from ..auth.config import AuthConfig
from ..quota.config import QuotaConfig
from ..storage import StorageBackend, StorageConfig, StoreConfig, StoreRef
from ..trace_sampling import settings_from_otel_environment
from .hardening import CorsSettings, LimitSettings, LocalAccessSettings, OutboundSettings

DISABLED_PROVIDER_ID = "__disabled__"

#: The storage types live in ``llama_stack_core.storage``; plugins written against 0.1.0 import them from here.
__all__ = [
    "InferenceStoreSettings",
    "ProviderConfig",
    "RunConfig",
    "ServerConfig",
    "StorageBackend",
    "StorageConfig",
    "StoreConfig",
    "StoreRef",
    "TelemetryConfig",
]


class ProviderConfig(BaseModel):
    """One provider instance: ``{provider_id, provider_type, config}``."""

    model_config = ConfigDict(extra="forbid")

    provider_id: str | None = Field(description="Empty or '__disabled__' switches the provider off.")
    provider_type: str = Field(pattern=r"^(inline|remote)::[A-Za-z0-9_.\-]+$")
    config: dict[str, Any] = Field(default_factory=dict)
    module: str | None = Field(
        default=None, description="Accepted for upstream compatibility; plugins load by entry point."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.provider_id) and self.provider_id != DISABLED_PROVIDER_ID


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "0.0.0.0"
    port: int = Field(default=8321, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_client_ca: str | None = Field(
        default=None, description="CA bundle (PEM) client certificates must be signed by: mutual TLS, no cert no call."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    local_access: LocalAccessSettings = Field(default_factory=LocalAccessSettings)
    registry_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often a process re-reads registrations made by other processes."
    )
    auth: AuthConfig | None = Field(default=None, description="Who may call the server; none: anyone who can reach it.")
    quota: QuotaConfig | None = Field(
        default=None, description="Request and token budgets per user, team and client address; none: no budgets."
    )


class TelemetryConfig(BaseModel):
    """Request tracing: whether spans are recorded and how many (exporting them is the telemetry providers' job)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="false: record no spans even with a telemetry provider configured (its query API still answers).",
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces considered for "
        "recording (a request with a `traceparent` header follows the caller's decision).",
    )
    max_traces_per_second: float | None = Field(
        default=10.0,
        ge=0.0,
        description="Most new traces recorded per second and process over time; null: no "
        "limit. Bounds the cost of tracing at high load.",
    )
    max_traces_burst: int = Field(
        default=100,
        ge=1,
        description="Most new traces recorded at once after a quiet spell (the sampler's token "
        "bucket holds this many): a test run or a burst of requests is recorded whole, while a steady load is "
        "recorded at max_traces_per_second.",
    )
    record_failed_requests: bool = Field(
        default=True,
        description="Keep the request span of a request that was not sampled but failed with a server error (5xx).",
    )
    export_interval_seconds: float = Field(
        default=0.5,
        gt=0.0,
        description="How often finished spans and the token "
        "usage sums are handed to the telemetry providers (sooner when 512 spans "
        "are waiting).",
    )

    @model_validator(mode="before")
    @classmethod
    def _otel_sampler(cls, data: Any) -> Any:
        """``OTEL_TRACES_SAMPLER`` (and ``_ARG``) choose the sampling when the run config sets none (neither
        ``sample_ratio`` nor ``max_traces_per_second``)."""
        if not isinstance(data, dict) or "sample_ratio" in data or "max_traces_per_second" in data:
            return data
        return {**data, **settings_from_otel_environment(os.environ)}


class SafetySettings(BaseModel):
    """The ``safety:`` section."""

    model_config = ConfigDict(extra="forbid")
    default_shield_id: str | None = Field(
        default=None, min_length=1, description="The shield /v1/moderations uses when the request names no model."
    )


class ToolRuntimeSettings(BaseModel):
    """The ``tool_runtime:`` section: how tool calls are bounded (a tool group's ``limits`` override these)."""

    model_config = ConfigDict(extra="forbid")
    invocation_timeout_seconds: float = Field(default=30.0, gt=0, description="Per call, waiting for a slot included.")
    max_result_bytes: int = Field(default=1_000_000, gt=0, description="Largest tool result accepted, as JSON.")
    max_concurrent_invocations: int = Field(default=8, ge=1, description="Calls running at once per tool group.")
    tool_list_ttl_seconds: float = Field(default=60.0, ge=0, description="How long a group's tool list is reused.")


class InferenceStoreSettings(BaseModel):
    """The ``inference_store:`` section: every chat completion the stack answers is stored with its input messages
    (``GET /v1/chat/completions``), written in batches off the request path."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="false: store nothing; the list is empty and costs nothing.")
    store: str = Field(
        default="inference",
        min_length=1,
        description="A `storage.stores` entry (or a backend) to keep them in; when no store or backend has this "
        "name, the registry's backend in namespace `inference_store`.",
    )
    max_write_queue: int = Field(
        default=10_000,
        ge=1,
        description="Most completions waiting to be written; beyond it new ones are dropped (and logged) rather "
        "than slow the answers down.",
    )
    flush_interval_seconds: float = Field(
        default=0.2, gt=0, description="Longest a completion waits before its batch is written."
    )
    batch_size: int = Field(default=256, ge=1, description="A batch is written as soon as it holds this many.")


class LegacyMetadataStore(BaseModel):
    """Upstream's older ``metadata_store:`` (a KV backend for the registry)."""

    model_config = ConfigDict(extra="forbid")
    type: str = "sqlite"
    db_path: str | None = None
    namespace: str | None = None
    host: str | None = None
    port: int | None = None
    db: str | None = None
    user: str | None = None
    password: SecretStr | None = None


class RunConfig(BaseModel):
    """A whole stack: providers per API, storage, resources to register at start-up, server settings. Every key is
    known: an unknown one is an error (``config.strict`` lists the upstream keys accepted and ignored)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: int | str = 2
    distro_name: str = Field(default="custom", validation_alias=AliasChoices("distro_name", "image_name"))
    apis: list[str] = Field(default_factory=list, description="APIs to serve; empty means every API with a provider.")
    providers: dict[str, list[ProviderConfig]] = Field(default_factory=dict)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    metadata_store: LegacyMetadataStore | None = Field(
        default=None, description="Older upstream form of the registry store."
    )
    models: list[dict[str, Any]] = Field(default_factory=list)
    shields: list[dict[str, Any]] = Field(default_factory=list)
    vector_dbs: list[dict[str, Any]] = Field(default_factory=list)
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    scoring_fns: list[dict[str, Any]] = Field(default_factory=list)
    benchmarks: list[dict[str, Any]] = Field(default_factory=list)
    tool_groups: list[dict[str, Any]] = Field(default_factory=list)
    registered_resources: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    server: ServerConfig = Field(default_factory=ServerConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    tool_runtime: ToolRuntimeSettings = Field(default_factory=ToolRuntimeSettings)
    inference_store: InferenceStoreSettings = Field(default_factory=InferenceStoreSettings)
    _ignored_keys: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _normalise(self) -> RunConfig:
        for kind in RESOURCE_KINDS.values():
            getattr(self, kind.plural).extend(self.registered_resources.get(kind.plural, []))
        self.registered_resources = {}
        if "metadata" not in self.storage.stores:
            self._add_registry_store()
        self._check_quota_store()
        for api, entries in self.providers.items():
            ids = [p.provider_id for p in entries if p.enabled]
            if len(ids) != len(set(ids)):
                raise ValueError(f"providers.{api}: provider_id values must be unique")
        return self

    def _add_registry_store(self) -> None:
        legacy = self.metadata_store or LegacyMetadataStore()
        if legacy.type == "postgres":
            fields = legacy.model_dump(exclude={"type", "db_path", "namespace"}, exclude_none=True)
            backend = StorageBackend(**fields, type="kv_postgres")
        else:
            default_path = Path("~/.llama/distributions") / self.distro_name / "registry.db"
            backend = StorageBackend(type="kv_sqlite", db_path=legacy.db_path or str(default_path))
        self.storage.backends.setdefault("registry_default", backend)
        self.storage.stores["metadata"] = StoreRef(backend="registry_default", namespace="registry")

    def _check_quota_store(self) -> None:
        quota = self.server.quota
        name = getattr(quota.kvstore, "backend", quota.kvstore) if quota is not None else None
        if name is None:
            return
        known = name in self.storage.backends or (isinstance(quota.kvstore, str) and name in self.storage.stores)
        if not known:
            raise ValueError(f"server.quota.kvstore: no storage store or backend named '{name}'")

    def enabled_providers(self) -> dict[str, list[ProviderConfig]]:
        """Providers that are switched on, by API."""
        enabled = {api: [p for p in entries if p.enabled] for api, entries in self.providers.items()}
        return {api: entries for api, entries in enabled.items() if entries}

    def resource_requests(self) -> list[tuple[str, RegisterRequest]]:
        """The resources declared in the config as ``(resource type, register request)``, validated."""
        requests = []
        for kind in RESOURCE_KINDS.values():
            for i, entry in enumerate(getattr(self, kind.plural)):
                try:
                    requests.append((kind.type, kind.register_request.model_validate(entry)))
                except ValueError as exc:
                    raise ValueError(f"{kind.plural}[{i}]: {exc}") from exc
        return requests

    def validation_context(self) -> dict[str, Any]:
        """What provider configs are validated with: named storage backends for ``StoreConfig`` fields."""
        metadata = self.storage.stores["metadata"].backend
        return {"storage_backends": self.storage.backends, "default": self.storage.backends[metadata]}

    def api_settings(self, api: str) -> BaseModel | None:
        """The section of settings an API's router reads, if it has one."""
        return {"safety": self.safety, "tool_runtime": self.tool_runtime}.get(api)

    def ignored_keys(self) -> list[str]:
        """The accepted upstream no-op keys this config set (dotted paths), for a warning each."""
        return list(self._ignored_keys)

    def set_ignored_keys(self, keys: list[str]) -> None:
        self._ignored_keys = list(keys)
