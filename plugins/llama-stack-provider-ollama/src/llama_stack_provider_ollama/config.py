"""Configuration of ``remote::ollama``. Imported by plugin.py, so it stays light (pydantic and the core only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::ollama"


class OllamaConfig(OpenAICompatConfig):
    """Where the Ollama server is. Ollama takes no API key; ``api_key`` is only for a proxy in front of it."""

    base_url: str = Field(
        default="http://localhost:11434",
        description="The Ollama server's root URL (its OpenAI-compatible API is under /v1, its "
        "native API under /api); a trailing /v1 is accepted and removed.",
    )

    @field_validator("base_url")
    @classmethod
    def _server_root(cls, value: str) -> str:
        value = value.rstrip("/")
        return value[: -len("/v1")] if value.endswith("/v1") else value

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {
            "base_url": "${env.OLLAMA_URL:=http://localhost:11434}",
            "refresh_models": "${env.OLLAMA_REFRESH_MODELS:=false}",
        }
