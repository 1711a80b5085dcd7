"""Configuration of ``inline::llm-as-judge``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROVIDER_TYPE = "inline::llm-as-judge"


class LlmAsJudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_judge_model: str | None = Field(
        default=None,
        min_length=1,
        description="The judge of the plugin's default functions (llm-as-judge::base, llm-as-judge::405b-simpleqa) "
        "when a score request names none; must be a registered llm model. Unset: each request's params name it.",
    )
    max_concurrent_judgements: int = Field(
        default=4, ge=1, le=256, description="Judge calls in flight at once on this provider, over all requests."
    )
    max_tokens: int = Field(
        default=512, ge=1, description="Token budget of a verdict, unless a function's params set max_tokens."
    )
    judge_timeout_seconds: float = Field(
        default=120, gt=0, description="How long one judge call may take; a row whose judge overruns is an error row."
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {
            "default_judge_model": "${env.JUDGE_MODEL:=}",
            "max_concurrent_judgements": "${env.JUDGE_MAX_CONCURRENCY:=4}",
        }
