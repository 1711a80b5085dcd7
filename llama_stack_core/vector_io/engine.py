"""The shared VectorIO engine: the whole VectorIO API (raw chunks, OpenAI vector stores, files, file batches,
ingestion, search) on top of a backend's :class:`~llama_stack_core.vector_io.index.VectorIndexFactory`.

:class:`VectorStoreEngine` is the provider a backend hands to the stack; it is a facade over the parts that do the
work: the records (:mod:`.records`, in the provider's ``persistence`` store shared by server processes), the
indexes (:mod:`.index_cache`), ingestion (:mod:`.ingestion`) and search (:mod:`.search`). Chunks live in the
backend's index.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..apis.common import CursorPage, DeletedObject
from ..apis.resources import VectorDB
from ..apis.routes import Api
from ..apis.vector_io import (
    FileBatchCreateRequest,
    FileBatchFilesRequest,
    FileBatchRef,
    FileCounts,
    InsertChunksRequest,
    QueryChunksRequest,
    QueryChunksResponse,
    VectorStore,
    VectorStoreContent,
    VectorStoreCreateRequest,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileContentPage,
    VectorStoreFileContentRequest,
    VectorStoreFileCreateRequest,
    VectorStoreFileListRequest,
    VectorStoreFileRef,
    VectorStoreFileUpdateRequest,
    VectorStoreListRequest,
    VectorStoreRef,
    VectorStoreSearchPage,
    VectorStoreSearchRequest,
    VectorStoreUpdateRequest,
)
from ..errors import BadRequestError
from ..pagination import paginate
from ..routing import ApiRouter
from ..storage import KVStore
from .config import VectorIOConfig
from .embedding import Embedder
from .index import VectorIndexFactory
from .index_cache import IndexCache
from .ingestion import Ingestor
from .records import BatchRecord, FileRecord, RecordStore, StoreRecord, file_page, missing_file, now
from .search import Searcher

__all__ = ["VectorIOConfig", "VectorStoreEngine"]

#: How long shutting down waits for this process's ingestions before it cancels them.


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
        self.config = config
        self.records = RecordStore(kv)
        self.indexes = IndexCache(factory)
        self.embedder = Embedder(inference, config.embedding_batch_size)
        self.ingestor = Ingestor(self.records, self.indexes, self.embedder, config, files)
        self.searcher = Searcher(self.records, self.indexes, self.embedder, config, inference)

    @classmethod
    async def create(
        cls, factory: VectorIndexFactory, config: VectorIOConfig, deps: dict[Api, Any]
    ) -> VectorStoreEngine:
        engine = cls(factory, config, await config.persistence.open(), deps.get(Api.inference), deps.get(Api.files))
        await engine.ingestor.start()
        return engine

    async def drain(self, timeout: float) -> None:
        """Let ingestions finish for up to ``timeout`` seconds; cancel the rest (the stack calls this at stop, while
        the inference and files APIs they use still run)."""
        await self.ingestor.drain(timeout)

    async def shutdown(self) -> None:
        """Cancel any ingestion still running (none after :meth:`drain`), then close the stores."""
        await self.ingestor.drain(0)
        await self.indexes.close()
        await self.records.kv.close()

    async def health(self) -> dict[str, Any]:
        return {"status": "OK", "ingesting": self.ingestor.in_flight}

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return await self.embedder.embed(model, texts)

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
            last_active_at=now(),
        )
        await self.records.add_store(record)
        await self.indexes.get(resource)

    async def unregister_vector_db(self, resource: VectorDB) -> None:
        """Delete everything the store owns: chunks, file and batch records."""
        store_id = resource.provider_resource_id or resource.identifier
        self.ingestor.cancel(store_id)
        await self.indexes.drop(resource)
        await self.records.delete_store(store_id)

    # -- raw chunks (/v1/vector-io) ------------------------------------------------------------------------------

    async def insert_chunks(self, request: InsertChunksRequest) -> None:
        await self.ingestor.insert_chunks(request)

    async def query_chunks(self, request: QueryChunksRequest) -> QueryChunksResponse:
        return await self.searcher.query_chunks(request)

    # -- vector stores -------------------------------------------------------------------------------------------

    async def openai_create_vector_store(self, request: VectorStoreCreateRequest) -> VectorStore:
        """Called by the router after it registered the store's resource (``request.vector_store_id``)."""
        if not request.vector_store_id:
            raise BadRequestError("create vector stores through POST /v1/vector_stores")

        def describe(record: StoreRecord) -> bool:
            record.name = request.name or record.name
            record.metadata = dict(request.metadata or {})
            if request.expires_after is not None:
                record.expires_after = request.expires_after.model_dump()
                record.expires_at = now() + request.expires_after.days * 86400
            if request.chunking_strategy is not None:
                record.metadata.setdefault("chunking_strategy", request.chunking_strategy.model_dump())
            return True

        record = await self.records.update_store(request.vector_store_id, describe)
        for file_id in request.file_ids or ():
            await self.ingestor.attach(record, file_id, {}, request.chunking_strategy)
        return await self.records.store_view(record)

    async def openai_list_vector_stores(self, request: VectorStoreListRequest) -> CursorPage[VectorStore]:
        page = paginate(
            await self.records.stores(),
            limit=request.limit,
            order=request.order,
            after=request.after,
            before=request.before,
            sort_key=lambda r: r.created_at,
            item_id=lambda r: r.id,
        )
        return CursorPage[VectorStore](
            data=[await self.records.store_view(r) for r in page.data],
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
        )

    async def openai_retrieve_vector_store(self, request: VectorStoreRef) -> VectorStore:
        return await self.records.store_view(await self.records.store(request.vector_store_id))

    async def openai_update_vector_store(self, request: VectorStoreUpdateRequest) -> VectorStore:
        def update(record: StoreRecord) -> bool:
            if request.name is not None:
                record.name = request.name
            if request.metadata is not None:
                record.metadata = dict(request.metadata)
            if request.expires_after is not None:
                record.expires_after = request.expires_after.model_dump()
                record.expires_at = now() + request.expires_after.days * 86400
            record.last_active_at = now()
            return True

        return await self.records.store_view(await self.records.update_store(request.vector_store_id, update))

    async def openai_delete_vector_store(self, request: VectorStoreRef) -> DeletedObject:
        record = await self.records.store(request.vector_store_id)
        await self.unregister_vector_db(record.as_vector_db())
        return DeletedObject(id=record.id, object="vector_store.deleted")

    async def openai_search_vector_store(self, request: VectorStoreSearchRequest) -> VectorStoreSearchPage:
        return await self.searcher.search_vector_store(request)

    # -- files in stores -----------------------------------------------------------------------------------------

    async def openai_attach_file_to_vector_store(self, request: VectorStoreFileCreateRequest) -> VectorStoreFile:
        store = await self.records.store(request.vector_store_id)
        return await self.ingestor.attach(store, request.file_id, request.attributes or {}, request.chunking_strategy)

    async def openai_list_files_in_vector_store(
        self, request: VectorStoreFileListRequest
    ) -> CursorPage[VectorStoreFile]:
        await self.records.store(request.vector_store_id)
        files = await self.records.files(request.vector_store_id)
        return file_page([f for f in files if request.filter in (None, f.status)], request)

    async def openai_retrieve_vector_store_file(self, request: VectorStoreFileRef) -> VectorStoreFile:
        return (await self.records.file(request.vector_store_id, request.file_id)).public()

    async def openai_update_vector_store_file(self, request: VectorStoreFileUpdateRequest) -> VectorStoreFile:
        store = await self.records.store(request.vector_store_id)
        attributes = dict(request.attributes)

        def relabel(record: FileRecord) -> bool:
            record.attributes = attributes
            return True

        record = await self.records.update_file(store.id, request.file_id, relabel)
        if record is None:
            raise missing_file(store.id, request.file_id)
        await (await self.indexes.get(store)).set_file_attributes(record.id, attributes)
        return record.public()

    async def openai_delete_vector_store_file(self, request: VectorStoreFileRef) -> DeletedObject:
        store = await self.records.store(request.vector_store_id)
        await self.records.file(store.id, request.file_id)
        await self._remove_file(store, request.file_id)
        return DeletedObject(id=request.file_id, object="vector_store.file.deleted")

    async def _remove_file(self, store: StoreRecord, file_id: str) -> None:
        self.ingestor.cancel(store.id, file_id)
        await self.records.delete_file(store.id, file_id)
        await (await self.indexes.get(store)).delete_file(file_id)

    async def file_deleted(self, file_id: str) -> None:
        """The Files API deleted a file: take it out of every store at once."""
        for store in await self.records.stores():
            if await self.records.find_file(store.id, file_id) is not None:
                await self._remove_file(store, file_id)

    async def openai_retrieve_vector_store_file_contents(
        self, request: VectorStoreFileContentRequest
    ) -> VectorStoreFileContentPage:
        store = await self.records.store(request.vector_store_id)
        await self.records.file(store.id, request.file_id)
        chunks = await (await self.indexes.get(store)).file_chunks(request.file_id)
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
        store = await self.records.store(request.vector_store_id)
        for file_id in request.file_ids:
            await self.ingestor.source_file(file_id)
        batch = BatchRecord(
            id=f"vsfb_{uuid.uuid4().hex}",
            created_at=now(),
            vector_store_id=store.id,
            status="in_progress",
            file_counts=FileCounts(),
            file_ids=list(request.file_ids),
        )
        await self.records.add_batch(batch)
        for file_id in request.file_ids:
            await self.ingestor.attach(store, file_id, request.attributes or {}, request.chunking_strategy, batch.id)
        return await self.records.batch_view(batch)

    async def openai_retrieve_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        return await self.records.batch_view(await self.records.batch(request.vector_store_id, request.batch_id))

    async def openai_list_files_in_vector_store_file_batch(
        self, request: FileBatchFilesRequest
    ) -> CursorPage[VectorStoreFile]:
        batch = await self.records.batch(request.vector_store_id, request.batch_id)
        files = await self.records.batch_files(batch)
        return file_page([f for f in files if request.filter in (None, f.status)], request)

    async def openai_cancel_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        """Cancel the batch's files still in progress, wherever they are being ingested (the process ingesting one
        finds it cancelled when it is done, and leaves it so)."""
        batch = await self.records.batch(request.vector_store_id, request.batch_id)

        def cancel(record: FileRecord) -> bool:
            if record.batch_id != batch.id or record.status != "in_progress":
                return False
            record.status = "cancelled"
            return True

        for record in await self.records.batch_files(batch):
            if record.status == "in_progress":
                self.ingestor.cancel(batch.vector_store_id, record.id)
                await self.records.update_file(batch.vector_store_id, record.id, cancel)

        def mark(current: BatchRecord) -> bool:
            current.status = "cancelled"
            return True

        return await self.records.batch_view(await self.records.update_batch(batch, mark))
