"""Configuration of ``remote::moderation``. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

PROVIDER_TYPE = "remote::moderation"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Key of ``X-LlamaStack-Provider-Data`` that carries a per-request API key.
PROVIDER_DATA_KEY = "moderation_api_key"


class ModerationConfig(BaseModel):
    """Where the moderation service is and the key it takes (or a per-request ``moderation_api_key``)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="Base URL of the service; POST {base_url}/moderations is called."
    )
    api_key: SecretStr | None = Field(default=None, description="Bearer key; a per-request key overrides it.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the service's answer.")

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, got '{value}'")
        return value

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {
            "base_url": f"${{env.MODERATION_BASE_URL:={DEFAULT_BASE_URL}}}",
            "api_key": "${env.MODERATION_API_KEY:=}",
        }
