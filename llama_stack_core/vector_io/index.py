"""The contract a vector backend implements: one :class:`VectorIndex` per vector store.

A backend package (sqlite-vec, pgvector, faiss, ...) implements :class:`VectorIndexFactory` and :class:`VectorIndex`
and nothing else; the shared :class:`~llama_stack_core.vector_io.engine.VectorStoreEngine` does the Vector Stores API,
ingestion (parse, chunk, embed), keyword/hybrid fusion and metadata. Everything here is async; a backend keeps
blocking work off the event loop (a dedicated thread for SQLite, an async driver for PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ..apis.resources import VectorDB
from ..apis.vector_io import SearchFilter


@dataclass(slots=True)
class StoredChunk:
    """A chunk as a backend stores it."""

    chunk_id: str
    content: str
    embedding: list[float]
    #: The chunk's metadata (what ``/v1/vector-io/insert`` sent, or the ingestion's document metadata).
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The file it came from (None for raw inserted chunks). Deleting the file deletes its chunks.
    file_id: str | None = None
    #: The file's attributes, the keys search filters compare against. Updated with the file's attributes.
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ScoredChunk:
    chunk: StoredChunk
    #: Higher is better. Vector search: cosine similarity. Keyword search: the backend's relevance, > 0.
    score: float


@runtime_checkable
class VectorIndex(Protocol):
    """One vector store's chunks, with a vector index and a full-text index over ``content``."""

    async def add(self, chunks: list[StoredChunk]) -> None:
        """Insert chunks; an existing ``chunk_id`` is replaced."""

    async def delete_chunks(self, chunk_ids: list[str]) -> int:
        """Delete chunks by id; return how many existed."""

    async def delete_file(self, file_id: str) -> int:
        """Delete every chunk of a file at once; return how many existed."""

    async def set_file_attributes(self, file_id: str, attributes: dict[str, Any]) -> None:
        """Replace the attributes of every chunk of a file."""

    async def file_chunks(self, file_id: str) -> list[StoredChunk]:
        """A file's chunks in insertion order."""

    async def search_vector(
        self,
        embedding: list[float],
        k: int,
        filters: SearchFilter | None = None,
    ) -> list[ScoredChunk]:
        """The ``k`` chunks nearest to ``embedding`` (cosine) that match ``filters``, best first."""

    async def search_keyword(self, query: str, k: int, filters: SearchFilter | None = None) -> list[ScoredChunk]:
        """The ``k`` chunks whose content best matches ``query`` by full-text relevance, best first."""

    async def count(self) -> int: ...

    async def drop(self) -> None:
        """Delete the store's chunks and indexes."""


@runtime_checkable
class VectorIndexFactory(Protocol):
    """What a vector backend provider gives the engine."""

    async def open_index(self, store: VectorDB) -> VectorIndex:
        """The index of a store, created if it does not exist yet (idempotent; called by every server process)."""

    async def close(self) -> None: ...


def matches(filters: SearchFilter | None, attributes: dict[str, Any]) -> bool:
    """Evaluate an OpenAI attribute filter in Python (for backends that filter after the search)."""
    if filters is None:
        return True
    if filters.type in ("and", "or"):
        results = (matches(f, attributes) for f in filters.filters)
        return all(results) if filters.type == "and" else any(results)
    if filters.key not in attributes:
        return filters.type in ("ne", "nin")
    actual, expected = attributes[filters.key], filters.value
    try:
        match filters.type:
            case "eq":
                return actual == expected
            case "ne":
                return actual != expected
            case "gt":
                return actual > expected
            case "gte":
                return actual >= expected
            case "lt":
                return actual < expected
            case "lte":
                return actual <= expected
            case "in":
                return actual in expected
            case "nin":
                return actual not in expected
    except TypeError:  # comparing a string attribute with a number: no match
        return False
    return False


SearchMode = Literal["vector", "keyword", "hybrid"]
