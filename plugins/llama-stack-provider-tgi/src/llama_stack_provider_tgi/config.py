"""Configuration of ``remote::tgi``. Imported by plugin.py, so it stays light (pydantic and the core only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::tgi"


class TGIConfig(OpenAICompatConfig):
    """Where the TGI server is. A self-hosted TGI takes no key; a Hugging Face Inference Endpoint takes an HF token."""

    base_url: str = Field(
        default="http://localhost:8080",
        description="The TGI server's root URL (Messages API under /v1, GET /info at the root); "
        "a trailing /v1 is accepted and removed.",
    )
    refresh_models: bool = Field(
        default=True,
        description="Register the one model the server runs (GET /info's "
        "model_id) at start-up as <provider_id>/<model_id>.",
    )

    @field_validator("base_url")
    @classmethod
    def _server_root(cls, value: str) -> str:
        value = value.rstrip("/")
        return value[: -len("/v1")] if value.endswith("/v1") else value

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"base_url": "${env.TGI_URL:=http://localhost:8080}", "api_key": "${env.HF_TOKEN:=}"}
