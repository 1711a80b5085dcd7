"""Configuration of ``inline::basic``. Imported by plugin.py: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

PROVIDER_TYPE = "inline::basic"


class BasicScoringConfig(BaseModel):
    """Nothing to configure: the functions are pure Python and their params come with each registration."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {}
