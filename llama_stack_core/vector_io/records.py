"""The records of the VectorIO engine: vector stores, files in stores and file batches, in the provider's KV store.

Server processes share that store, so every record has its own key (``store:<id>``, ``file:<store>:<file>``,
``batch:<store>:<batch>``) and every change to an existing record is a compare-and-set that retries when another
process changed it first. File counts and usage are derived from the file records, never kept as counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from ..apis.common import CursorPage
from ..apis.resources import VectorDB
from ..apis.vector_io import FileCounts, VectorStore, VectorStoreFile, VectorStoreFileBatch
from ..errors import NotFoundError
from ..pagination import paginate
from ..storage import KVStore

R = TypeVar("R", bound=BaseModel)


def now() -> int:
    return int(time.time())


class StoreRecord(VectorStore):
    """A vector store as persisted: the OpenAI object plus what the engine needs."""

    embedding_model: str
    embedding_dimension: int

    def as_vector_db(self) -> VectorDB:
        """The resource the index factory opens indexes for."""
        return VectorDB(
            identifier=self.id,
            provider_id="",
            provider_resource_id=self.id,
            embedding_model=self.embedding_model,
            embedding_dimension=self.embedding_dimension,
        )


class FileRecord(VectorStoreFile):
    """A file in a vector store as persisted: the OpenAI object plus its ingestion's bookkeeping."""

    filename: str = ""
    chunk_count: int = 0
    batch_id: str | None = None
    #: Which attach request the record belongs to: an ingestion only records its outcome in its own attachment.
    ingestion_id: str = ""
    #: The server process ingesting it (its heartbeat says whether it still runs).
    runner: str = ""

    def public(self) -> VectorStoreFile:
        return VectorStoreFile(
            **self.model_dump(exclude={"filename", "chunk_count", "batch_id", "ingestion_id", "runner"})
        )


class RunningIngestion(BaseModel):
    """A file being ingested, by which process: the small index recovery scans instead of every file record."""

    vector_store_id: str
    file_id: str
    runner: str


class BatchRecord(VectorStoreFileBatch):
    file_ids: list[str] = Field(default_factory=list)


def _count(files: list[FileRecord], total: int) -> FileCounts:
    counts = FileCounts(total=total)
    for f in files:
        setattr(counts, f.status, getattr(counts, f.status) + 1)
    return counts


def file_page(files: list[FileRecord], request: Any) -> CursorPage[VectorStoreFile]:
    """One page of files, as a cursor list request (``limit``, ``order``, ``after``, ``before``) asks."""
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
        data=[f.public() for f in page.data], has_more=page.has_more, first_id=page.first_id, last_id=page.last_id
    )


def missing_file(store_id: str, file_id: str) -> NotFoundError:
    return NotFoundError(f"file '{file_id}' is not in vector store '{store_id}'")


class RecordStore:
    """Reads and atomic changes of the engine's records."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    async def _get(self, key: str, model: type[R]) -> R | None:
        raw = await self.kv.get(key)
        return None if raw is None else model.model_validate_json(raw)

    async def _update(self, key: str, model: type[R], change: Callable[[R], bool]) -> R | None:
        """Change the record at ``key`` in place and write it back unless another writer changed it in between (then
        read it again and retry). ``change`` says whether it changed anything. None when there is no record."""
        while True:
            raw = await self.kv.get(key)
            if raw is None:
                return None
            record = model.model_validate_json(raw)
            if not change(record) or await self.kv.compare_and_set(key, raw, record.model_dump_json()):
                return record

    # -- stores --------------------------------------------------------------------------------------------------

    async def store(self, store_id: str) -> StoreRecord:
        record = await self._get(f"store:{store_id}", StoreRecord)
        if record is None:
            raise NotFoundError(f"vector store '{store_id}' not found")
        return record

    async def stores(self) -> list[StoreRecord]:
        return [StoreRecord.model_validate_json(raw) for _, raw in await self.kv.items("store:")]

    async def add_store(self, record: StoreRecord) -> None:
        """Store a new store's record; an existing record is kept (registration is idempotent)."""
        await self.kv.insert(f"store:{record.id}", record.model_dump_json())

    async def update_store(self, store_id: str, change: Callable[[StoreRecord], bool]) -> StoreRecord:
        record = await self._update(f"store:{store_id}", StoreRecord, change)
        if record is None:
            raise NotFoundError(f"vector store '{store_id}' not found")
        return record

    async def delete_store(self, store_id: str) -> None:
        """Delete a store's record with its file and batch records."""
        for prefix in (f"file:{store_id}:", f"batch:{store_id}:", f"running:{store_id}:"):
            for key, _ in await self.kv.items(prefix):
                await self.kv.delete(key)
        await self.kv.delete(f"store:{store_id}")

    async def store_view(self, record: StoreRecord) -> VectorStore:
        """The OpenAI object: file counts, usage and status derived from the file records."""
        files = await self.files(record.id)
        counts = _count(files, len(files))
        fields = record.model_dump(
            exclude={"embedding_model", "embedding_dimension", "file_counts", "usage_bytes", "status", "metadata"}
        )
        status = "in_progress" if counts.in_progress else "completed"
        if record.expires_at is not None and record.expires_at <= now():
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

    # -- files ---------------------------------------------------------------------------------------------------

    async def find_file(self, store_id: str, file_id: str) -> FileRecord | None:
        return await self._get(f"file:{store_id}:{file_id}", FileRecord)

    async def file(self, store_id: str, file_id: str) -> FileRecord:
        record = await self.find_file(store_id, file_id)
        if record is None:
            raise missing_file(store_id, file_id)
        return record

    async def files(self, store_id: str) -> list[FileRecord]:
        return [FileRecord.model_validate_json(raw) for _, raw in await self.kv.items(f"file:{store_id}:")]

    async def put_file(self, record: FileRecord) -> None:
        """Store a file's record, replacing any earlier attachment of the same file."""
        await self.kv.set(f"file:{record.vector_store_id}:{record.id}", record.model_dump_json())

    async def update_file(self, store_id: str, file_id: str, change: Callable[[FileRecord], bool]) -> FileRecord | None:
        return await self._update(f"file:{store_id}:{file_id}", FileRecord, change)

    async def delete_file(self, store_id: str, file_id: str) -> bool:
        return await self.kv.delete(f"file:{store_id}:{file_id}")

    # -- ingestions in flight ------------------------------------------------------------------------------------

    @staticmethod
    def _running_key(store_id: str, file_id: str) -> str:
        return f"running:{store_id}:{file_id}"

    async def mark_running(self, record: FileRecord) -> None:
        entry = RunningIngestion(vector_store_id=record.vector_store_id, file_id=record.id, runner=record.runner)
        await self.kv.set(self._running_key(record.vector_store_id, record.id), entry.model_dump_json())

    async def clear_running(self, store_id: str, file_id: str) -> None:
        await self.kv.delete(self._running_key(store_id, file_id))

    async def running(self) -> list[RunningIngestion]:
        return [RunningIngestion.model_validate_json(raw) for _, raw in await self.kv.items("running:")]

    # -- batches -------------------------------------------------------------------------------------------------

    async def batch(self, store_id: str, batch_id: str) -> BatchRecord:
        record = await self._get(f"batch:{store_id}:{batch_id}", BatchRecord)
        if record is None:
            raise NotFoundError(f"file batch '{batch_id}' not found in '{store_id}'")
        return record

    async def add_batch(self, record: BatchRecord) -> None:
        await self.kv.set(f"batch:{record.vector_store_id}:{record.id}", record.model_dump_json())

    async def update_batch(self, record: BatchRecord, change: Callable[[BatchRecord], bool]) -> BatchRecord:
        updated = await self._update(f"batch:{record.vector_store_id}:{record.id}", BatchRecord, change)
        if updated is None:
            raise NotFoundError(f"file batch '{record.id}' not found in '{record.vector_store_id}'")
        return updated

    async def batch_files(self, batch: BatchRecord) -> list[FileRecord]:
        """The batch's files still attached through this batch."""
        found = [await self.find_file(batch.vector_store_id, f) for f in batch.file_ids]
        return [f for f in found if f is not None and f.batch_id == batch.id]

    async def batch_view(self, batch: BatchRecord) -> VectorStoreFileBatch:
        counts = _count(await self.batch_files(batch), len(batch.file_ids))
        if batch.status == "cancelled":
            status = "cancelled"
        elif counts.in_progress:
            status = "in_progress"
        else:
            status = "failed" if counts.failed and not counts.completed else "completed"
        return VectorStoreFileBatch(
            **batch.model_dump(exclude={"file_ids", "file_counts", "status"}), file_counts=counts, status=status
        )
