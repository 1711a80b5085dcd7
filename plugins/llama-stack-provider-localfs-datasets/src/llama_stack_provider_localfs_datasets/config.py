"""Configuration of ``inline::localfs`` (datasetio). Imported by plugin.py, so it stays light: pydantic and the
standard library."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_core.storage import StoreConfig

PROVIDER_TYPE = "inline::localfs"
DEFAULT_NAMESPACE = "datasetio"


class LocalFSDatasetsConfig(BaseModel):
    """Where appended rows live, and how much of the source files is kept parsed in memory."""

    model_config = ConfigDict(extra="forbid")

    persistence: StoreConfig = Field(
        default_factory=lambda: {"backend": "default", "namespace": DEFAULT_NAMESPACE},
        validate_default=True,
        description="Key-value store for dataset records and appended rows: a backend named in storage.backends, or "
        "`default` for the registry's backend. Several server processes share appended rows by sharing it.",
    )
    cache_max_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="Parsed source rows kept in memory (least recently used files dropped first), so paging a file "
        "parses it once. The file being read is kept even when it alone is larger.",
    )
    max_source_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Largest source file read; a larger one is refused with 400."
    )
    max_append_rows: int = Field(default=10_000, ge=1, description="Most rows one append-rows request may carry.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {"persistence": {"backend": "default", "namespace": DEFAULT_NAMESPACE}}
