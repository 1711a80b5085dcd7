"""Configuration of ``remote::fireworks``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::fireworks"
DEFAULT_BASE_URL = "https://api.fireworks.ai/inference/v1"


class FireworksConfig(OpenAICompatConfig):
    """Fireworks AI: its OpenAI-compatible base URL and an API key (or a per-request ``fireworks_api_key``)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="Fireworks' OpenAI-compatible base URL.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.FIREWORKS_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.FIREWORKS_API_KEY:=}"}
