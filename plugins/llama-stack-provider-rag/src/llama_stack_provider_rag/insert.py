"""Inserting documents into a vector store for the RAG tool.

Text is chunked here, in the store's embedding model's own tokens (the engine's :class:`Embedder`, so a chunk is at
most what the model embeds whole), and inserted as chunks through ``/v1/vector-io/insert``. A Files API file
(``file-...``) is attached to the store instead, so the engine parses and chunks it like any file of a vector store;
the insert waits until it is ingested. URLs other than file ids are refused: nothing is fetched from the network.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError

from llama_stack_core.apis.common import ImageContentItem, TextContentItem
from llama_stack_core.apis.resources import URL, VectorDB
from llama_stack_core.apis.tool_runtime import RAGDocument
from llama_stack_core.apis.vector_io import (
    Chunk,
    ChunkingStrategyStatic,
    InsertChunksRequest,
    StaticChunkingConfig,
    VectorStoreFile,
    VectorStoreFileCreateRequest,
    VectorStoreFileRef,
)
from llama_stack_core.errors import BadRequestError, UpstreamTimeoutError
from llama_stack_core.routing import ApiRouter
from llama_stack_core.vector_io.chunking import chunk_spans, estimated_spans
from llama_stack_core.vector_io.embedding import Embedder

from .config import RAGRuntimeConfig


def document_text(document: RAGDocument, where: str) -> str | None:
    """The document's text, or None when it names a Files API file (400 for images and web URLs)."""
    content = document.content
    if isinstance(content, URL):
        if content.uri.startswith("file-"):
            return None
        raise BadRequestError(
            f"{where}.content: only Files API ids (file-...) can be given as a URL; upload the document with "
            "POST /v1/files first (nothing is fetched from the network)",
            param=f"{where}.content",
        )
    if isinstance(content, str):
        return content
    items = content if isinstance(content, list) else [content]
    if any(isinstance(item, ImageContentItem) for item in items):
        raise BadRequestError(f"{where}.content: images cannot be inserted, only text", param=f"{where}.content")
    return "\n".join(item.text for item in items if isinstance(item, TextContentItem))


class Inserter:
    def __init__(self, config: RAGRuntimeConfig, vector_io: ApiRouter, inference: ApiRouter | None) -> None:
        self.config = config
        self.vector_io = vector_io
        self.embedder = Embedder(inference, batch_size=64)

    async def insert(self, store_id: str, documents: list[RAGDocument], chunk_size: int | None) -> dict[str, Any]:
        """Index every document into the store; what was inserted, per document (chunks, or the file's status)."""
        _, _, store = await self.vector_io.resolve("vector_db", store_id)  # 404 for an unknown store
        texts = [document_text(d, f"documents[{i}]") for i, d in enumerate(documents)]
        inserted: dict[str, Any] = {}
        chunks: list[Chunk] = []
        for document, text in zip(documents, texts, strict=True):
            if text is None:
                continue
            pieces = await self._chunks(store, text, chunk_size)
            attributes = {**document.metadata, "document_id": document.document_id}
            chunks.extend(
                Chunk(content=p, metadata=attributes, chunk_id=f"{document.document_id}-{i}")
                for i, p in enumerate(pieces)
            )
            inserted[document.document_id] = {"chunks": len(pieces)}
        if chunks:
            await self.vector_io.call("insert_chunks", InsertChunksRequest(vector_db_id=store_id, chunks=chunks))
        for document, text in zip(documents, texts, strict=True):
            if text is None:
                inserted[document.document_id] = await self._attach(store_id, document, chunk_size)
        return inserted

    async def _chunks(self, store: Any, text: str, chunk_size: int | None) -> list[str]:
        size = chunk_size or self.config.chunk_size_tokens
        overlap = min(self.config.chunk_overlap_tokens * size // self.config.chunk_size_tokens, size // 2)
        model = store.embedding_model if isinstance(store, VectorDB) else None
        if model is None or self.embedder.inference is None:
            return [c.text for c in chunk_spans(text, estimated_spans(text), size, overlap) if c.text.strip()]
        plan = await self.embedder.chunk(model, text, size, overlap)
        return [c.text for c in plan.chunks]

    async def _attach(self, store_id: str, document: RAGDocument, chunk_size: int | None) -> dict[str, Any]:
        file_id = document.content.uri  # type: ignore[union-attr]
        strategy = None
        if chunk_size is not None:
            try:
                static = StaticChunkingConfig(max_chunk_size_tokens=chunk_size, chunk_overlap_tokens=chunk_size // 8)
            except ValidationError as exc:
                raise BadRequestError(
                    f"chunk_size_in_tokens for a file: {exc.errors()[0]['msg']}", param="chunk_size_in_tokens"
                ) from None
            strategy = ChunkingStrategyStatic(static=static)
        attributes = {**document.metadata, "document_id": document.document_id}
        record = await self.vector_io.call_as(
            "openai_attach_file_to_vector_store",
            VectorStoreFileCreateRequest(
                vector_store_id=store_id, file_id=file_id, attributes=attributes, chunking_strategy=strategy
            ),
            VectorStoreFile,
        )
        deadline = time.monotonic() + self.config.file_ingestion_timeout
        while record.status == "in_progress":
            if time.monotonic() > deadline:
                raise UpstreamTimeoutError(
                    f"file {file_id} was not ingested into {store_id} within {self.config.file_ingestion_timeout:g} s"
                )
            await asyncio.sleep(0.05)
            record = await self.vector_io.call_as(
                "openai_retrieve_vector_store_file",
                VectorStoreFileRef(vector_store_id=store_id, file_id=file_id),
                VectorStoreFile,
            )
        if record.status != "completed":
            reason = record.last_error.message if record.last_error else record.status
            raise BadRequestError(f"file {file_id} could not be ingested: {reason}", param="documents")
        return {"file_id": file_id, "status": record.status}
