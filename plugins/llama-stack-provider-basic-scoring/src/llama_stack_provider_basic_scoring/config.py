"""Configuration of ``inline::basic``. Imported by plugin.py: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROVIDER_TYPE = "inline::basic"


class BasicScoringConfig(BaseModel):
    """Limits only: the functions are pure Python and their params come with each registration."""

    model_config = ConfigDict(extra="forbid")

    regex_timeout_ms: int = Field(
        default=250,
        ge=1,
        le=60_000,
        description="Time one parsing-regex search may take on one row; a row that runs over is an error row.",
    )
    thread_min_rows: int = Field(
        default=1000,
        ge=1,
        description="A request of at least this many rows is scored in a worker thread, so the server keeps "
        "answering other requests meanwhile.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {}
