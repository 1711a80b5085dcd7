"""Configuration of ``inline::llama-guard`` and the params a shield on it takes. Imported by plugin.py: pydantic and
the core only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .taxonomy import check_codes

PROVIDER_TYPE = "inline::llama-guard"


class LlamaGuardConfig(BaseModel):
    """Defaults for every shield on this provider; a shield's ``params`` may narrow them."""

    model_config = ConfigDict(extra="forbid")

    excluded_categories: list[str] = Field(
        default_factory=list,
        description="S-codes (S1..S14) left out of the policy the model is shown; verdicts naming only these pass.",
    )
    max_tokens: int = Field(default=20, ge=4, le=256, description="Token budget of a verdict ('unsafe\\nS1,S10').")

    @field_validator("excluded_categories")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        return check_codes(codes)

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"excluded_categories": []}


class ShieldParams(BaseModel):
    """A shield's ``params``: the model to classify with (else the shield's ``provider_shield_id``) and more excluded
    categories (added to the provider's)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, min_length=1, description="A registered model id (e.g. vllm/Llama-Guard-3-8B)."
    )
    excluded_categories: list[str] = Field(default_factory=list)

    @field_validator("excluded_categories")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        return check_codes(codes)
