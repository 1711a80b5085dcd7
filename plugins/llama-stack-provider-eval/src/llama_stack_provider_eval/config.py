"""Configuration of ``inline::builtin`` eval. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_core.storage import StoreConfig

PROVIDER_TYPE = "inline::builtin"


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persistence: StoreConfig = Field(
        default_factory=lambda: {"backend": "default", "namespace": "eval"},
        validate_default=True,
        description="Key-value store of the jobs (records, per-row generations, results): a backend named in "
        "storage.backends, or `default` for the registry's backend. Server processes sharing it see each other's jobs.",
    )
    generation_concurrency: int = Field(
        default=4, ge=1, le=256, description="Rows of one job generated at the same time."
    )
    resume_interrupted: bool = Field(
        default=True,
        description="A job whose server stopped mid-run (its heartbeat went stale) is resumed by the next server "
        "that sees it, skipping the rows already generated; false: it is marked failed.",
    )
    stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A running job whose server has not signalled for this long is taken as interrupted; a running "
        "server signals four times within it.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"persistence": {"backend": "default", "namespace": "eval"}}
