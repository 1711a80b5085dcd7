"""Configuration of ``remote::nvidia``. Imported by plugin.py, so it stays light (pydantic and the core only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::nvidia"
HOSTED_BASE_URL = "https://integrate.api.nvidia.com/v1"


class NVIDIAConfig(OpenAICompatConfig):
    """NVIDIA's hosted NIM API (needs an ``nvapi-`` key) or a self-hosted NIM (no key)."""

    base_url: str = Field(
        default=HOSTED_BASE_URL,
        description="NIM's OpenAI-compatible base URL: NVIDIA's hosted "
        "API catalog, or http://<host>:8000/v1 for a self-hosted NIM.",
    )
    embedding_input_type: Literal["query", "passage"] = Field(
        default="query",
        description="input_type sent with embeddings that name none: 'query' for search queries, "
        "'passage' for documents (asymmetric NIM embedding models need it).",
    )
    embedding_truncate: Literal["NONE", "START", "END"] = Field(
        default="NONE",
        description="truncate sent with embeddings that name none: NONE refuses inputs longer than "
        "the model's limit, START/END cut tokens from that end.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {
            "base_url": "${env.NVIDIA_BASE_URL:=https://integrate.api.nvidia.com/v1}",
            "api_key": "${env.NVIDIA_API_KEY:=}",
        }
