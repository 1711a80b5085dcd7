"""The pgvector backend of the VectorIO engine: one PostgreSQL table per vector store.

Layout (all state is in the database, so any number of server processes can share it):

- ``<prefix>_catalog``: one row per store (store id, table name, dimension, text search configuration).
- ``<prefix>_<slug>_<hash>``: the store's chunks: ``embedding vector(dim)`` with an HNSW index
  (``vector_cosine_ops``), ``content_tsv tsvector`` generated from ``content`` with a GIN index (keyword search),
  ``attributes jsonb`` with a GIN ``jsonb_path_ops`` index (filters), and ``(file_id, seq)`` for per-file work.

Schema changes run in a transaction holding a transaction-scoped advisory lock (one per store, one for the
extension and the catalog), so two processes opening or dropping the same store at once never collide on
``CREATE ... IF NOT EXISTS`` (which alone is not safe under concurrency in PostgreSQL).

Queries go through psycopg 3's async driver and a connection pool; nothing blocks the event loop. Each pooled
connection is configured once (pgvector types, ``hnsw.ef_search``, ``hnsw.iterative_scan``), so a search is one
round trip.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psycopg
from pgvector import Vector
from pgvector.psycopg import register_vector_async
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from llama_stack_core.apis.resources import VectorDB
from llama_stack_core.errors import (
    BadRequestError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
)
from llama_stack_core.storage.postgres import conninfo
from llama_stack_core.vector_io.index import ScoredChunk, StoredChunk

from .config import PGVectorConfig
from .filters import filter_sql

log = logging.getLogger(__name__)

#: pgvector's HNSW index takes ``vector`` up to 2000 dimensions and ``halfvec`` up to 4000.
MAX_VECTOR_HNSW_DIM = 2000
#: pgvector's largest ``vector`` column
MAX_VECTOR_DIM = 16000
MAX_HALFVEC_HNSW_DIM = 4000
#: Most words of a keyword query that become search terms.
MAX_QUERY_TERMS = 64

_LOCK_PREFIX = "llama_stack_pgvector:"
#: How long, and for how many filters, a store remembers whether a filter matches few chunks (see _few_match).
_PLAN_MEMORY_SECONDS = 60.0
_PLAN_MEMORY_SIZE = 256
#: An add's staging table for COPY (temporary: private to the transaction, dropped at its end).
_STAGE = "llama_stack_pgvector_stage"
_SQL_STAGE = (
    f"CREATE TEMPORARY TABLE {_STAGE} (ord integer, chunk_id text, file_id text, content text, "
    "metadata jsonb, attributes jsonb, embedding vector) ON COMMIT DROP"
)
_SQL_COPY = (
    f"COPY pg_temp.{_STAGE} (ord, chunk_id, file_id, content, metadata, attributes, embedding) "
    "FROM STDIN (FORMAT BINARY)"
)
_STAGE_TYPES = ["int4", "text", "text", "text", "jsonb", "jsonb", "vector"]
_COLUMNS = "chunk_id, content, embedding, metadata, file_id, attributes"
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w")


def table_name(prefix: str, store_id: str) -> str:
    """A stable, valid, collision-free table name for a store (at most 54 characters, so suffixes fit in 63)."""
    slug = re.sub(r"[^a-z0-9]+", "_", store_id.lower()).strip("_")[:20]
    digest = hashlib.sha256(store_id.encode()).hexdigest()[:12]
    return f"{prefix}_{slug}_{digest}" if slug else f"{prefix}_{digest}"


def query_terms(query: str) -> list[str]:
    """The terms of a keyword query: ``"quoted phrases"`` and whitespace-separated words (each becomes a phrase of
    its own lexemes, so ``XK-42-ZETA`` must appear as a whole); terms without a letter or digit are dropped."""
    terms: list[str] = []
    for match in _TERM.finditer(query):
        term = match.group(1) if match.group(1) is not None else match.group(2)
        if _WORD.search(term) and term not in terms:
            terms.append(term)
    return terms[:MAX_QUERY_TERMS]


def _json_dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _summary(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class PGVectorIndexFactory:
    """Opens one :class:`PGVectorIndex` per store on a shared connection pool. Call :meth:`start` first (or let
    :meth:`open_index` do it)."""

    def __init__(self, config: PGVectorConfig) -> None:
        self.config = config
        self.catalog = f"{config.table_prefix}_catalog"
        self.pgvector_version: tuple[int, ...] = ()
        self.iterative_scan = False
        self._pool: AsyncConnectionPool | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the server (pgvector, text search config), create the extension and the catalog if needed, open
        the pool. Raises ConfigError with the reason when the database cannot be used."""
        if self._pool is not None:
            return
        info = conninfo(self.config)
        timeout = self.config.connect_timeout
        try:
            conn = await psycopg.AsyncConnection.connect(info, autocommit=True, connect_timeout=max(2, int(timeout)))
        except psycopg.Error as exc:
            raise ConfigError(f"remote::pgvector cannot connect to PostgreSQL: {_summary(exc)}") from None
        try:
            await self._setup(conn)
        except psycopg.Error as exc:  # e.g. no right to create the catalog table
            raise ConfigError(f"remote::pgvector cannot prepare the database: {_summary(exc)}") from None
        finally:
            await conn.close()
        pool = AsyncConnectionPool(
            info,
            min_size=self.config.pool_min_size,
            max_size=max(self.config.pool_max_size, self.config.pool_min_size),
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            timeout=timeout,
            name="pgvector",
        )
        try:
            await pool.open(wait=True, timeout=timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise ConfigError(f"remote::pgvector cannot open its connection pool: {_summary(exc)}") from None
        if self._pool is None:
            self._pool = pool
        else:  # started twice concurrently: keep the first pool
            await pool.close()

    async def _setup(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK_PREFIX + self.catalog])
            row = await (await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).fetchone()
            if row is None:
                try:
                    async with conn.transaction():  # a savepoint, so a refusal leaves the outer one usable
                        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg.Error as exc:
                    raise ConfigError(
                        "remote::pgvector needs the pgvector extension in this database and could not create it "
                        f"({_summary(exc)}); have a superuser run: CREATE EXTENSION vector"
                    ) from None
                row = await (
                    await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                ).fetchone()
            self.pgvector_version = _version(row[0])
            if self.pgvector_version < (0, 5, 0):
                raise ConfigError(
                    f"remote::pgvector needs pgvector >= 0.5.0 (HNSW indexes); the database has "
                    f"{row[0]}: ALTER EXTENSION vector UPDATE"
                )
            self.iterative_scan = self.pgvector_version >= (0, 8, 0) and self.config.hnsw_iterative_scan != "off"
            try:
                async with conn.transaction():
                    await conn.execute("SELECT %s::text::regconfig", [self.config.text_search_config])
            except psycopg.Error:
                names = [
                    r[0]
                    for r in await (await conn.execute("SELECT cfgname FROM pg_ts_config ORDER BY cfgname")).fetchall()
                ]
                raise ConfigError(
                    f"remote::pgvector: unknown text_search_config "
                    f"'{self.config.text_search_config}' (the server has: {', '.join(names)})"
                ) from None
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (store_id text PRIMARY KEY, table_name text NOT NULL UNIQUE, "
                    "dimension integer NOT NULL, text_search_config text NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(self.catalog))
            )

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Run once per pooled connection: pgvector types, and the session settings every query relies on."""
        await register_vector_async(conn)
        set_json_loads(orjson.loads, conn)
        set_json_dumps(_json_dumps, conn)
        settings = {
            "hnsw.ef_search": str(self.config.hnsw_ef_search),
            # JIT compilation costs tens of milliseconds on a query over many rows; never worth it here.
            "jit": "off",
        }
        if self.iterative_scan:
            settings["hnsw.iterative_scan"] = self.config.hnsw_iterative_scan
            settings["hnsw.max_scan_tuples"] = str(self.config.hnsw_max_scan_tuples)
        await conn.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(settings)),
            [item for pair in settings.items() for item in pair],
        )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def connection(self, store_id: str | None = None) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; database failures become the stack's errors (never a 500 with a traceback)."""
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise ServiceUnavailableError("remote::pgvector: no PostgreSQL connection available in time") from None
        except psycopg.errors.UndefinedTable:
            raise NotFoundError(f"vector store '{store_id}' no longer exists in PostgreSQL") from None
        except psycopg.DataError as exc:  # wrong dimension, NaN in a vector, NUL in JSON, ...
            raise BadRequestError(f"PostgreSQL refused the data: {_summary(exc)}") from None
        except psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"remote::pgvector: PostgreSQL unavailable: {_summary(exc)}") from None

    # -- stores --------------------------------------------------------------------------------------------------

    async def open_index(self, store: VectorDB) -> PGVectorIndex:
        store_id = store.provider_resource_id or store.identifier
        dimension = store.embedding_dimension
        if dimension > MAX_VECTOR_DIM:
            raise BadRequestError(
                f"embedding_dimension: pgvector stores vectors of at most {MAX_VECTOR_DIM} dimensions, not {dimension}",
                param="embedding_dimension",
            )
        async with self.connection(store_id) as conn:
            row = await self._catalog_row(conn, store_id)
            if row is None or not row[3]:
                row = await self._create(conn, store_id, dimension)
        table, stored_dimension, ts_config, _ = row
        if stored_dimension != dimension:
            raise ConflictError(
                f"vector store '{store_id}' exists in PostgreSQL with dimension {stored_dimension}, not {dimension}"
            )
        return PGVectorIndex(self, store_id, table, dimension, ts_config)

    async def _catalog_row(self, conn: psycopg.AsyncConnection[Any], store_id: str) -> tuple[Any, ...] | None:
        query = sql.SQL(
            "SELECT table_name, dimension, text_search_config, to_regclass(quote_ident(table_name)) "
            "IS NOT NULL FROM {} WHERE store_id = %s"
        ).format(sql.Identifier(self.catalog))
        return await (await conn.execute(query, [store_id])).fetchone()

    async def _create(self, conn: psycopg.AsyncConnection[Any], store_id: str, dimension: int) -> tuple[Any, ...]:
        """Create a store's table and indexes and record it, once, whoever else is trying at the same moment."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK_PREFIX + store_id])
            row = await self._catalog_row(conn, store_id)  # someone may have finished while we waited
            if row is not None and row[3]:
                return row
            table = row[0] if row is not None else table_name(self.config.table_prefix, store_id)
            ts_config = self.config.text_search_config
            for statement in self._ddl(table, dimension, ts_config):
                await conn.execute(statement)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (store_id, table_name, dimension, text_search_config) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (store_id) DO UPDATE SET table_name = EXCLUDED.table_name, "
                    "dimension = EXCLUDED.dimension, text_search_config = EXCLUDED.text_search_config"
                ).format(sql.Identifier(self.catalog)),
                [store_id, table, dimension, ts_config],
            )
        log.info("created pgvector table %s for vector store %s (dimension %d)", table, store_id, dimension)
        return table, dimension, ts_config, True

    def _ddl(self, table: str, dimension: int, ts_config: str) -> list[sql.Composed]:
        t = sql.Identifier(table)
        statements = [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} ("
                "seq bigint GENERATED ALWAYS AS IDENTITY, "
                "chunk_id text PRIMARY KEY, "
                "file_id text, "
                "content text NOT NULL, "
                "metadata jsonb NOT NULL DEFAULT '{{}}', "
                "attributes jsonb NOT NULL DEFAULT '{{}}', "
                "embedding vector({dim}) NOT NULL, "
                "content_tsv tsvector GENERATED ALWAYS AS (to_tsvector({cfg}::regconfig, content)) STORED)"
            ).format(t=t, dim=sql.Literal(dimension), cfg=sql.Literal(ts_config))
        ]
        if dimension <= MAX_HALFVEC_HNSW_DIM:
            statements.append(self.hnsw_index_sql(table, dimension))
        else:
            log.warning(
                "vector store table %s: %d dimensions is more than an HNSW index takes (%d): searches scan every chunk",
                table,
                dimension,
                MAX_HALFVEC_HNSW_DIM,
            )
        statements += [
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (content_tsv)").format(
                sql.Identifier(table + "_tsv"), t
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (attributes jsonb_path_ops)").format(
                sql.Identifier(table + "_attrs"), t
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (file_id, seq)").format(sql.Identifier(table + "_file"), t),
        ]
        return statements

    def hnsw_index_sql(self, table: str, dimension: int) -> sql.Composed:
        """The store's HNSW index (cosine): on ``embedding`` up to 2000 dimensions, on its ``halfvec`` cast up to
        4000 (pgvector's limits)."""
        column = (
            sql.SQL("embedding vector_cosine_ops")
            if dimension <= MAX_VECTOR_HNSW_DIM
            else sql.SQL("(embedding::halfvec({})) halfvec_cosine_ops").format(sql.Literal(dimension))
        )
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ({}) WITH (m = {}, ef_construction = {})"
        ).format(
            sql.Identifier(table + "_hnsw"),
            sql.Identifier(table),
            column,
            sql.Literal(self.config.hnsw_m),
            sql.Literal(self.config.hnsw_ef_construction),
        )

    async def _drop(self, conn: psycopg.AsyncConnection[Any], store_id: str, table: str) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK_PREFIX + store_id])
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
            await conn.execute(
                sql.SQL("DELETE FROM {} WHERE store_id = %s").format(sql.Identifier(self.catalog)), [store_id]
            )


class PGVectorIndex:
    """One store's chunks in its own table. Stateless apart from the rendered SQL: every process sees the same."""

    def __init__(
        self, factory: PGVectorIndexFactory, store_id: str, table: str, dimension: int, ts_config: str
    ) -> None:
        self.factory = factory
        self.store_id = store_id
        self.table = table
        self.dimension = dimension
        self.ts_config = ts_config
        self.ef_search = factory.config.hnsw_ef_search
        self._few_matches: dict[str, tuple[bool, float]] = {}  # filter -> (fewer than the threshold?, when)
        self.indexed = dimension <= MAX_HALFVEC_HNSW_DIM
        t = sql.Identifier(table)
        # The expression the HNSW index is on (and that ORDER BY must repeat for the index to be used).
        if dimension <= MAX_VECTOR_HNSW_DIM or not self.indexed:
            self._vec, self._param = "embedding", "%s"
        else:
            self._vec, self._param = f"(embedding::halfvec({dimension}))", f"%s::vector::halfvec({dimension})"

        def render(template: str, **parts: Any) -> str:
            return sql.SQL(template).format(t=t, **parts).as_string(None)

        self._sql_upsert = render(
            "INSERT INTO {t} (chunk_id, file_id, content, metadata, attributes, embedding) "
            "SELECT chunk_id, file_id, content, metadata, attributes, embedding FROM pg_temp.{stage} ORDER BY ord "
            "ON CONFLICT (chunk_id) DO UPDATE SET file_id = EXCLUDED.file_id, content = EXCLUDED.content, "
            "metadata = EXCLUDED.metadata, attributes = EXCLUDED.attributes, embedding = EXCLUDED.embedding",
            stage=sql.Identifier(_STAGE),
        )
        self._sql_count_upto = render("SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT %s) AS held")
        self._sql_drop_hnsw = render("DROP INDEX IF EXISTS {i}", i=sql.Identifier(table + "_hnsw"))
        self._sql_create_hnsw = factory.hnsw_index_sql(table, dimension).as_string(None)
        self._sql_delete = render("DELETE FROM {t} WHERE chunk_id = ANY(%s)")
        self._sql_delete_file = render("DELETE FROM {t} WHERE file_id = %s")
        self._sql_attributes = render("UPDATE {t} SET attributes = %s WHERE file_id = %s")
        self._sql_file_chunks = render(f"SELECT {_COLUMNS} FROM {{t}} WHERE file_id = %s ORDER BY seq")
        self._sql_count = render("SELECT count(*) FROM {t}")
        self._sql_count_matches = render("SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {{where}} LIMIT %s) AS m")
        self._sql_vector = render(f"SELECT {_COLUMNS}, {self._vec} <=> {self._param} AS distance FROM {{t}}")
        # Each query term becomes a phrase of its own lexemes; `all_terms` joins them with AND, `any_terms` with OR.
        # Terms that are only stop words are skipped (before phraseto_tsquery, which would send a NOTICE).
        keyword = (
            "WITH q AS MATERIALIZED (SELECT string_agg('(' || p::text || ')', ' & ')::tsquery AS all_terms, "
            "string_agg('(' || p::text || ')', ' | ')::tsquery AS any_terms FROM (SELECT phraseto_tsquery({cfg}, w) AS p "
            "FROM unnest(%s::text[]) AS w WHERE length(to_tsvector({cfg}, w)) > 0) AS terms) "
            f"SELECT {_COLUMNS}, {{score}} AS score FROM {{t}} WHERE "
        )
        rank = "ts_rank_cd(content_tsv, (SELECT any_terms FROM q), 33)"  # 1: / (1 + log length), 32: r / (r + 1)
        cfg = sql.SQL("{}::regconfig").format(sql.Literal(ts_config))
        self._sql_keyword_every = render(
            keyword + "content_tsv @@ (SELECT all_terms FROM q)", cfg=cfg, score=sql.SQL(f"0.5 + 0.5 * {rank}")
        )
        self._sql_keyword_some = render(
            keyword + "content_tsv @@ (SELECT any_terms FROM q) AND NOT content_tsv @@ (SELECT all_terms FROM q)",
            cfg=cfg,
            score=sql.SQL(f"0.5 * {rank}"),
        )

    # -- writes --------------------------------------------------------------------------------------------------

    def _vector(self, embedding: list[float], what: str) -> Vector:
        if len(embedding) != self.dimension:
            raise BadRequestError(
                f"{what} has {len(embedding)} dimensions; vector store '{self.store_id}' has {self.dimension}"
            )
        try:
            return Vector(list(embedding))
        except (ValueError, TypeError):
            raise BadRequestError(f"{what} must be a list of numbers") from None

    async def add(self, chunks: list[StoredChunk]) -> None:
        """Upsert in one transaction: COPY (binary) into a temporary table, then one INSERT ... ON CONFLICT."""
        if not chunks:
            return
        latest = {c.chunk_id: c for c in chunks}  # one row per id: the last one wins
        rows = [
            (
                i,
                c.chunk_id,
                c.file_id,
                c.content.replace("\x00", "\ufffd"),
                Jsonb(c.metadata or {}),
                Jsonb(c.attributes or {}),
                self._vector(c.embedding, f"chunk '{c.chunk_id}'"),
            )
            for i, c in enumerate(latest.values())
        ]
        config = self.factory.config
        async with self.factory.connection(self.store_id) as conn, conn.transaction():
            bulk = self.indexed and 0 < config.bulk_load_min_rows <= len(rows) and await self._bulk_ok(conn, len(rows))
            if bulk:  # drop the graph now, build it once at the end (readers wait for the commit, then see both)
                await conn.execute(self._sql_drop_hnsw)
            await conn.execute(_SQL_STAGE)
            async with conn.cursor() as cur:
                async with cur.copy(_SQL_COPY) as copy:
                    copy.set_types(_STAGE_TYPES)
                    for row in rows:
                        await copy.write_row(row)
                await cur.execute(self._sql_upsert)
            if bulk:
                await conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", [config.hnsw_build_memory])
                await conn.execute(self._sql_create_hnsw)
                log.info("vector store %s: built the HNSW index after loading %d chunks", self.store_id, len(rows))

    async def _bulk_ok(self, conn: psycopg.AsyncConnection[Any], adding: int) -> bool:
        """Whether this add is at least as large as the store (rebuilding the graph then beats row-by-row
        updates). Holds the store's lock to the end of the transaction, so bulk loads, drops and schema changes of
        one store never interleave (and two bulk loads cannot deadlock on the index)."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK_PREFIX + self.store_id])
        held = (await (await conn.execute(self._sql_count_upto, [adding + 1])).fetchone())[0]
        return held <= adding

    async def delete_chunks(self, chunk_ids: list[str]) -> int:
        if not chunk_ids:
            return 0
        async with self.factory.connection(self.store_id) as conn:
            return (await conn.execute(self._sql_delete, [list(chunk_ids)])).rowcount

    async def delete_file(self, file_id: str) -> int:
        async with self.factory.connection(self.store_id) as conn:
            return (await conn.execute(self._sql_delete_file, [file_id])).rowcount

    async def set_file_attributes(self, file_id: str, attributes: dict[str, Any]) -> None:
        async with self.factory.connection(self.store_id) as conn:
            await conn.execute(self._sql_attributes, [Jsonb(attributes or {}), file_id])

    async def drop(self) -> None:
        async with self.factory.connection(self.store_id) as conn:
            await self.factory._drop(conn, self.store_id, self.table)

    # -- reads ---------------------------------------------------------------------------------------------------

    async def file_chunks(self, file_id: str) -> list[StoredChunk]:
        async with self.factory.connection(self.store_id) as conn:
            rows = await (await conn.execute(self._sql_file_chunks, [file_id], binary=True)).fetchall()
        return [_chunk(row) for row in rows]

    async def count(self) -> int:
        async with self.factory.connection(self.store_id) as conn:
            return (await (await conn.execute(self._sql_count)).fetchone())[0]

    def vector_query(
        self, embedding: list[float], k: int, filters: Any = None, exact: bool = False
    ) -> tuple[str, list[Any]]:
        """The SQL and parameters of a vector search (the filter is part of the WHERE clause). ``exact`` orders by
        an expression the HNSW index cannot serve, so the planner filters first (attributes index or a scan)."""
        query = self._vector(embedding, "the query embedding")
        params: list[Any] = [query]
        where = f" WHERE {filter_sql(filters, params)}" if filters is not None else ""
        if exact:
            params.append(query)
            return self._sql_vector + where + f" ORDER BY ({self._vec} <=> {self._param}) + 0 LIMIT {int(k)}", params
        # ORDER BY the output column: the index serves it, and the query vector is sent once.
        return self._sql_vector + where + f" ORDER BY distance LIMIT {int(k)}", params

    async def search_vector(self, embedding: list[float], k: int, filters: Any = None) -> list[ScoredChunk]:
        if k <= 0:
            return []
        config = self.factory.config
        exact = not self.indexed or (filters is not None and config.exact_filtered_search)
        # An unfiltered search is prepared once per connection and reuses its plan. A filtered one is planned for
        # its values every time (a generic plan cannot tell a filter matching 1 row from one matching all).
        prepare = None if filters is None else False
        async with self.factory.connection(self.store_id) as conn:
            walk = False
            if filters is not None and not exact:
                exact = await self._few_match(conn, filters)
                walk = not exact
            query, params = self.vector_query(embedding, k, filters, exact=exact)
            widen = k > self.ef_search and not exact
            if walk or widen:
                async with conn.transaction():  # settings for this query only
                    if widen:  # a larger candidate list
                        await conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(min(k, 1000))])
                    if walk:  # the HNSW index, not the attributes index and a sort of every match
                        await conn.execute(
                            "SELECT set_config('enable_bitmapscan', 'off', true), "
                            "set_config('enable_seqscan', 'off', true)"
                        )
                    rows = await (await conn.execute(query, params, prepare=prepare, binary=True)).fetchall()
            else:
                rows = await (await conn.execute(query, params, prepare=prepare, binary=True)).fetchall()
            if filters is not None and len(rows) < k and not exact:
                # The graph walk stopped before it found k matches (a very selective filter, or pgvector < 0.8
                # without iterative scans): answer exactly instead.
                query, params = self.vector_query(embedding, k, filters, exact=True)
                rows = await (await conn.execute(query, params, prepare=False, binary=True)).fetchall()
        rows.sort(key=lambda row: row[6])  # a relaxed-order iterative scan may return neighbours slightly unordered
        return [ScoredChunk(_chunk(row), 1.0 - row[6]) for row in rows]

    async def _few_match(self, conn: Any, filters: Any) -> bool:
        """Whether fewer than ``filtered_exact_below`` chunks match (counting no further). The answer only picks
        the plan, so it is remembered per filter for a minute: searches repeat their filters."""
        few = self.factory.config.filtered_exact_below
        if not few:
            return False
        key = filters.model_dump_json() if hasattr(filters, "model_dump_json") else repr(filters)
        now = time.monotonic()
        known = self._few_matches.get(key)
        if known is not None and now - known[1] < _PLAN_MEMORY_SECONDS:
            return known[0]
        params: list[Any] = []
        where = filter_sql(filters, params)
        row = await (
            await conn.execute(self._sql_count_matches.format(where=where), [*params, few], prepare=False)
        ).fetchone()
        if len(self._few_matches) >= _PLAN_MEMORY_SIZE:
            self._few_matches.clear()
        self._few_matches[key] = (row[0] < few, now)
        return row[0] < few

    async def search_keyword(self, query: str, k: int, filters: Any = None) -> list[ScoredChunk]:
        """Chunks containing every term of the query first (score in [0.5, 1)), then chunks containing some
        (score in (0, 0.5)); by ``ts_rank_cd`` within each. The second query runs only when the first finds fewer
        than ``k``: ranking every chunk that shares one common word with the query is the expensive part."""
        terms = query_terms(query)
        if k <= 0 or not terms:
            return []
        params: list[Any] = [terms]
        where = f" AND {filter_sql(filters, params)}" if filters is not None else ""
        prepare = None if filters is None else False
        async with self.factory.connection(self.store_id) as conn:
            rows = await (
                await conn.execute(
                    self._sql_keyword_every + where + f" ORDER BY score DESC, seq LIMIT {int(k)}",
                    params,
                    prepare=prepare,
                    binary=True,
                )
            ).fetchall()
            if len(rows) < k and len(terms) > 1:
                rows += await (
                    await conn.execute(
                        self._sql_keyword_some + where + f" ORDER BY score DESC, seq LIMIT {int(k) - len(rows)}",
                        params,
                        prepare=prepare,
                        binary=True,
                    )
                ).fetchall()
        return [ScoredChunk(_chunk(row), float(row[6])) for row in rows if row[6] > 0]


def _chunk(row: tuple[Any, ...]) -> StoredChunk:
    chunk_id, content, embedding, metadata, file_id, attributes = row[:6]
    return StoredChunk(chunk_id, content, embedding.to_list(), metadata, file_id, attributes)
