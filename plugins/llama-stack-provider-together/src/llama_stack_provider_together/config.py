"""Configuration of ``remote::together``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::together"
DEFAULT_BASE_URL = "https://api.together.ai/v1"


class TogetherConfig(OpenAICompatConfig):
    """Together AI: its OpenAI-compatible base URL and an API key (or a per-request ``together_api_key``)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="Together's OpenAI-compatible base URL.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.TOGETHER_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.TOGETHER_API_KEY:=}"}
