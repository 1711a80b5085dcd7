"""Configuration of ``inline::rag-runtime``. Imported by plugin.py, so it stays light (pydantic only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROVIDER_TYPE = "inline::rag-runtime"
DEFAULT_TOOL_GROUP = "builtin::rag"


class RAGRuntimeConfig(BaseModel):
    """How the RAG tool searches and inserts."""

    model_config = ConfigDict(extra="forbid")

    default_max_results: int = Field(default=5, ge=1, le=50, description="Chunks knowledge_search returns by default.")
    chunk_size_tokens: int = Field(
        default=512,
        ge=16,
        le=8192,
        description="Chunk size of inserted documents when the caller names none, in the store's embedding model's "
        "tokens; cut to what that model embeds whole (all-MiniLM-L6-v2: 254).",
    )
    chunk_overlap_tokens: int = Field(default=64, ge=0, description="Overlap of inserted chunks (cut alike).")
    file_ingestion_timeout: float = Field(
        default=120, gt=0, description="Seconds an insert waits for a Files API file to be ingested into the store."
    )
    default_tool_group: bool = Field(default=True, description="Register the builtin::rag tool group at start-up.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {}
