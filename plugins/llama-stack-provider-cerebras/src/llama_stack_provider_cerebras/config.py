"""Configuration of ``remote::cerebras``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::cerebras"
DEFAULT_BASE_URL = "https://api.cerebras.ai/v1"


class CerebrasConfig(OpenAICompatConfig):
    """Cerebras Inference: its OpenAI-compatible base URL and an API key (or a per-request ``cerebras_api_key``)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="Cerebras' OpenAI-compatible base URL.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.CEREBRAS_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.CEREBRAS_API_KEY:=}"}
