"""Search: vector, keyword and hybrid queries over a store's index, for ``/v1/vector-io/query`` and the OpenAI
vector store search (with its optional LLM query rewrite)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..apis.inference import ChatCompletion, ChatCompletionRequest
from ..apis.vector_io import (
    Chunk,
    ChunkMetadata,
    QueryChunksRequest,
    QueryChunksResponse,
    VectorStoreContent,
    VectorStoreSearchPage,
    VectorStoreSearchRequest,
    VectorStoreSearchResult,
)
from ..errors import BadRequestError
from ..routing import ApiRouter
from ..tracing import child_span
from .config import VectorIOConfig
from .embedding import Embedder
from .index import ScoredChunk, StoredChunk
from .index_cache import IndexCache
from .parsing import content_text
from .records import RecordStore, StoreRecord

RRF_K = 60


def fusion_weight(value: Any, param: str) -> float:
    """The caller's weight of vector hits against keyword hits (``weighted`` ranker): a number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BadRequestError(f"{param} must be a number from 0 to 1, got {value!r}", param=param)
    return float(value)


def fuse(
    vector: list[ScoredChunk], keyword: list[ScoredChunk], k: int, ranker: str = "rrf", alpha: float = 0.5
) -> list[ScoredChunk]:
    """Hybrid ranking: reciprocal rank fusion (default) or a weighted sum of min-max normalised scores."""
    scores: dict[str, float] = {}
    chunks: dict[str, StoredChunk] = {}
    for weight, hits in ((alpha, vector), (1 - alpha, keyword)):
        if ranker == "weighted":
            values = [h.score for h in hits]
            low, high = (min(values), max(values)) if values else (0.0, 0.0)
            span = (high - low) or 1.0
        for rank, hit in enumerate(hits):
            chunks[hit.chunk.chunk_id] = hit.chunk
            if ranker == "weighted":
                part = weight * ((hit.score - low) / span if high > low else 1.0)
            else:
                part = 1.0 / (RRF_K + rank + 1)
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + part
    best = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]
    return [ScoredChunk(chunks[chunk_id], score) for chunk_id, score in best]


class Searcher:
    def __init__(
        self,
        records: RecordStore,
        indexes: IndexCache,
        embedder: Embedder,
        config: VectorIOConfig,
        inference: ApiRouter | None,
    ) -> None:
        self.records = records
        self.indexes = indexes
        self.embedder = embedder
        self.config = config
        self.inference = inference

    async def query_chunks(self, request: QueryChunksRequest) -> QueryChunksResponse:
        store = await self.records.store(request.vector_db_id)
        params = request.params
        k = (params.max_chunks if params else None) or self.config.default_query_chunks
        mode = (params.mode if params else None) or "vector"
        ranker = ((params.ranker or {}).get("type") if params else None) or "rrf"
        alpha = fusion_weight((params.ranker or {}).get("alpha", 0.5) if params else 0.5, "params.ranker.alpha")
        hits = await self.search(store, [content_text(request.query)], mode, k, None, ranker, alpha)
        threshold = params.score_threshold if params else None
        if threshold is not None:
            hits = [h for h in hits if h.score >= threshold]
        return QueryChunksResponse(
            chunks=[
                Chunk(
                    content=h.chunk.content,
                    metadata=h.chunk.metadata,
                    chunk_id=h.chunk.chunk_id,
                    chunk_metadata=ChunkMetadata(chunk_id=h.chunk.chunk_id, document_id=h.chunk.file_id),
                )
                for h in hits
            ],
            scores=[h.score for h in hits],
        )

    async def search_vector_store(self, request: VectorStoreSearchRequest) -> VectorStoreSearchPage:
        record = await self.records.store(request.vector_store_id)
        queries = [request.query] if isinstance(request.query, str) else list(request.query)
        if request.rewrite_query:
            queries = [await self._rewrite(" ".join(queries))]
        options = request.ranking_options
        ranker = (options.ranker if options and options.ranker in ("rrf", "weighted") else None) or "rrf"
        alpha = fusion_weight(
            (options.model_extra or {}).get("alpha", 0.5) if options else 0.5, "ranking_options.alpha"
        )
        hits = await self.search(
            record, queries, request.search_mode, request.max_num_results, request.filters, ranker, alpha
        )
        if options and options.score_threshold is not None:
            hits = [h for h in hits if h.score >= options.score_threshold]
        filenames = {f.id: f.filename for f in await self.records.files(record.id)}
        results = [
            VectorStoreSearchResult(
                file_id=h.chunk.file_id or "",
                filename=filenames.get(h.chunk.file_id or "", ""),
                score=h.score,
                attributes=h.chunk.attributes or None,
                content=[
                    VectorStoreContent(
                        text=h.chunk.content,
                        chunk_metadata=ChunkMetadata(
                            chunk_id=h.chunk.chunk_id,
                            document_id=h.chunk.file_id or h.chunk.metadata.get("document_id"),
                        ),
                    )
                ],
            )
            for h in hits
        ]
        query = queries[0] if isinstance(request.query, str) and len(queries) == 1 else queries
        return VectorStoreSearchPage(search_query=query, data=results)

    async def search(
        self, store: StoreRecord, queries: list[str], mode: str, k: int, filters: Any, ranker: str, alpha: float
    ) -> list[ScoredChunk]:
        """The ``k`` best chunks for the queries: by vector, by keyword, or both fused with ``ranker`` (a span of its
        own under the provider call when the trace is recorded)."""
        attributes = {
            "vector_store.id": store.id,
            "search.mode": mode,
            "search.k": k,
            "search.filtered": filters is not None,
        }
        with child_span("vector_io.search", **attributes) as span:
            hits = await self._search_index(store, queries, mode, k, filters, ranker, alpha)
            span.set("search.results", len(hits))
            return hits

    async def _search_index(
        self, store: StoreRecord, queries: list[str], mode: str, k: int, filters: Any, ranker: str, alpha: float
    ) -> list[ScoredChunk]:
        index = await self.indexes.get(store)
        text = " ".join(queries)
        if mode == "keyword":
            return await index.search_keyword(text, k, filters)
        [embedding] = await self.embedder.embed(store.embedding_model, [text])
        if mode == "vector":
            return await index.search_vector(embedding, k, filters)
        fetch = max(k * 3, 20)
        vector, keyword = await asyncio.gather(
            index.search_vector(embedding, fetch, filters), index.search_keyword(text, fetch, filters)
        )
        return fuse(vector, keyword, k, ranker, alpha)

    async def _rewrite(self, query: str) -> str:
        if not self.config.rewrite_model or self.inference is None:
            raise BadRequestError(
                "rewrite_query needs a rewrite_model in this vector_io provider's config", param="rewrite_query"
            )
        prompt = (
            "Rewrite this search query to find relevant passages. Answer with the rewritten query only.\n\n"
            f"Query: {query}"
        )
        answer = await self.inference.call_as(
            "openai_chat_completion",
            ChatCompletionRequest(
                model=self.config.rewrite_model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=64,
                temperature=0,
            ),
            ChatCompletion,
        )
        rewritten = (answer.choices[0].message.content or "").strip()
        return rewritten or query
