"""Ingestion: chunks into a store's index, inserted as they are (``/v1/vector-io/insert``) or made from an attached
file (parse, chunk, embed, insert) by a background task of the process that received the attach request.

The :class:`Ingestor` owns those tasks. The file's record says how its ingestion went; the task writes its outcome
with a compare-and-set, and only into the attachment it was started for and while that is still in progress, so a
file that another process detached, re-attached or cancelled meanwhile keeps what that process decided.

A process that dies mid-ingestion (``kill -9``) leaves its files in progress. Each process beats while it runs, and
every process on the store (and each one as it starts) looks for files whose process went silent: it takes them over
with a compare-and-set and ingests them again from the start (or marks them failed, if so configured).
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
from ..errors import BadRequestError, NotConfiguredError, NotFoundError
from ..heartbeat import Heartbeats
from ..routing import ApiRouter
from .config import VectorIOConfig
from .embedding import Embedder
from .index import StoredChunk
from .index_cache import IndexCache
from .parsing import InvalidFileError, UnsupportedFileError, content_text, file_to_text
from .records import FileRecord, RecordStore, RunningIngestion, StoreRecord, now

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
        #: this process, as the runner of the files it ingests; its beats say it is alive
        self.runner = uuid.uuid4().hex
        self.heartbeats = Heartbeats(records.kv, prefix="ingest-beat:")
        self._watcher: asyncio.Task[None] | None = None

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
            runner=self.runner,
        )
        self.cancel(store.id, file_id)
        await self.records.put_file(record)
        await self._start(store, record)
        return record

    async def _start(self, store: StoreRecord, record: FileRecord) -> None:
        """Note the file as ingested by this process, then ingest it in the background."""
        await self.records.mark_running(record)
        key = (store.id, record.id)
        task = self.background.spawn(self._ingest(store, record), name=f"ingest-{store.id}-{record.id}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._tasks.pop(key, None) if self._tasks.get(key) is t else None)

    # -- interrupted ingestions ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take over what dead processes left in progress, then keep beating (and looking) while this one runs."""
        await self.heartbeats.beat(self.runner, self.runner)
        await self.recover()
        self._watcher = asyncio.create_task(self._watch(), name="vector_io ingestion heartbeat")

    async def _watch(self) -> None:
        stale = self.config.ingestion_stale_after_seconds
        beats = 0
        while True:
            await asyncio.sleep(stale / 4)
            try:
                await self.heartbeats.beat(self.runner, self.runner)
                beats += 1
                if beats % 2 == 0:
                    await self.recover()
            except Exception as exc:  # a store blip must not end the heartbeat
                log.warning("vector_io ingestion heartbeat failed: %s", exc)

    async def recover(self) -> int:
        """Resume (or fail) every file in progress whose process has been silent for ``ingestion_stale_after_seconds``;
        answer how many were taken over."""
        taken = 0
        silent: dict[str, bool] = {}
        for entry in await self.records.running():
            if entry.runner == self.runner:
                continue
            if entry.runner not in silent:
                quiet = await self.heartbeats.silent_for(entry.runner)
                silent[entry.runner] = quiet >= self.config.ingestion_stale_after_seconds
            if silent[entry.runner]:
                taken += await self._take_over(entry)
        return taken

    async def _take_over(self, entry: RunningIngestion) -> int:
        resume = self.config.resume_interrupted_ingestions
        ingestion_id = uuid.uuid4().hex

        def claim(record: FileRecord) -> bool:
            if record.status != "in_progress" or record.runner != entry.runner:
                return False
            record.runner, record.ingestion_id = self.runner, ingestion_id
            if not resume:
                record.status = "failed"
                record.last_error = VectorStoreFileLastError(
                    code="server_error", message="interrupted: the server ingesting it stopped; attach it again"
                )
            return True

        try:
            store = await self.records.store(entry.vector_store_id)
        except NotFoundError:
            await self.records.clear_running(entry.vector_store_id, entry.file_id)
            return 0
        record = await self.records.update_file(entry.vector_store_id, entry.file_id, claim)
        if record is None or record.ingestion_id != ingestion_id:  # gone, settled, or another process took it
            if record is None or record.status != "in_progress":
                await self.records.clear_running(entry.vector_store_id, entry.file_id)
            return 0
        if not resume:
            await self.records.clear_running(entry.vector_store_id, entry.file_id)
            log.warning("%s in %s: its ingestion was interrupted; marked failed", entry.file_id, store.id)
            return 1
        log.warning("%s in %s: its ingestion was interrupted; ingesting it again", entry.file_id, store.id)
        await self._start(store, record)
        return 1

    def cancel(self, store_id: str, file_id: str | None = None) -> None:
        """Stop this process's ingestion of a file, or of every file of the store."""
        for key in [k for k in self._tasks if k[0] == store_id and file_id in (None, k[1])]:
            self._tasks.pop(key).cancel()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for this process's ingestions to end; cancel the rest (their files are
        recorded as cancelled) and wait until they have stopped. No ingestion starts afterwards."""
        if self._watcher is not None:
            self._watcher.cancel()
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
        if current is None or current.ingestion_id == outcome.ingestion_id:
            await self.records.clear_running(store.id, outcome.id)
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
