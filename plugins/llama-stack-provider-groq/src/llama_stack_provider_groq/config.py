"""Configuration of ``remote::groq``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::groq"
DEFAULT_BASE_URL = "https://api.groq.com/openai/v1"


class GroqConfig(OpenAICompatConfig):
    """Groq: its OpenAI-compatible base URL and an API key (or a per-request ``groq_api_key``)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="Groq's OpenAI-compatible base URL.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.GROQ_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.GROQ_API_KEY:=}"}
