"""Configuration of ``remote::tavily-search`` and ``remote::brave-search``. Imported by plugin.py: pydantic only."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TAVILY_PROVIDER_TYPE = "remote::tavily-search"
BRAVE_PROVIDER_TYPE = "remote::brave-search"
TAVILY_BASE_URL = "https://api.tavily.com"
BRAVE_BASE_URL = "https://api.search.brave.com/res/v1"
#: The most results either vendor returns for one query.
MAX_RESULTS_LIMIT = 20


class WebSearchConfig(BaseModel):
    """What both vendors share: where to send the search, the key, and how many results by default."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The vendor's API base URL (override it for a proxy or a test server).")
    api_key: SecretStr | None = Field(
        default=None, description="API key; a per-request key in X-LlamaStack-Provider-Data takes precedence."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the vendor's answer.")
    max_results: int = Field(
        default=5, ge=1, le=MAX_RESULTS_LIMIT, description="Results per search when the caller does not say."
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class TavilySearchConfig(WebSearchConfig):
    """Tavily's search API (``POST /search``, ``Authorization: Bearer <key>``)."""

    base_url: str = Field(default=TAVILY_BASE_URL, description="Tavily's API base URL.")
    search_depth: Literal["basic", "advanced"] = Field(
        default="basic", description="Tavily's search depth ('advanced' costs two credits a search)."
    )
    include_answer: bool = Field(default=False, description="Ask Tavily for a short generated answer as well.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"api_key": "${env.TAVILY_SEARCH_API_KEY:=}"}


class BraveSearchConfig(WebSearchConfig):
    """Brave's Web Search API (``GET /web/search``, ``X-Subscription-Token: <key>``)."""

    base_url: str = Field(default=BRAVE_BASE_URL, description="Brave Search API base URL, ending in /res/v1.")
    safesearch: Literal["off", "moderate", "strict"] = Field(default="moderate", description="Brave's safesearch.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"api_key": "${env.BRAVE_SEARCH_API_KEY:=}"}
