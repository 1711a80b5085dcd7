"""Configuration of ``inline::sqlite-vec``. Imported by plugin.py: pydantic and the core only (no SQLite binding)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from llama_stack_core.storage import StoreConfig
from llama_stack_core.vector_io.engine import VectorIOConfig

PROVIDER_TYPE = "inline::sqlite-vec"
DEFAULT_DB_PATH = "~/.llama/vector_io/sqlite_vec.db"
DEFAULT_TOKENIZER = "porter unicode61 remove_diacritics 2"


class SqliteVecConfig(VectorIOConfig):
    """Chunks, vectors and the keyword index in one SQLite file; store/file records in ``persistence``."""

    persistence: StoreConfig = Field(
        default_factory=lambda: {"backend": "default", "namespace": "sqlite_vec"},
        validate_default=True,
        description="Key-value store for store, file and batch records: a backend named in storage.backends, or "
        "`default` for the registry's backend.",
    )
    db_path: str = Field(
        default=DEFAULT_DB_PATH,
        min_length=1,
        description="The SQLite file holding every store's chunks, vectors and keyword index ('~' "
        "is expanded; the directory is created). Several server processes may share it.",
    )
    sqlite_driver: Literal["auto", "apsw", "pysqlite3", "sqlite3"] = Field(
        default="auto",
        description="SQLite binding; 'auto' takes the first of apsw, pysqlite3, sqlite3 that can load extensions.",
    )
    keyword_tokenizer: str = Field(
        default=DEFAULT_TOKENIZER,
        min_length=1,
        description="FTS5 tokenizer of new stores' keyword index (existing stores keep theirs).",
    )
    mmap_size_mb: int = Field(
        default=1024,
        ge=0,
        description="SQLite memory-mapped I/O per connection (0: off). "
        "Vector search scans every vector, so mapping the file matters.",
    )
    cache_size_mb: int = Field(default=64, ge=1, description="SQLite page cache per connection.")
    busy_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long a write waits for another process's write."
    )

    @field_validator("keyword_tokenizer")
    @classmethod
    def _plain_tokenizer(cls, value: str) -> str:
        if any(c in value for c in "'\";"):
            raise ValueError("keyword_tokenizer: quotes and ';' are not allowed")
        return value

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "db_path": "${env.SQLITE_VEC_DB_PATH:=" + DEFAULT_DB_PATH + "}",
            "persistence": {"backend": "default", "namespace": "sqlite_vec"},
        }
