"""The shared VectorIO engine: the whole VectorIO API (raw chunks, OpenAI vector stores, files, file batches,
ingestion, search) on top of a backend's :class:`~llama_stack_core.vector_io.index.VectorIndexFactory`.

State: store, file and batch records live in the provider's ``persistence`` store (shared by server processes);
chunks live in the backend's index. File counts are derived from the file records, never kept as counters, so
several processes stay consistent. Ingestion (parse, chunk, embed, insert) runs as a background task of the
process that received the attach request; its status is in the shared record.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..apis.common import BinaryContent, CursorPage, DeletedObject
from ..apis.files import FileObject, FileRef
from ..apis.inference import ChatCompletion, ChatCompletionRequest, EmbeddingsRequest, EmbeddingsResponse
from ..apis.resources import VectorDB
from ..apis.routes import Api
from ..apis.vector_io import (
    Chunk,
    ChunkingStrategyStatic,
    ChunkMetadata,
    FileBatchCreateRequest,
    FileBatchFilesRequest,
    FileBatchRef,
    FileCounts,
    InsertChunksRequest,
    QueryChunksRequest,
    QueryChunksResponse,
    StaticChunkingConfig,
    VectorStore,
    VectorStoreContent,
    VectorStoreCreateRequest,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileContentPage,
    VectorStoreFileContentRequest,
    VectorStoreFileCreateRequest,
    VectorStoreFileLastError,
    VectorStoreFileListRequest,
    VectorStoreFileRef,
    VectorStoreFileUpdateRequest,
    VectorStoreListRequest,
    VectorStoreRef,
    VectorStoreSearchPage,
    VectorStoreSearchRequest,
    VectorStoreSearchResult,
    VectorStoreUpdateRequest,
)
from ..config.model import StoreConfig
from ..errors import BadRequestError, NotConfiguredError, NotFoundError
from ..pagination import paginate
from ..routing import ApiRouter
from ..storage import KVStore
from ..tracing import child_span
from .chunking import chunk_text
from .index import ScoredChunk, StoredChunk, VectorIndex, VectorIndexFactory
from .parsing import InvalidFileError, UnsupportedFileError, file_to_text

log = logging.getLogger(__name__)

RRF_K = 60


class VectorIOConfig(BaseModel):
    """Settings every vector_io provider built on the engine has; backends subclass it with their own fields."""

    model_config = ConfigDict(extra="forbid")

    persistence: StoreConfig = Field(description="Where store, file and batch records live (shared by processes).")
    chunk_size_tokens: int = Field(default=512, ge=16, le=8192, description="Chunk size for the 'auto' strategy.")
    chunk_overlap_tokens: int = Field(default=64, ge=0, description="Overlap for the 'auto' strategy.")
    embedding_batch_size: int = Field(default=64, ge=1, description="Texts per embeddings call during ingestion.")
    max_concurrent_ingestions: int = Field(default=2, ge=1, description="Files ingested at once per process.")
    default_query_chunks: int = Field(default=3, ge=1, description="k of /v1/vector-io/query without max_chunks.")
    rewrite_model: str | None = Field(default=None, description="LLM used by search's rewrite_query.")


class StoreRecord(VectorStore):
    """A vector store as persisted: the OpenAI object plus what the engine needs."""

    embedding_model: str
    embedding_dimension: int


class FileRecord(VectorStoreFile):
    filename: str = ""
    chunk_count: int = 0
    batch_id: str | None = None


class BatchRecord(VectorStoreFileBatch):
    file_ids: list[str] = Field(default_factory=list)


def _now() -> int:
    return int(time.time())


def _store_key(store_id: str) -> str:
    return f"store:{store_id}"


def _file_key(store_id: str, file_id: str) -> str:
    return f"file:{store_id}:{file_id}"


def _batch_key(store_id: str, batch_id: str) -> str:
    return f"batch:{store_id}:{batch_id}"


def content_text(content: Any) -> str:
    """The text of Llama Stack interleaved content (a string, an item, or a list of items)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(content_text(item) for item in content)
    text = getattr(content, "text", None)
    if text is None and isinstance(content, dict):
        text = content.get("text")
    return text or ""


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


class VectorStoreEngine:
    """Implements the VectorIO provider contract for any backend index factory."""

    def __init__(
        self,
        factory: VectorIndexFactory,
        config: VectorIOConfig,
        kv: KVStore,
        inference: ApiRouter | None,
        files: ApiRouter | None,
    ) -> None:
        self.factory = factory
        self.config = config
        self.kv = kv
        self.inference = inference
        self.files = files
        self._indexes: dict[str, VectorIndex] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._ingest_slots = asyncio.Semaphore(config.max_concurrent_ingestions)

    @classmethod
    async def create(
        cls, factory: VectorIndexFactory, config: VectorIOConfig, deps: dict[Api, Any]
    ) -> VectorStoreEngine:
        return cls(factory, config, await config.persistence.open(), deps.get(Api.inference), deps.get(Api.files))

    async def shutdown(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.factory.close()
        await self.kv.close()

    async def health(self) -> dict[str, Any]:
        return {"status": "OK", "ingesting": len(self._tasks)}

    # -- records -------------------------------------------------------------------------------------------------

    async def _store(self, store_id: str) -> StoreRecord:
        raw = await self.kv.get(_store_key(store_id))
        if raw is None:
            raise NotFoundError(f"vector store '{store_id}' not found")
        return StoreRecord.model_validate_json(raw)

    async def _save(self, key: str, record: BaseModel) -> None:
        await self.kv.set(key, record.model_dump_json())

    async def _file(self, store_id: str, file_id: str) -> FileRecord:
        raw = await self.kv.get(_file_key(store_id, file_id))
        if raw is None:
            raise NotFoundError(f"file '{file_id}' is not in vector store '{store_id}'")
        return FileRecord.model_validate_json(raw)

    async def _files(self, store_id: str) -> list[FileRecord]:
        return [FileRecord.model_validate_json(v) for _, v in await self.kv.items(f"file:{store_id}:")]

    async def _index(self, store: StoreRecord | VectorDB) -> VectorIndex:
        store_id = store.id if isinstance(store, StoreRecord) else store.provider_resource_id or store.identifier
        index = self._indexes.get(store_id)
        if index is None:
            if isinstance(store, StoreRecord):
                store = VectorDB(
                    identifier=store_id,
                    provider_id="",
                    provider_resource_id=store_id,
                    embedding_model=store.embedding_model,
                    embedding_dimension=store.embedding_dimension,
                )
            index = self._indexes[store_id] = await self.factory.open_index(store)
        return index

    async def _view(self, record: StoreRecord) -> VectorStore:
        """The OpenAI object: file counts and usage derived from the file records."""
        files = await self._files(record.id)
        counts = FileCounts(total=len(files))
        for f in files:
            setattr(counts, f.status, getattr(counts, f.status) + 1)
        fields = record.model_dump(
            exclude={"embedding_model", "embedding_dimension", "file_counts", "usage_bytes", "status", "metadata"}
        )
        status = "in_progress" if counts.in_progress else "completed"
        if record.expires_at is not None and record.expires_at <= _now():
            status = "expired"
        return VectorStore(
            **fields,
            file_counts=counts,
            usage_bytes=sum(f.usage_bytes for f in files),
            status=status,
            metadata={
                **record.metadata,
                "embedding_model": record.embedding_model,
                "embedding_dimension": record.embedding_dimension,
            },
        )

    # -- resource hooks ------------------------------------------------------------------------------------------

    async def register_vector_db(self, resource: VectorDB) -> None:
        """Create the store's record and index (idempotent: also called at start-up for stored resources)."""
        store_id = resource.provider_resource_id or resource.identifier
        record = StoreRecord(
            id=store_id,
            created_at=resource.created,
            name=resource.vector_db_name or store_id,
            embedding_model=resource.embedding_model,
            embedding_dimension=resource.embedding_dimension,
            last_active_at=_now(),
        )
        await self.kv.insert(_store_key(store_id), record.model_dump_json())
        await self._index(resource)

    async def unregister_vector_db(self, resource: VectorDB) -> None:
        """Delete everything the store owns: chunks, file and batch records."""
        store_id = resource.provider_resource_id or resource.identifier
        for (sid, _file_id), task in list(self._tasks.items()):
            if sid == store_id:
                task.cancel()
        index = await self._index(resource)
        await index.drop()
        self._indexes.pop(store_id, None)
        for prefix in (f"file:{store_id}:", f"batch:{store_id}:"):
            for key, _ in await self.kv.items(prefix):
                await self.kv.delete(key)
        await self.kv.delete(_store_key(store_id))

    # -- embeddings ----------------------------------------------------------------------------------------------

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        if self.inference is None:
            raise NotConfiguredError("embedding needs the inference API, which this stack does not serve")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.config.embedding_batch_size):
            batch = texts[start : start + self.config.embedding_batch_size]
            answer = await self.inference.call_as(
                "openai_embeddings", EmbeddingsRequest(model=model, input=batch), EmbeddingsResponse
            )
            vectors.extend(item.embedding for item in sorted(answer.data, key=lambda d: d.index))
        return vectors

    # -- raw chunks (/v1/vector-io) ------------------------------------------------------------------------------

    async def insert_chunks(self, request: InsertChunksRequest) -> None:
        store = await self._store(request.vector_db_id)
        texts = [content_text(c.content) for c in request.chunks]
        missing = [i for i, c in enumerate(request.chunks) if c.embedding is None]
        computed = dict(zip(missing, await self.embed(store.embedding_model, [texts[i] for i in missing])))
        rows = []
        for i, chunk in enumerate(request.chunks):
            embedding = chunk.embedding if chunk.embedding is not None else computed[i]
            if len(embedding) != store.embedding_dimension:
                raise BadRequestError(
                    f"chunks[{i}].embedding has {len(embedding)} dimensions; the store's model "
                    f"has {store.embedding_dimension}",
                    param=f"chunks.{i}.embedding",
                )
            chunk_id = (
                chunk.chunk_id
                or (chunk.chunk_metadata and chunk.chunk_metadata.chunk_id)
                or hashlib.sha256(f"{chunk.metadata.get('document_id', '')}:{texts[i]}".encode()).hexdigest()[:32]
            )
            rows.append(
                StoredChunk(chunk_id, texts[i], list(embedding), dict(chunk.metadata), attributes=dict(chunk.metadata))
            )
        await (await self._index(store)).add(rows)

    async def query_chunks(self, request: QueryChunksRequest) -> QueryChunksResponse:
        store = await self._store(request.vector_db_id)
        params = request.params
        k = (params.max_chunks if params else None) or self.config.default_query_chunks
        mode = (params.mode if params else None) or "vector"
        ranker = ((params.ranker or {}).get("type") if params else None) or "rrf"
        alpha = float(((params.ranker or {}).get("alpha", 0.5)) if params else 0.5)
        hits = await self._search(store, [content_text(request.query)], mode, k, None, ranker, alpha)
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

    async def _search(
        self, store: StoreRecord, queries: list[str], mode: str, k: int, filters: Any, ranker: str, alpha: float
    ) -> list[ScoredChunk]:
        with child_span(
            "vector_io.search",
            **{"vector_store.id": store.id, "search.mode": mode, "search.k": k, "search.filtered": filters is not None},
        ) as span:
            hits = await self._search_index(store, queries, mode, k, filters, ranker, alpha)
            span.set("search.results", len(hits))
            return hits

    async def _search_index(
        self, store: StoreRecord, queries: list[str], mode: str, k: int, filters: Any, ranker: str, alpha: float
    ) -> list[ScoredChunk]:
        index = await self._index(store)
        text = " ".join(queries)
        if mode == "keyword":
            return await index.search_keyword(text, k, filters)
        [embedding] = await self.embed(store.embedding_model, [text])
        if mode == "vector":
            return await index.search_vector(embedding, k, filters)
        fetch = max(k * 3, 20)
        vector, keyword = await asyncio.gather(
            index.search_vector(embedding, fetch, filters), index.search_keyword(text, fetch, filters)
        )
        return fuse(vector, keyword, k, ranker, alpha)

    # -- vector stores -------------------------------------------------------------------------------------------

    async def openai_create_vector_store(self, request: VectorStoreCreateRequest) -> VectorStore:
        """Called by the router after it registered the store's resource (``request.vector_store_id``)."""
        store_id = getattr(request, "vector_store_id", None)
        if not store_id:
            raise BadRequestError("create vector stores through POST /v1/vector_stores")
        record = await self._store(store_id)
        record.name = request.name or record.name
        record.metadata = dict(request.metadata or {})
        if request.expires_after is not None:
            record.expires_after = request.expires_after.model_dump()
            record.expires_at = _now() + request.expires_after.days * 86400
        if request.chunking_strategy is not None:
            record.metadata.setdefault("chunking_strategy", request.chunking_strategy.model_dump())
        await self._save(_store_key(store_id), record)
        for file_id in request.file_ids or ():
            await self._attach(record, file_id, {}, request.chunking_strategy)
        return await self._view(record)

    async def openai_list_vector_stores(self, request: VectorStoreListRequest) -> CursorPage[VectorStore]:
        records = [StoreRecord.model_validate_json(v) for _, v in await self.kv.items("store:")]
        page = paginate(
            records,
            limit=request.limit,
            order=request.order,
            after=request.after,
            before=request.before,
            sort_key=lambda r: r.created_at,
            item_id=lambda r: r.id,
        )
        return CursorPage[VectorStore](
            data=[await self._view(r) for r in page.data],
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
        )

    async def openai_retrieve_vector_store(self, request: VectorStoreRef) -> VectorStore:
        return await self._view(await self._store(request.vector_store_id))

    async def openai_update_vector_store(self, request: VectorStoreUpdateRequest) -> VectorStore:
        record = await self._store(request.vector_store_id)
        if request.name is not None:
            record.name = request.name
        if request.metadata is not None:
            record.metadata = dict(request.metadata)
        if request.expires_after is not None:
            record.expires_after = request.expires_after.model_dump()
            record.expires_at = _now() + request.expires_after.days * 86400
        record.last_active_at = _now()
        await self._save(_store_key(record.id), record)
        return await self._view(record)

    async def openai_delete_vector_store(self, request: VectorStoreRef) -> DeletedObject:
        record = await self._store(request.vector_store_id)
        await self.unregister_vector_db(
            VectorDB(
                identifier=record.id,
                provider_id="",
                provider_resource_id=record.id,
                embedding_model=record.embedding_model,
                embedding_dimension=record.embedding_dimension,
            )
        )
        return DeletedObject(id=record.id, object="vector_store.deleted")

    async def openai_search_vector_store(self, request: VectorStoreSearchRequest) -> VectorStoreSearchPage:
        record = await self._store(request.vector_store_id)
        queries = [request.query] if isinstance(request.query, str) else list(request.query)
        if request.rewrite_query:
            queries = [await self._rewrite(" ".join(queries))]
        options = request.ranking_options
        ranker = (options.ranker if options and options.ranker in ("rrf", "weighted") else None) or "rrf"
        alpha = float((options.model_extra or {}).get("alpha", 0.5)) if options else 0.5
        hits = await self._search(
            record, queries, request.search_mode, request.max_num_results, request.filters, ranker, alpha
        )
        if options and options.score_threshold is not None:
            hits = [h for h in hits if h.score >= options.score_threshold]
        filenames = {f.id: f.filename for f in await self._files(record.id)}
        results = [
            VectorStoreSearchResult(
                file_id=h.chunk.file_id or "",
                filename=filenames.get(h.chunk.file_id or "", ""),
                score=h.score,
                attributes=h.chunk.attributes or None,
                content=[VectorStoreContent(text=h.chunk.content)],
            )
            for h in hits
        ]
        query = queries[0] if isinstance(request.query, str) and len(queries) == 1 else queries
        return VectorStoreSearchPage(search_query=query, data=results)

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

    # -- files in stores -----------------------------------------------------------------------------------------

    async def openai_attach_file_to_vector_store(self, request: VectorStoreFileCreateRequest) -> VectorStoreFile:
        record = await self._store(request.vector_store_id)
        return await self._attach(record, request.file_id, request.attributes or {}, request.chunking_strategy)

    async def _file_object(self, file_id: str) -> FileObject:
        if self.files is None:
            raise NotConfiguredError("attaching files needs the files API, which this stack does not serve")
        return await self.files.call_as("openai_retrieve_file", FileRef(file_id=file_id), FileObject)

    async def _attach(
        self, store: StoreRecord, file_id: str, attributes: dict[str, Any], strategy: Any, batch_id: str | None = None
    ) -> FileRecord:
        file = await self._file_object(file_id)  # 404 now if the file does not exist
        if strategy is None and "chunking_strategy" in store.metadata:
            strategy = store.metadata["chunking_strategy"]
        if isinstance(strategy, dict):
            strategy = ChunkingStrategyStatic.model_validate(strategy) if strategy.get("type") == "static" else None
        record = FileRecord(
            id=file_id,
            created_at=_now(),
            status="in_progress",
            vector_store_id=store.id,
            attributes=attributes,
            chunking_strategy=strategy,
            filename=file.filename,
            batch_id=batch_id,
        )
        existing = self._tasks.pop((store.id, file_id), None)
        if existing is not None:
            existing.cancel()
        await self._save(_file_key(store.id, file_id), record)
        task = asyncio.create_task(self._ingest(store, record), name=f"ingest-{store.id}-{file_id}")
        self._tasks[(store.id, file_id)] = task
        task.add_done_callback(
            lambda t, key=(store.id, file_id): self._tasks.pop(key, None) if self._tasks.get(key) is t else None
        )
        return record

    def _chunk_sizes(self, strategy: Any) -> tuple[int, int]:
        if isinstance(strategy, ChunkingStrategyStatic):
            static: StaticChunkingConfig = strategy.static
            return static.max_chunk_size_tokens, static.chunk_overlap_tokens
        return self.config.chunk_size_tokens, min(self.config.chunk_overlap_tokens, self.config.chunk_size_tokens // 2)

    async def _ingest(self, store: StoreRecord, record: FileRecord) -> None:
        """Parse, chunk, embed and index one file; the outcome goes into its record."""
        try:
            async with self._ingest_slots:
                content = await self.files.call_as(
                    "openai_retrieve_file_content", FileRef(file_id=record.id), BinaryContent
                )
                text = await asyncio.to_thread(file_to_text, record.filename, content.content, content.media_type)
                size, overlap = self._chunk_sizes(record.chunking_strategy)
                pieces = [p for p in chunk_text(text, size, overlap) if p.text.strip()]
                if not pieces:
                    raise InvalidFileError("the file has no text")
                vectors = await self.embed(store.embedding_model, [p.text for p in pieces])
                rows = [
                    StoredChunk(
                        f"{record.id}-{i}",
                        p.text,
                        v,
                        {
                            "file_id": record.id,
                            "filename": record.filename,
                            "token_count": p.token_count,
                            "start": p.start,
                            "end": p.end,
                        },
                        record.id,
                        dict(record.attributes),
                    )
                    for i, (p, v) in enumerate(zip(pieces, vectors))
                ]
                index = await self._index(store)
                await index.delete_file(record.id)
                await index.add(rows)
            if await self.kv.get(_file_key(store.id, record.id)) is None:  # deleted while ingesting
                await index.delete_file(record.id)
                return
            record.status, record.chunk_count = "completed", len(rows)
            record.usage_bytes = sum(len(r.content.encode()) for r in rows)
        except asyncio.CancelledError:
            record.status = "cancelled"
            if await self.kv.get(_file_key(store.id, record.id)) is not None:
                await self._save(_file_key(store.id, record.id), record)
            raise
        except (UnsupportedFileError, InvalidFileError) as exc:
            record.status = "failed"
            code = "unsupported_file" if isinstance(exc, UnsupportedFileError) else "invalid_file"
            record.last_error = VectorStoreFileLastError(code=code, message=str(exc))
        except Exception as exc:
            log.warning("ingesting %s into %s failed: %s", record.id, store.id, exc)
            record.status = "failed"
            record.last_error = VectorStoreFileLastError(code="server_error", message=str(exc) or type(exc).__name__)
        if await self.kv.get(_file_key(store.id, record.id)) is not None:
            await self._save(_file_key(store.id, record.id), record)

    async def openai_list_files_in_vector_store(
        self, request: VectorStoreFileListRequest
    ) -> CursorPage[VectorStoreFile]:
        await self._store(request.vector_store_id)
        files = [f for f in await self._files(request.vector_store_id) if request.filter in (None, f.status)]
        return self._file_page(files, request)

    def _file_page(self, files: list[FileRecord], request: Any) -> CursorPage[VectorStoreFile]:
        page = paginate(
            files,
            limit=request.limit,
            order=request.order,
            after=request.after,
            before=request.before,
            sort_key=lambda f: f.created_at,
            item_id=lambda f: f.id,
        )
        return CursorPage[VectorStoreFile](
            data=[self._public(f) for f in page.data],
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
        )

    @staticmethod
    def _public(record: FileRecord) -> VectorStoreFile:
        return VectorStoreFile(**record.model_dump(exclude={"filename", "chunk_count", "batch_id"}))

    async def openai_retrieve_vector_store_file(self, request: VectorStoreFileRef) -> VectorStoreFile:
        return self._public(await self._file(request.vector_store_id, request.file_id))

    async def openai_update_vector_store_file(self, request: VectorStoreFileUpdateRequest) -> VectorStoreFile:
        store = await self._store(request.vector_store_id)
        record = await self._file(store.id, request.file_id)
        record.attributes = dict(request.attributes)
        await (await self._index(store)).set_file_attributes(record.id, record.attributes)
        await self._save(_file_key(store.id, record.id), record)
        return self._public(record)

    async def openai_delete_vector_store_file(self, request: VectorStoreFileRef) -> DeletedObject:
        store = await self._store(request.vector_store_id)
        await self._file(store.id, request.file_id)
        await self._remove_file(store, request.file_id)
        return DeletedObject(id=request.file_id, object="vector_store.file.deleted")

    async def _remove_file(self, store: StoreRecord, file_id: str) -> None:
        task = self._tasks.pop((store.id, file_id), None)
        if task is not None:
            task.cancel()
        await self.kv.delete(_file_key(store.id, file_id))
        await (await self._index(store)).delete_file(file_id)

    async def file_deleted(self, file_id: str) -> None:
        """The Files API deleted a file: take it out of every store at once."""
        for _, raw in await self.kv.items("store:"):
            store = StoreRecord.model_validate_json(raw)
            if await self.kv.get(_file_key(store.id, file_id)) is not None:
                await self._remove_file(store, file_id)

    async def openai_retrieve_vector_store_file_contents(
        self, request: VectorStoreFileContentRequest
    ) -> VectorStoreFileContentPage:
        store = await self._store(request.vector_store_id)
        await self._file(store.id, request.file_id)
        chunks = await (await self._index(store)).file_chunks(request.file_id)
        return VectorStoreFileContentPage(
            data=[
                VectorStoreContent(
                    text=c.content,
                    embedding=c.embedding if request.include_embeddings else None,
                    metadata=c.metadata if request.include_metadata else None,
                )
                for c in chunks
            ]
        )

    # -- file batches --------------------------------------------------------------------------------------------

    async def openai_create_vector_store_file_batch(self, request: FileBatchCreateRequest) -> VectorStoreFileBatch:
        store = await self._store(request.vector_store_id)
        for file_id in request.file_ids:
            await self._file_object(file_id)
        batch = BatchRecord(
            id=f"vsfb_{uuid.uuid4().hex}",
            created_at=_now(),
            vector_store_id=store.id,
            status="in_progress",
            file_counts=FileCounts(),
            file_ids=list(request.file_ids),
        )
        await self._save(_batch_key(store.id, batch.id), batch)
        for file_id in request.file_ids:
            await self._attach(store, file_id, request.attributes or {}, request.chunking_strategy, batch.id)
        return await self._batch_view(batch)

    async def _batch(self, request: Any) -> BatchRecord:
        raw = await self.kv.get(_batch_key(request.vector_store_id, request.batch_id))
        if raw is None:
            raise NotFoundError(f"file batch '{request.batch_id}' not found in '{request.vector_store_id}'")
        return BatchRecord.model_validate_json(raw)

    async def _batch_files(self, batch: BatchRecord) -> list[FileRecord]:
        files = [await self.kv.get(_file_key(batch.vector_store_id, f)) for f in batch.file_ids]
        return [r for r in (FileRecord.model_validate_json(f) for f in files if f) if r.batch_id == batch.id]

    async def _batch_view(self, batch: BatchRecord) -> VectorStoreFileBatch:
        counts = FileCounts(total=len(batch.file_ids))
        for f in await self._batch_files(batch):
            setattr(counts, f.status, getattr(counts, f.status) + 1)
        if batch.status == "cancelled":
            status = "cancelled"
        elif counts.in_progress:
            status = "in_progress"
        else:
            status = "failed" if counts.failed and not counts.completed else "completed"
        return VectorStoreFileBatch(
            **batch.model_dump(exclude={"file_ids", "file_counts", "status"}), file_counts=counts, status=status
        )

    async def openai_retrieve_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        return await self._batch_view(await self._batch(request))

    async def openai_list_files_in_vector_store_file_batch(
        self, request: FileBatchFilesRequest
    ) -> CursorPage[VectorStoreFile]:
        files = [f for f in await self._batch_files(await self._batch(request)) if request.filter in (None, f.status)]
        return self._file_page(files, request)

    async def openai_cancel_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        batch = await self._batch(request)
        for record in await self._batch_files(batch):
            if record.status == "in_progress":
                task = self._tasks.pop((batch.vector_store_id, record.id), None)
                if task is not None:
                    task.cancel()
                record.status = "cancelled"
                await self._save(_file_key(batch.vector_store_id, record.id), record)
        batch.status = "cancelled"
        await self._save(_batch_key(batch.vector_store_id, batch.id), batch)
        return await self._batch_view(batch)
