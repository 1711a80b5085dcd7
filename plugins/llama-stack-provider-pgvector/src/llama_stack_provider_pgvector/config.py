"""Configuration of ``remote::pgvector``. Imported by plugin.py: pydantic and the core only (no psycopg)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr

from llama_stack_core.vector_io.engine import VectorIOConfig

PROVIDER_TYPE = "remote::pgvector"


class PGVectorConfig(VectorIOConfig):
    """A PostgreSQL database with the pgvector extension: where chunks live, and how they are indexed.

    Connect with ``dsn`` (a libpq URI or ``key=value`` string; it wins when set) or with the separate fields.
    """

    host: str = Field(default="localhost", description="Server host name, IP address or Unix socket directory.")
    port: int = Field(default=5432, ge=1, le=65535)
    db: str = Field(
        default="postgres", validation_alias=AliasChoices("db", "database", "dbname"), description="Database name."
    )
    user: str = Field(default="postgres")
    password: SecretStr | None = Field(default=None)
    dsn: SecretStr | None = Field(
        default=None, description="A full libpq connection string or URI; wins over the separate fields."
    )
    pool_min_size: int = Field(default=1, ge=0, le=100, description="Connections the pool keeps open.")
    pool_max_size: int = Field(default=8, ge=1, le=1000, description="Most connections the pool opens.")
    connect_timeout: float = Field(default=15.0, gt=0, description="Seconds to wait for a connection.")
    hnsw_m: int = Field(
        default=16, ge=2, le=100, description="HNSW graph degree (fixed when a store's index is created)."
    )
    hnsw_ef_construction: int = Field(
        default=64, ge=4, le=1000, description="HNSW build-time candidate list (fixed when a store is created)."
    )
    hnsw_ef_search: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="HNSW query-time candidate list (hnsw.ef_search): higher is better recall, slower queries.",
    )
    hnsw_iterative_scan: Literal["off", "relaxed_order", "strict_order"] = Field(
        default="relaxed_order",
        description="pgvector >= 0.8: keep scanning the HNSW graph until a filtered query "
        "has k results (hnsw.iterative_scan).",
    )
    hnsw_max_scan_tuples: int = Field(
        default=20000,
        ge=1,
        description="pgvector >= 0.8: most tuples an iterative "
        "scan visits (hnsw.max_scan_tuples) before the exact fallback.",
    )
    exact_filtered_search: bool = Field(
        default=False,
        description="Answer every filtered vector search exactly "
        "(the attributes index finds the matching chunks, all are compared): "
        "recall 1.0, slower for filters matching a large share of a big store.",
    )
    filtered_exact_below: int = Field(
        default=2000,
        ge=0,
        description="A filtered vector search first counts the "
        "matching chunks, up to this many: fewer are all compared exactly (recall "
        "1.0, fast when few match); at least this many walk the HNSW graph with the "
        "filter applied (fast when many match). PostgreSQL cannot estimate how many "
        "chunks an attribute filter matches, so the choice is made here. 0: always "
        "walk the graph.",
    )
    bulk_load_min_rows: int = Field(
        default=5000,
        ge=0,
        description="An add of at least this many chunks into a "
        "store holding no more than it adds builds the HNSW index once after loading "
        "(several times faster than row by row; the store is locked meanwhile). "
        "0: never.",
    )
    hnsw_build_memory: str = Field(
        default="1GB",
        pattern=r"^[1-9][0-9]*\s*(kB|MB|GB)$",
        description="maintenance_work_mem for those index builds (a build that does not fit is much slower).",
    )
    text_search_config: str = Field(
        default="english",
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$",
        description="PostgreSQL text search configuration of new stores' keyword "
        "index: 'english' stems words and skips stop words (identifiers such as "
        "XK-42-ZETA are kept whole either way); 'simple' matches words exactly, in "
        "any language.",
    )
    table_prefix: str = Field(
        default="llama_stack_vs",
        pattern=r"^[a-z_][a-z0-9_]{0,19}$",
        description="Prefix of the tables this provider creates.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        connection = {
            "host": "${env.POSTGRES_HOST:=localhost}",
            "port": "${env.POSTGRES_PORT:=5432}",
            "db": "${env.POSTGRES_DB:=llamastack}",
            "user": "${env.POSTGRES_USER:=llamastack}",
            "password": "${env.POSTGRES_PASSWORD:=}",
        }
        # Store/file records in the same database, so every server process on it sees the same state.
        return {
            **connection,
            "persistence": {"backend": {"type": "kv_postgres", **connection}, "namespace": "vector_io_pgvector"},
        }
