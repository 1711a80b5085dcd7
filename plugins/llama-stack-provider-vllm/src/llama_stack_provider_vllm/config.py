"""Configuration of ``remote::vllm``. Imported by plugin.py, so it stays light (pydantic and the core only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::vllm"


class VLLMConfig(OpenAICompatConfig):
    """Where the vLLM server is (``vllm serve ... --api-key K`` makes the key required)."""

    base_url: str = Field(
        default="http://localhost:8000/v1", description="The vLLM server's OpenAI-compatible base URL, ending in /v1."
    )
    refresh_models: bool = Field(
        default=True,
        description="Register the models the server lists (GET /v1/models) at start-up as <provider_id>/<model>.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": "${env.VLLM_URL:=http://localhost:8000/v1}", "api_key": "${env.VLLM_API_TOKEN:=}"}
