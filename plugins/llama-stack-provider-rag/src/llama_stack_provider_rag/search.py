"""Searching vector stores for the RAG tool: each store through the VectorIO API (query rewriting off), the hits of
all stores merged by score, and the result rendered as tool content with the chunks' provenance in its metadata."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from llama_stack_core.apis.vector_io import (
    RankingOptions,
    SearchFilter,
    VectorStoreSearchPage,
    VectorStoreSearchRequest,
)
from llama_stack_core.errors import BadRequestError
from llama_stack_core.routing import ApiRouter

_FILTER = TypeAdapter(SearchFilter)


@dataclass
class Hit:
    """One retrieved chunk and where it came from."""

    text: str
    score: float
    vector_store_id: str
    file_id: str | None
    filename: str | None
    chunk_id: str | None
    document_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What an agent cites: every field but the text."""
        return {
            "chunk_id": self.chunk_id,
            "score": self.score,
            "vector_store_id": self.vector_store_id,
            "file_id": self.file_id,
            "filename": self.filename,
            "document_id": self.document_id,
            "attributes": self.attributes,
        }


@dataclass(frozen=True)
class SearchOptions:
    max_results: int
    mode: str = "vector"
    filters: Any = None
    ranker: str | None = None
    alpha: float | None = None
    score_threshold: float | None = None


def parse_filters(value: Any, param: str) -> Any:
    """A filter object (``{"key", "type", "value"}`` or ``{"type": "and"|"or", "filters"}``), checked now for a 400."""
    if value is None:
        return None
    try:
        return _FILTER.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequestError(f"{param} is not a valid filter: {where}: {first['msg']}", param=param) from None


async def search(vector_io: ApiRouter, store_ids: list[str], query: str, options: SearchOptions) -> list[Hit]:
    """The best ``options.max_results`` chunks of all the stores for ``query`` (an unknown store is a 404)."""
    ranking = None
    if options.ranker or options.score_threshold is not None:
        extra = {"alpha": options.alpha} if options.alpha is not None else {}
        ranking = RankingOptions(ranker=options.ranker, score_threshold=options.score_threshold, **extra)
    requests = [
        VectorStoreSearchRequest(
            vector_store_id=store_id,
            query=query,
            filters=options.filters,
            max_num_results=options.max_results,
            ranking_options=ranking,
            rewrite_query=False,
            search_mode=options.mode,
        )
        for store_id in store_ids
    ]
    pages = await asyncio.gather(
        *(vector_io.call_as("openai_search_vector_store", r, VectorStoreSearchPage) for r in requests)
    )
    hits = []
    for store_id, page in zip(store_ids, pages, strict=True):
        for result in page.data:
            for content in result.content:
                meta = content.chunk_metadata
                attributes = dict(result.attributes or {})
                hits.append(
                    Hit(
                        text=content.text,
                        score=result.score,
                        vector_store_id=store_id,
                        file_id=result.file_id or None,
                        filename=result.filename or None,
                        chunk_id=meta.chunk_id if meta else None,
                        document_id=(meta.document_id if meta else None) or attributes.get("document_id"),
                        attributes=attributes,
                    )
                )
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[: options.max_results]


def source_line(hit: Hit) -> str:
    parts = []
    if hit.document_id:
        parts.append(f"document_id: {hit.document_id}")
    if hit.file_id:
        parts.append(f"file: {hit.filename or ''} ({hit.file_id})")
    parts.append(f"score: {hit.score:.4f}")
    if hit.attributes:
        parts.append(f"attributes: {hit.attributes}")
    return ", ".join(parts)


def knowledge_content(query: str, hits: list[Hit]) -> list[dict[str, str]]:
    """Tool content: a header, one text item per chunk (its source line, then its text), a footer."""
    if not hits:
        return [{"type": "text", "text": f"knowledge_search found no chunks for the query: {query!r}."}]
    items = [{"type": "text", "text": f"knowledge_search found {len(hits)} chunks:\n--- results begin ---\n"}]
    for i, hit in enumerate(hits, start=1):
        items.append({"type": "text", "text": f"[{i}] {source_line(hit)}\n{hit.text}\n"})
    items.append(
        {
            "type": "text",
            "text": f"--- results end ---\nThese chunks were retrieved for the query {query!r}; cite them by their "
            "number, and rely on them only as far as they answer it.\n",
        }
    )
    return items


def render_template(template: str, index: int, hit: Hit) -> str:
    """``chunk_template`` of RAGQueryConfig: ``{index}``, ``{chunk.content}``, ``{metadata}`` (400 if it names other
    fields)."""
    chunk = SimpleNamespace(content=hit.text, metadata=hit.provenance(), chunk_id=hit.chunk_id)
    try:
        return template.format(index=index, chunk=chunk, metadata=hit.provenance())
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise BadRequestError(
            f"query_config.chunk_template cannot be filled: {type(exc).__name__}: {exc}; it may use {{index}}, "
            "{chunk.content} and {metadata}",
            param="query_config.chunk_template",
        ) from None
