"""``remote::brave-search``: Brave's Web Search API.

Wire format (Brave Search API documentation, "Web search"): ``GET {base_url}/web/search?q=...&count=...&safesearch=...``
with ``X-Subscription-Token: <key>`` and ``Accept: application/json``; the answer is ``{"type": "search", "query":
{"original", "more_results_available", ...}, "web": {"type": "search", "results": [{"title", "url", "description",
"age", ...}]}, ...}`` (``web`` is absent when nothing was found). Snippets carry ``<strong>`` highlights, removed here.
Errors carry ``{"type": "ErrorResponse", "error": {"code", "detail", "status"}}``.
"""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import BraveSearchConfig
from .search_tool import SearchHit, SearchPage, WebSearchProvider, malformed, parse_json

_TAG = re.compile(r"<[^>]+>")


class BraveResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str = ""
    url: str
    description: str = ""


class BraveWeb(BaseModel):
    model_config = ConfigDict(extra="allow")
    results: list[BraveResult] = []


class BraveQuery(BaseModel):
    model_config = ConfigDict(extra="allow")
    more_results_available: bool | None = None


class BraveResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    query: BraveQuery | None = None
    web: BraveWeb | None = None


def plain(text: str) -> str:
    """A Brave snippet without its HTML highlights and entities."""
    return html.unescape(_TAG.sub("", text))


class BraveSearch(WebSearchProvider):
    provider_data_api_key: ClassVar[str] = "brave_search_api_key"
    vendor: ClassVar[str] = "brave"
    config: BraveSearchConfig

    async def search(self, query: str, max_results: int, api_key: str) -> SearchPage:
        params = urlencode({"q": query, "count": max_results, "safesearch": self.config.safesearch})
        headers = {"X-Subscription-Token": api_key, "Accept": "application/json"}
        answer = await self.client.request("GET", f"web/search?{params}", headers=headers)
        where = f"{self.provider_type} /web/search"
        try:
            response = BraveResponse.model_validate(parse_json(answer, where))
        except ValidationError as exc:
            raise malformed(where, exc) from None
        results = response.web.results if response.web else []
        hits = [SearchHit(title=plain(r.title), url=r.url, snippet=plain(r.description)) for r in results]
        metadata: dict[str, Any] = {}
        if response.query is not None and response.query.more_results_available is not None:
            metadata["more_results_available"] = response.query.more_results_available
        return SearchPage(hits=hits, metadata=metadata)
