"""Ingestion: chunks into a store's index, inserted as they are (``/v1/vector-io/insert``) or made from an attached
file (parse, chunk, embed, insert) by a background task of the process that received the attach request.

The :class:`Ingestor` owns those tasks. The file's record says how its ingestion went; the task writes its outcome
with a compare-and-set, and only into the attachment it was started for and while that is still in progress, so a
file that another process detached, re-attached or cancelled meanwhile keeps what that process decided.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from typing import Any

from ..apis.common import BinaryContent
from ..apis.files import FileObject, FileRef
from ..apis.vector_io import (
    ChunkingStrategyStatic,
    InsertChunksRequest,
    StaticChunkingConfig,
    VectorStoreFileLastError,
)
from ..background import BackgroundTasks
from ..errors import BadRequestError, NotConfiguredError
from ..routing import ApiRouter
from .config import VectorIOConfig
from .embedding import Embedder
from .index import StoredChunk
from .index_cache import IndexCache
from .parsing import InvalidFileError, UnsupportedFileError, content_text, file_to_text
from .records import FileRecord, RecordStore, StoreRecord, now

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(
        self,
        records: RecordStore,
        indexes: IndexCache,
        embedder: Embedder,
        config: VectorIOConfig,
        files: ApiRouter | None,
    ) -> None:
        self.records = records
        self.indexes = indexes
        self.embedder = embedder
        self.config = config
        self.files = files
        self.background = BackgroundTasks("vector_io ingestion")
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}  # by (store, file), to cancel one
        self._slots = asyncio.Semaphore(config.max_concurrent_ingestions)

    @property
    def in_flight(self) -> int:
        """How many files this process is ingesting (or waiting to)."""
        return len(self._tasks)

    # -- raw chunks ----------------------------------------------------------------------------------------------

    async def insert_chunks(self, request: InsertChunksRequest) -> None:
        store = await self.records.store(request.vector_db_id)
        texts = [content_text(c.content) for c in request.chunks]
        missing = [i for i, c in enumerate(request.chunks) if c.embedding is None]
        computed = dict(zip(missing, await self.embedder.embed(store.embedding_model, [texts[i] for i in missing])))
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
        await (await self.indexes.get(store)).add(rows)

    # -- files ---------------------------------------------------------------------------------------------------

    async def source_file(self, file_id: str) -> FileObject:
        """The Files API's object for ``file_id`` (404 if there is none)."""
        if self.files is None:
            raise NotConfiguredError("attaching files needs the files API, which this stack does not serve")
        return await self.files.call_as("openai_retrieve_file", FileRef(file_id=file_id), FileObject)

    async def attach(
        self, store: StoreRecord, file_id: str, attributes: dict[str, Any], strategy: Any, batch_id: str | None = None
    ) -> FileRecord:
        """Record the file as in progress in the store (replacing an earlier attachment) and start ingesting it."""
        self.background.ensure_open()
        file = await self.source_file(file_id)
        if strategy is None and "chunking_strategy" in store.metadata:
            strategy = store.metadata["chunking_strategy"]
        if isinstance(strategy, dict):
            strategy = ChunkingStrategyStatic.model_validate(strategy) if strategy.get("type") == "static" else None
        record = FileRecord(
            id=file_id,
            created_at=now(),
            status="in_progress",
            vector_store_id=store.id,
            attributes=attributes,
            chunking_strategy=strategy,
            filename=file.filename,
            batch_id=batch_id,
            ingestion_id=uuid.uuid4().hex,
        )
        self.cancel(store.id, file_id)
        await self.records.put_file(record)
        key = (store.id, file_id)
        task = self.background.spawn(self._ingest(store, record), name=f"ingest-{store.id}-{file_id}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._tasks.pop(key, None) if self._tasks.get(key) is t else None)
        return record

    def cancel(self, store_id: str, file_id: str | None = None) -> None:
        """Stop this process's ingestion of a file, or of every file of the store."""
        for key in [k for k in self._tasks if k[0] == store_id and file_id in (None, k[1])]:
            self._tasks.pop(key).cancel()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for this process's ingestions to end; cancel the rest (their files are
        recorded as cancelled) and wait until they have stopped. No ingestion starts afterwards."""
        await self.background.drain(timeout)

    def _chunk_sizes(self, strategy: Any) -> tuple[int, int]:
        """The size and overlap a strategy asks for (``auto``: the config's); the model's limit cuts them later."""
        if isinstance(strategy, ChunkingStrategyStatic):
            return strategy.static.max_chunk_size_tokens, strategy.static.chunk_overlap_tokens
        return self.config.chunk_size_tokens, min(self.config.chunk_overlap_tokens, self.config.chunk_size_tokens // 2)

    async def _chunks(self, store: StoreRecord, record: FileRecord) -> tuple[list[StoredChunk], ChunkingStrategyStatic]:
        """The file's chunks with their embeddings (read, parsed, chunked in the store's embedding model's tokens,
        embedded), and the static strategy they were cut with."""
        content = await self.files.call_as("openai_retrieve_file_content", FileRef(file_id=record.id), BinaryContent)
        text = await asyncio.to_thread(file_to_text, record.filename, content.content, content.media_type)
        size, overlap = self._chunk_sizes(record.chunking_strategy)
        plan = await self.embedder.chunk(store.embedding_model, text, size, overlap)
        if not plan.chunks:
            raise InvalidFileError("the file has no text")
        if plan.capped and isinstance(record.chunking_strategy, ChunkingStrategyStatic):
            log.info(
                "%s in %s: chunks of %d tokens asked for, cut to %d: '%s' embeds no more whole",
                record.id,
                store.id,
                size,
                plan.size,
                store.embedding_model,
            )
        vectors = await self.embedder.embed(store.embedding_model, [p.text for p in plan.chunks])
        metadata = {"file_id": record.id, "filename": record.filename, "chunk_tokenizer": plan.tokenizer}
        rows = [
            StoredChunk(
                f"{record.id}-{i}",
                p.text,
                v,
                {**metadata, "token_count": p.token_count, "start": p.start, "end": p.end},
                record.id,
                dict(record.attributes),
            )
            for i, (p, v) in enumerate(zip(plan.chunks, vectors))
        ]
        used = StaticChunkingConfig.model_construct(max_chunk_size_tokens=plan.size, chunk_overlap_tokens=plan.overlap)
        return rows, ChunkingStrategyStatic(static=used)

    async def _ingest(self, store: StoreRecord, record: FileRecord) -> None:
        """Parse, chunk, embed and index one file; the outcome goes into its record."""
        outcome = record.model_copy()
        indexed = False
        try:
            async with self._slots:
                rows, outcome.chunking_strategy = await self._chunks(store, record)
                index = await self.indexes.get(store)
                await index.delete_file(record.id)
                indexed = True
                await index.add(rows)
            outcome.status, outcome.chunk_count = "completed", len(rows)
            outcome.usage_bytes = sum(len(r.content.encode()) for r in rows)
        except asyncio.CancelledError:
            outcome.status = "cancelled"
            await self._settle(store, outcome, indexed)
            raise
        except (UnsupportedFileError, InvalidFileError) as exc:
            outcome.status = "failed"
            code = "unsupported_file" if isinstance(exc, UnsupportedFileError) else "invalid_file"
            outcome.last_error = VectorStoreFileLastError(code=code, message=str(exc))
        except Exception as exc:
            log.warning("ingesting %s into %s failed: %s", record.id, store.id, exc)
            outcome.status = "failed"
            outcome.last_error = VectorStoreFileLastError(code="server_error", message=str(exc) or type(exc).__name__)
        await self._settle(store, outcome, indexed)

    async def _settle(self, store: StoreRecord, outcome: FileRecord, indexed: bool) -> None:
        """Write the outcome into the file's record if that is still this ingestion's and in progress. Chunks written
        by an ingestion that did not complete (failed, or the file was detached or cancelled meanwhile) are deleted; a
        file whose attributes changed meanwhile gets them on its chunks too (they were written with the old ones)."""

        def settle(current: FileRecord) -> bool:
            if current.ingestion_id != outcome.ingestion_id or current.status != "in_progress":
                return False
            current.status, current.last_error = outcome.status, outcome.last_error
            current.chunk_count, current.usage_bytes = outcome.chunk_count, outcome.usage_bytes
            if outcome.status == "completed":
                current.chunking_strategy = outcome.chunking_strategy  # what the chunks were cut with
            return True

        current = await self.records.update_file(store.id, outcome.id, settle)
        if not indexed or (current is not None and current.ingestion_id != outcome.ingestion_id):
            return  # a later attachment of the file owns its chunks
        try:
            index = await self.indexes.get(store)
            if current is None or current.status != "completed":
                await index.delete_file(outcome.id)
            elif current.attributes != outcome.attributes:
                await index.set_file_attributes(outcome.id, current.attributes)
        except Exception as exc:  # the store itself may be gone
            log.warning("cleaning up after ingesting %s into %s failed: %s", outcome.id, store.id, exc)
