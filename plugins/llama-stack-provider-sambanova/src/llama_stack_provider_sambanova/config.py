"""Configuration of ``remote::sambanova``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::sambanova"
DEFAULT_BASE_URL = "https://api.sambanova.ai/v1"


class SambaNovaConfig(OpenAICompatConfig):
    """SambaNova (SambaCloud, or a SambaStack URL): the base URL and an API key (or a per-request
    ``sambanova_api_key``)."""

    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="SambaCloud's OpenAI-compatible base URL, or your SambaStack one."
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": f"${{env.SAMBANOVA_BASE_URL:={DEFAULT_BASE_URL}}}", "api_key": "${env.SAMBANOVA_API_KEY:=}"}
