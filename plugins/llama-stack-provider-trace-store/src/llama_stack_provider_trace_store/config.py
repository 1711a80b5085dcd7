"""Configuration of ``inline::trace-store``. Imported by plugin.py, so it stays light: pydantic and the core's config."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_core.storage import StoreConfig

PROVIDER_TYPE = "inline::trace-store"
DEFAULT_NAMESPACE = "telemetry"
DEFAULT_SKIP_PATHS = ("/v1/telemetry", "/v1/health")


class TraceStoreConfig(BaseModel):
    """Where spans, events and metric aggregates are kept, and for how long."""

    model_config = ConfigDict(extra="forbid")

    persistence: StoreConfig = Field(
        default_factory=lambda: {"backend": "default", "namespace": DEFAULT_NAMESPACE},
        validate_default=True,
        description="The SQL backend: a backend named in storage.backends, or `default` for the registry's backend "
        "(SQLite file or PostgreSQL). The namespace prefixes the table names (`<namespace>_spans`, ...).",
    )
    retention_days: float = Field(
        default=7,
        gt=0,
        description="Traces that started longer ago are deleted, with their spans, events and metric aggregates.",
    )
    max_spans: int = Field(
        default=1_000_000, ge=1, description="Most spans kept; the oldest whole traces are deleted beyond it."
    )
    retention_interval_seconds: float = Field(
        default=600, gt=0, description="How often retention is enforced (also once at start-up)."
    )
    flush_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Longest time a span or event waits in "
        "memory before it is written (writes are batched, off the request path).",
    )
    batch_size: int = Field(default=2000, ge=1, description="Most spans and events written in one transaction.")
    max_queue: int = Field(
        default=100_000,
        ge=1,
        description="Spans and events waiting to be written; beyond it new "
        "ones are dropped (and counted in the provider's health).",
    )
    skip_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SKIP_PATHS),
        description="Requests whose path starts with one of these are not kept (their root span and its descendants): "
        "by default the Telemetry API itself (queries of this store, `stack traces`) and health probes. [] keeps all.",
    )
    pool_max_size: int = Field(default=4, ge=1, le=100, description="PostgreSQL: most pooled connections.")

    @property
    def table_prefix(self) -> str:
        """The namespace as a SQL identifier prefix (lowercase letters, digits, underscores)."""
        prefix = re.sub(r"[^a-z0-9_]", "_", self.persistence.namespace.lower())[:40]
        return prefix if prefix[:1].isalpha() or prefix[:1] == "_" else f"t_{prefix}"

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "persistence": {"backend": "default", "namespace": DEFAULT_NAMESPACE},
            "retention_days": "${env.TRACE_STORE_RETENTION_DAYS:=7}",
            "max_spans": "${env.TRACE_STORE_MAX_SPANS:=1000000}",
        }
