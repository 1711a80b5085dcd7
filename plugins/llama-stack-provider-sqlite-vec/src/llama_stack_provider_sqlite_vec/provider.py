"""``inline::sqlite-vec``: the shared VectorIO engine on a SQLite index (sqlite-vec ``vec0`` + FTS5).

Layout of the database (one file, shared by every store and every server process):

``vector_stores``
    one row per vector store: ``identifier -> id, dimension``. ``id`` is AUTOINCREMENT, so the table names built
    from it are never reused after a store is dropped.

per store ``N`` (tables named ``vsN_*``; a store's identifier never reaches SQL text):

``vsN_chunks(id INTEGER PRIMARY KEY, chunk_id UNIQUE, file_id, attrs_id, metadata JSON, content)``
    the chunk rows; ``id`` is the rowid shared with the vector and keyword tables and gives insertion order.
``vsN_attrs(id, attributes JSON UNIQUE)``
    distinct attribute sets (canonical JSON). Attributes are per file in the Vector Stores API, so a store of 100k
    chunks from 1,000 files has about 1,000 sets: a filter is evaluated once per set instead of once per chunk.
``vsN_vec``
    ``vec0(embedding float[D] distance_metric=cosine)``: exact (brute-force) KNN; score = 1 - cosine distance.
``vsN_fts``
    FTS5 over ``vsN_chunks.content`` (external content: the text is stored once), kept in step by triggers,
    ranked by bm25; score = -bm25 (FTS5's bm25 is negative, lower is better).

A delete trigger on ``vsN_chunks`` also deletes the vector and the keyword entry, so every delete path (chunk ids,
file, replace) stays consistent in one statement.

Filtered vector search is exact: the filter picks attribute sets (SQL over ``vsN_attrs``, or Python ``matches``
for what has no exact SQL form), and the KNN runs with ``rowid IN (chunks of those sets)``, which ``vec0`` applies
while it scans. No over-fetching, so recall does not depend on how selective the filter is.

All SQLite work for one database runs on one dedicated thread (one connection); the event loop only awaits it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from llama_stack_core.apis.resources import VectorDB
from llama_stack_core.errors import BadRequestError, ConfigError, NotFoundError, ServiceUnavailableError
from llama_stack_core.vector_io.engine import VectorStoreEngine
from llama_stack_core.vector_io.index import ScoredChunk, StoredChunk, matches

from .config import SqliteVecConfig
from .driver import Driver, DriverUnavailable, select_driver
from .filters import Untranslatable, compile_filter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: sqlite-vec refuses ``k`` above this in one KNN query; larger k scans with vec_distance_cosine instead.
MAX_KNN_K = 4096
#: sqlite-vec's largest vector column
MAX_DIMENSION = 8192
SCHEMA_VERSION = 1


async def create_provider(config: SqliteVecConfig, deps: dict[Any, Any]) -> VectorStoreEngine:
    factory = await SqliteVecIndexFactory.open(config)
    try:
        return await VectorStoreEngine.create(factory, config, deps)
    except BaseException:
        await factory.close()
        raise


# -- helpers -----------------------------------------------------------------------------------------------------


def _dumps(value: Any, *, sort_keys: bool = False) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except TypeError:  # integers beyond 64 bits, unusual types: the standard library is more lenient
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, default=str)


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text else {}


def _floats(blob: bytes | None) -> list[float]:
    values = array("f")
    if blob:
        values.frombytes(blob)
    return values.tolist()


_TERM_CHAR = re.compile(r"\w")


def fts_query(text: str) -> str | None:
    """A user's free text as an FTS5 query: each whitespace-separated word a quoted phrase, joined with OR.

    Quoting makes any input safe (``XK-42-ZETA`` becomes the phrase ``xk 42 zeta`` instead of a syntax error) and OR
    lets bm25 rank documents that match some of the words. Words without a letter or digit are dropped.
    """
    terms: dict[str, None] = {}
    for word in text.split():
        if _TERM_CHAR.search(word):
            terms['"' + word.replace('"', '""') + '"'] = None
    return " OR ".join(terms) or None


# -- the database: one connection, one thread --------------------------------------------------------------------


class _Database:
    """One SQLite connection and the one thread that uses it."""

    def __init__(self, config: SqliteVecConfig) -> None:
        self.config = config
        self.path = config.db_path if config.db_path == ":memory:" else str(Path(config.db_path).expanduser())
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-vec")
        self.conn: Any = None
        self.driver: Driver | None = None
        self.closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def open(self) -> None:
        """Connect (on the thread), set the pragmas, create the store registry."""
        self.driver = select_driver(self.config.sqlite_driver)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = self.driver.connect(self.path, int(self.config.busy_timeout_seconds * 1000))
        self.query("PRAGMA journal_mode=WAL")
        for pragma in (
            "PRAGMA synchronous=NORMAL",
            "PRAGMA temp_store=MEMORY",
            f"PRAGMA mmap_size={self.config.mmap_size_mb * 1024 * 1024}",
            f"PRAGMA cache_size={-self.config.cache_size_mb * 1024}",
        ):
            self.query(pragma)
        with self.transaction():
            self.query(
                "CREATE TABLE IF NOT EXISTS vector_stores (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "identifier TEXT NOT NULL UNIQUE, dimension INTEGER NOT NULL, "
                "schema_version INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def shutdown(self) -> None:
        self.closed = True
        self._executor.shutdown(wait=False)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def many(self, sql: str, rows: Any) -> None:
        self.conn.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; IMMEDIATE takes the write lock up front (waiting up to busy_timeout)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:  # some errors end the transaction themselves
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


# -- the factory ---------------------------------------------------------------------------------------------------


class SqliteVecIndexFactory:
    """Opens one :class:`SqliteVecIndex` per vector store, all in one SQLite file."""

    def __init__(self, db: _Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, config: SqliteVecConfig) -> SqliteVecIndexFactory:
        db = _Database(config)
        try:
            await db.run(db.open)
        except Exception as exc:
            await db.run(db.close)
            db.shutdown()
            if isinstance(exc, DriverUnavailable):
                raise ConfigError(
                    f"sqlite-vec needs a SQLite that can load extensions ({config.sqlite_driver}): {exc}"
                ) from None
            if isinstance(exc, OSError) or (db.driver is not None and isinstance(exc, db.driver.error)):
                raise ConfigError(f"cannot open the sqlite-vec database {db.path}: {exc}") from None
            raise
        assert db.driver is not None
        log.info("sqlite-vec: %s (SQLite %s via %s)", db.path, db.driver.sqlite_version, db.driver.name)
        return cls(db)

    @property
    def driver(self) -> Driver:
        assert self._db.driver is not None
        return self._db.driver

    async def open_index(self, store: VectorDB) -> SqliteVecIndex:
        identifier = store.provider_resource_id or store.identifier
        if store.embedding_dimension > MAX_DIMENSION:
            raise BadRequestError(
                f"embedding_dimension: sqlite-vec stores vectors of at most {MAX_DIMENSION} dimensions, not "
                f"{store.embedding_dimension}",
                param="embedding_dimension",
            )
        index = SqliteVecIndex(self._db, identifier, 0, store.embedding_dimension)
        await index._call(index.create)
        return index

    async def close(self) -> None:
        if not self._db.closed:
            await self._db.run(self._db.close)
            self._db.shutdown()


# -- one store's index ---------------------------------------------------------------------------------------------


class SqliteVecIndex:
    """A vector store's chunks: rows, vectors (vec0, cosine) and keywords (FTS5, bm25)."""

    def __init__(self, db: _Database, identifier: str, number: int, dimension: int) -> None:
        self._db = db
        self.identifier = identifier
        self.dimension = dimension
        self._number(number)

    def _number(self, number: int) -> None:
        self.number = number
        prefix = f"vs{number}_"
        self._chunks, self._attrs, self._vec, self._fts = (prefix + t for t in ("chunks", "attrs", "vec", "fts"))
        chunk_columns = "c.chunk_id, c.content, c.metadata, c.file_id, a.attributes"
        self._sql_knn = (
            f"WITH knn AS MATERIALIZED (SELECT rowid AS id, distance, embedding FROM {self._vec} "
            f"WHERE embedding MATCH ? AND k = ? {{filter}}) "
            f"SELECT {chunk_columns}, knn.embedding, knn.distance FROM knn JOIN {self._chunks} c ON c.id = knn.id "
            f"JOIN {self._attrs} a ON a.id = c.attrs_id ORDER BY knn.distance"
        )
        self._sql_scan = (  # k beyond sqlite-vec's KNN limit: compute every distance, sort
            f"WITH knn AS MATERIALIZED (SELECT rowid AS id, vec_distance_cosine(embedding, ?) AS distance, embedding "
            f"FROM {self._vec} WHERE 1 {{filter}} ORDER BY distance LIMIT ?) "
            f"SELECT {chunk_columns}, knn.embedding, knn.distance FROM knn JOIN {self._chunks} c ON c.id = knn.id "
            f"JOIN {self._attrs} a ON a.id = c.attrs_id ORDER BY knn.distance"
        )
        self._sql_rowid_filter = (
            f"AND rowid IN (SELECT id FROM {self._chunks} WHERE attrs_id IN (SELECT value FROM json_each(?)))"
        )
        self._sql_keyword = (
            f"WITH hits AS MATERIALIZED (SELECT {self._fts}.rowid AS id, bm25({self._fts}) AS bm25 "
            f"FROM {self._fts} {{join}} WHERE {self._fts} MATCH ? {{filter}} ORDER BY bm25 LIMIT ?) "
            f"SELECT {chunk_columns}, v.embedding, -hits.bm25 FROM hits JOIN {self._chunks} c ON c.id = hits.id "
            f"JOIN {self._attrs} a ON a.id = c.attrs_id LEFT JOIN {self._vec} v ON v.rowid = hits.id "
            f"ORDER BY hits.bm25"
        )
        self._sql_file = (
            f"SELECT {chunk_columns}, v.embedding FROM {self._chunks} c JOIN {self._attrs} a ON a.id = c.attrs_id "
            f"LEFT JOIN {self._vec} v ON v.rowid = c.id WHERE c.file_id = ? ORDER BY c.id"
        )

    # -- plumbing ------------------------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.run(self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``fn`` on the database thread; follow a store that another process dropped and re-created."""
        driver = self._db.driver
        assert driver is not None
        for attempt in (1, 2):
            try:
                return fn(*args)
            except driver.error as exc:
                if driver.is_busy(exc):
                    raise ServiceUnavailableError(f"the sqlite-vec database is busy: {exc}") from None
                if "no such table" not in str(exc) or attempt == 2:
                    raise
                row = self._db.query("SELECT id, dimension FROM vector_stores WHERE identifier = ?", (self.identifier,))
                if not row or row[0][0] == self.number:
                    raise NotFoundError(
                        f"vector store '{self.identifier}' no longer exists in the sqlite-vec database"
                    ) from None
                self.dimension = row[0][1]
                self._number(row[0][0])
        raise AssertionError("unreachable")

    def create(self) -> None:
        """Find or create the store's tables (idempotent, safe against concurrent processes)."""
        db = self._db
        with db.transaction():
            row = db.query("SELECT id, dimension FROM vector_stores WHERE identifier = ?", (self.identifier,))
            if row and row[0][1] != self.dimension:
                raise BadRequestError(
                    f"vector store '{self.identifier}' already exists in {db.path} with {row[0][1]}-dimension "
                    f"vectors; it cannot be opened with embedding_dimension {self.dimension}",
                    param="embedding_dimension",
                )
            if not row:
                db.query(
                    "INSERT INTO vector_stores (identifier, dimension, schema_version) VALUES (?, ?, ?)",
                    (self.identifier, self.dimension, SCHEMA_VERSION),
                )
                row = db.query("SELECT id, dimension FROM vector_stores WHERE identifier = ?", (self.identifier,))
            self._number(row[0][0])
            c, a, v, f = self._chunks, self._attrs, self._vec, self._fts
            tokenizer = db.config.keyword_tokenizer
            for ddl in (
                (
                    f"CREATE TABLE IF NOT EXISTS {a} (id INTEGER PRIMARY KEY AUTOINCREMENT, attributes TEXT NOT NULL "
                    "UNIQUE)"
                ),
                (
                    f"CREATE TABLE IF NOT EXISTS {c} (id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, "
                    "file_id TEXT, attrs_id INTEGER NOT NULL, metadata TEXT NOT NULL, content TEXT NOT NULL)"
                ),
                f"CREATE INDEX IF NOT EXISTS {c}_file ON {c} (file_id) WHERE file_id IS NOT NULL",
                f"CREATE INDEX IF NOT EXISTS {c}_attrs ON {c} (attrs_id)",
                (
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {v} USING vec0(embedding float[{self.dimension}] "
                    "distance_metric=cosine)"
                ),
                (
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {f} USING fts5(content, content='{c}', content_rowid='id', "
                    f"tokenize='{tokenizer}')"
                ),
                (
                    f"CREATE TRIGGER IF NOT EXISTS {c}_ai AFTER INSERT ON {c} BEGIN "
                    f"INSERT INTO {f} (rowid, content) VALUES (new.id, new.content); END"
                ),
                (
                    f"CREATE TRIGGER IF NOT EXISTS {c}_ad AFTER DELETE ON {c} BEGIN "
                    f"INSERT INTO {f} ({f}, rowid, content) VALUES ('delete', old.id, old.content); "
                    f"DELETE FROM {v} WHERE rowid = old.id; END"
                ),
                (
                    f"CREATE TRIGGER IF NOT EXISTS {c}_au AFTER UPDATE OF content ON {c} BEGIN "
                    f"INSERT INTO {f} ({f}, rowid, content) VALUES ('delete', old.id, old.content); "
                    f"INSERT INTO {f} (rowid, content) VALUES (new.id, new.content); END"
                ),
            ):
                db.query(ddl)

    def _vector(self, embedding: Any, where: str) -> array:
        try:
            values = array("f", embedding)
        except (TypeError, ValueError, OverflowError):
            raise BadRequestError(f"{where} must be a list of numbers", param=where) from None
        if len(values) != self.dimension:
            raise BadRequestError(
                f"{where} has {len(values)} dimensions; vector store '{self.identifier}' holds "
                f"{self.dimension}-dimension vectors",
                param=where,
            )
        if not math.isfinite(sum(values)):
            raise BadRequestError(f"{where} contains NaN or infinite values", param=where)
        if not any(values):
            raise BadRequestError(f"{where} is all zeros: a zero vector has no cosine similarity", param=where)
        return values

    def _attrs_ids(self, texts: list[str]) -> dict[str, int]:
        """Ids of attribute sets (canonical JSON), created if new."""
        self._db.many(f"INSERT OR IGNORE INTO {self._attrs} (attributes) VALUES (?)", [(t,) for t in texts])
        return dict(
            self._db.query(
                f"SELECT attributes, id FROM {self._attrs} WHERE attributes IN (SELECT value FROM json_each(?))",
                (_dumps(texts),),
            )
        )

    def _collect_attrs(self, ids: Any) -> None:
        """Forget attribute sets no chunk uses any more."""
        ids = sorted(set(ids))
        if ids:
            self._db.query(
                f"DELETE FROM {self._attrs} WHERE id IN (SELECT value FROM json_each(?)) AND NOT EXISTS "
                f"(SELECT 1 FROM {self._chunks} WHERE attrs_id = {self._attrs}.id)",
                (_dumps(ids),),
            )

    def _allowed_attrs(self, filters: Any) -> list[int] | None:
        """The attribute sets ``filters`` accepts; None when it accepts all of them (no filtering needed)."""
        if filters is None:
            return None
        try:
            sql, params = compile_filter(filters)
            ids = [row[0] for row in self._db.query(f"SELECT id FROM {self._attrs} WHERE {sql}", params)]
        except Untranslatable:
            ids = [
                ident
                for ident, text in self._db.query(f"SELECT id, attributes FROM {self._attrs}")
                if matches(filters, _loads(text))
            ]
        total = self._db.query(f"SELECT count(*) FROM {self._attrs}")[0][0]
        return None if len(ids) == total else ids

    @staticmethod
    def _chunk(row: Sequence[Any]) -> StoredChunk:
        chunk_id, content, metadata, file_id, attributes, embedding = row[:6]
        return StoredChunk(chunk_id, content, _floats(embedding), _loads(metadata), file_id, _loads(attributes))

    # -- writes --------------------------------------------------------------------------------------------------

    async def add(self, chunks: list[StoredChunk]) -> None:
        if chunks:
            await self._call(self._add, chunks)

    def _add(self, chunks: list[StoredChunk]) -> None:
        latest: dict[str, tuple[StoredChunk, bytes, str]] = {}  # chunk_id -> last version in this batch
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk.chunk_id, str) or not chunk.chunk_id:
                raise BadRequestError(f"chunks[{i}].chunk_id must be a non-empty string", param=f"chunks.{i}")
            if not isinstance(chunk.content, str):
                raise BadRequestError(f"chunks[{i}].content must be a string", param=f"chunks.{i}.content")
            vector = self._vector(chunk.embedding, f"chunks[{i}].embedding").tobytes()
            latest[chunk.chunk_id] = (chunk, vector, _dumps(chunk.attributes or {}, sort_keys=True))
        db = self._db
        with db.transaction():
            existing = {
                cid: (ident, attrs_id)
                for cid, ident, attrs_id in db.query(
                    f"SELECT chunk_id, id, attrs_id FROM {self._chunks} WHERE chunk_id IN "
                    "(SELECT value FROM json_each(?))",
                    (_dumps(list(latest)),),
                )
            }
            next_id = db.query(f"SELECT ifnull(max(id), 0) + 1 FROM {self._chunks}")[0][0]
            attrs_ids = self._attrs_ids(sorted({attrs for _, _, attrs in latest.values()}))
            inserts, updates, vectors = [], [], []
            for chunk_id, (chunk, vector, attrs) in latest.items():
                row = (chunk.file_id, attrs_ids[attrs], _dumps(chunk.metadata or {}), chunk.content)
                if chunk_id in existing:
                    ident = existing[chunk_id][0]
                    updates.append((*row, ident))
                else:
                    ident, next_id = next_id, next_id + 1
                    inserts.append((ident, chunk_id, *row))
                vectors.append((ident, vector))
            db.many(
                f"INSERT INTO {self._chunks} (id, chunk_id, file_id, attrs_id, metadata, content) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                inserts,
            )
            if updates:
                db.many(
                    f"UPDATE {self._chunks} SET file_id = ?, attrs_id = ?, metadata = ?, content = ? WHERE id = ?",
                    updates,
                )
                db.many(f"DELETE FROM {self._vec} WHERE rowid = ?", [(u[-1],) for u in updates])
            db.many(f"INSERT INTO {self._vec} (rowid, embedding) VALUES (?, ?)", vectors)
            self._collect_attrs(attrs_id for _, attrs_id in existing.values())

    async def delete_chunks(self, chunk_ids: list[str]) -> int:
        if not chunk_ids:
            return 0
        return await self._call(
            self._delete, "chunk_id IN (SELECT value FROM json_each(?))", (_dumps(list(chunk_ids)),)
        )

    async def delete_file(self, file_id: str) -> int:
        return await self._call(self._delete, "file_id = ?", (file_id,))

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        with self._db.transaction():
            gone = self._db.query(f"DELETE FROM {self._chunks} WHERE {where} RETURNING attrs_id", params)
            self._collect_attrs(row[0] for row in gone)
        return len(gone)

    async def set_file_attributes(self, file_id: str, attributes: dict[str, Any]) -> None:
        await self._call(self._set_file_attributes, file_id, _dumps(attributes or {}, sort_keys=True))

    def _set_file_attributes(self, file_id: str, attributes: str) -> None:
        db = self._db
        with db.transaction():
            [attrs_id] = self._attrs_ids([attributes]).values()
            old = db.query(f"SELECT DISTINCT attrs_id FROM {self._chunks} WHERE file_id = ?", (file_id,))
            db.query(f"UPDATE {self._chunks} SET attrs_id = ? WHERE file_id = ?", (attrs_id, file_id))
            self._collect_attrs([attrs_id, *(row[0] for row in old)])

    async def drop(self) -> None:
        await self._call(self._drop)

    def _drop(self) -> None:
        db = self._db
        with db.transaction():
            for table in (self._fts, self._vec, self._chunks, self._attrs):
                db.query(f"DROP TABLE IF EXISTS {table}")
            db.query("DELETE FROM vector_stores WHERE id = ?", (self.number,))

    # -- reads ---------------------------------------------------------------------------------------------------

    async def file_chunks(self, file_id: str) -> list[StoredChunk]:
        rows = await self._call(lambda: self._db.query(self._sql_file, (file_id,)))
        return [self._chunk(row) for row in rows]

    async def count(self) -> int:
        return (await self._call(lambda: self._db.query(f"SELECT count(*) FROM {self._chunks}")))[0][0]

    async def search_vector(self, embedding: list[float], k: int, filters: Any = None) -> list[ScoredChunk]:
        if k <= 0:
            return []
        return await self._call(self._search_vector, embedding, k, filters)

    def _search_vector(self, embedding: list[float], k: int, filters: Any) -> list[ScoredChunk]:
        query = self._vector(embedding, "query embedding").tobytes()
        allowed = self._allowed_attrs(filters)
        if allowed == []:
            return []
        where = "" if allowed is None else self._sql_rowid_filter
        extra = () if allowed is None else (_dumps(allowed),)
        if k <= MAX_KNN_K:
            rows = self._db.query(self._sql_knn.format(filter=where), (query, k, *extra))
        else:
            rows = self._db.query(self._sql_scan.format(filter=where), (query, *extra, k))
        # Cosine similarity = 1 - cosine distance; float32 rounding can step just outside [-1, 1].
        return [ScoredChunk(self._chunk(row), max(-1.0, min(1.0, 1.0 - row[6]))) for row in rows if row[6] is not None]

    async def search_keyword(self, query: str, k: int, filters: Any = None) -> list[ScoredChunk]:
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        return await self._call(self._search_keyword, match, k, filters)

    def _search_keyword(self, match: str, k: int, filters: Any) -> list[ScoredChunk]:
        allowed = self._allowed_attrs(filters)
        if allowed == []:
            return []
        if allowed is None:
            sql, params = self._sql_keyword.format(join="", filter=""), (match, k)
        else:
            sql = self._sql_keyword.format(
                join=f"JOIN {self._chunks} c ON c.id = {self._fts}.rowid",
                filter="AND c.attrs_id IN (SELECT value FROM json_each(?))",
            )
            params = (match, _dumps(allowed), k)
        # bm25 is negative with lower = better; -bm25 is a positive relevance, higher = better.
        return [ScoredChunk(self._chunk(row), row[6]) for row in self._db.query(sql, params)]
