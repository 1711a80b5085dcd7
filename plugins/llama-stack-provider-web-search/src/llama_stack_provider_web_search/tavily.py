"""``remote::tavily-search``: Tavily's search API.

Wire format (Tavily's API reference and its Python SDK, tavily-python 0.7): ``POST {base_url}/search`` with a JSON
body ``{"query", "max_results", "search_depth", "include_answer", ...}`` and ``Authorization: Bearer <key>``; the
answer is ``{"query", "answer", "results": [{"title", "url", "content", "score", "raw_content"}], "response_time",
...}``. Errors carry ``{"detail": {"error": "..."}}``: 401 bad key, 432/433 plan limits, 429 rate limit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from .config import TavilySearchConfig
from .search_tool import SearchHit, SearchPage, WebSearchProvider, malformed, parse_json


class TavilyResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str = ""
    url: str
    content: str = ""
    score: float | None = None


class TavilyResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    answer: str | None = None
    results: list[TavilyResult]
    response_time: float | str | None = None
    request_id: str | None = None


class TavilySearch(WebSearchProvider):
    provider_data_api_key: ClassVar[str] = "tavily_search_api_key"
    vendor: ClassVar[str] = "tavily"
    config: TavilySearchConfig

    async def search(self, query: str, max_results: int, api_key: str) -> SearchPage:
        body = {
            "query": query,
            "max_results": max_results,
            "search_depth": self.config.search_depth,
            "include_answer": self.config.include_answer,
        }
        answer = await self.client.request(
            "POST", "search", body=orjson.dumps(body), headers={"Authorization": f"Bearer {api_key}"}
        )
        where = f"{self.provider_type} /search"
        try:
            response = TavilyResponse.model_validate(parse_json(answer, where))
        except ValidationError as exc:
            raise malformed(where, exc) from None
        metadata: dict[str, Any] = {
            key: value
            for key, value in (("response_time", response.response_time), ("request_id", response.request_id))
            if value is not None
        }
        hits = [SearchHit(title=r.title, url=r.url, snippet=r.content, score=r.score) for r in response.results]
        return SearchPage(hits=hits, answer=response.answer or None, metadata=metadata)
