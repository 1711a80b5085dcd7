"""Configuration of ``remote::openai``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIConfig(OpenAICompatConfig):
    """OpenAI: the API base URL and an API key (or a per-request ``openai_api_key``)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="The OpenAI API base URL (or an Azure/proxy one).")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.OPENAI_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.OPENAI_API_KEY:=}"}
