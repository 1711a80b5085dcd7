"""The settings every vector_io provider built on the engine has."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..storage import StoreConfig


class VectorIOConfig(BaseModel):
    """Settings every vector_io provider built on the engine has; backends subclass it with their own fields."""

    model_config = ConfigDict(extra="forbid")

    persistence: StoreConfig = Field(description="Where store, file and batch records live (shared by processes).")
    chunk_size_tokens: int = Field(
        default=512,
        ge=16,
        le=8192,
        description="Chunk size of the 'auto' strategy, in the embedding model's tokens; cut to what the model embeds "
        "whole (all-MiniLM-L6-v2: 254), as is a larger static max_chunk_size_tokens (logged; the file's "
        "chunking_strategy shows the size used).",
    )
    chunk_overlap_tokens: int = Field(default=64, ge=0, description="Overlap for the 'auto' strategy.")
    embedding_batch_size: int = Field(default=64, ge=1, description="Texts per embeddings call during ingestion.")
    max_concurrent_ingestions: int = Field(default=2, ge=1, description="Files ingested at once per process.")
    ingestion_stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A file whose ingesting server has not signalled for this long is taken as interrupted (its "
        "process died): another server on the store, or the next one to start, takes it over. A running server "
        "signals four times within it.",
    )
    resume_interrupted_ingestions: bool = Field(
        default=True,
        description="Ingest an interrupted file again from the start (true), or mark it failed (false); either way "
        "no file stays in_progress for ever.",
    )
    default_query_chunks: int = Field(default=3, ge=1, description="k of /v1/vector-io/query without max_chunks.")
    rewrite_model: str | None = Field(default=None, description="LLM used by search's rewrite_query.")
