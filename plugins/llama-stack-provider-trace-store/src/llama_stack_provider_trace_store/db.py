"""The two SQL backends behind one small async interface: SQLite (one dedicated thread) and PostgreSQL (psycopg's
async pool, imported only when configured).

Statements are written once with ``?`` placeholders; a :class:`Dialect` supplies the few pieces that differ (JSON
column type and functions, NULL-aware min/max, attribute conditions). A transaction is ``async with
db.transaction(write=...) as tx`` and ``tx`` offers ``execute`` (returns the row count), ``executemany`` and
``fetchall``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import orjson

from llama_stack_core.errors import BadRequestError, ConfigError
from llama_stack_core.storage import StorageBackend

T = TypeVar("T")

#: Attribute keys safe to inline in SQL (so expression indexes apply); others are bound as parameters.
_INLINE_KEY = re.compile(r"^[A-Za-z0-9_.:/@\- ]{1,200}$")
#: Attributes with an index of their own (queries filter on them most).
INDEXED_ATTRIBUTES = ("resource.id", "provider.id")


def _clean(value: Any) -> Any:
    """What JSON columns accept everywhere: no NUL characters (PostgreSQL refuses them), integers within 64 bits."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(value: Any, *, sort: bool = False) -> str:
    """JSON text for a column or parameter; never fails on odd values (they become strings or are cleaned)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort else 0)
    try:
        text = orjson.dumps(value, default=str, option=option).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        return orjson.dumps(_clean(value), default=str, option=option).decode()
    if "\\u0000" in text:
        return orjson.dumps(_clean(value), default=str, option=option).decode()
    return text


def loads(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return orjson.loads(value)


class Tx(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Dialect:
    name: str
    json_type: str
    json_param: str

    def greatest(self, a: str, b: str) -> str:
        raise NotImplementedError

    def least(self, a: str, b: str) -> str:
        raise NotImplementedError

    def merge_json(self, column: str) -> str:
        """``column`` with the keys of one JSON object parameter set (overwriting)."""
        raise NotImplementedError

    def has_attribute(self, key: str) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        """SQL for ``attributes[key] <op> value`` on the spans table: the attribute must exist and have the value's
        JSON type (a number never equals a string); ``ne`` matches spans that have the attribute with another
        value."""
        raise NotImplementedError

    def schema(self, p: str) -> list[str]:
        raise NotImplementedError


def _kind(value: Any, op: str, key: str) -> str:
    if value is None:
        if op in ("gt", "lt"):
            raise BadRequestError(
                f"attribute filter on '{key}': {op} needs a number or a string, not null", param="attribute_filters"
            )
        return "null"
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    else:
        kind = "json"
    if op in ("gt", "lt") and kind not in ("number", "string"):
        raise BadRequestError(
            f"attribute filter on '{key}': {op} needs a number or a string", param="attribute_filters"
        )
    return kind


def _sqlite_number(value: float) -> float:
    """A number SQLite can bind: an integer beyond 64 bits as a float (SQLite's JSON reads such a stored one as a
    float too)."""
    return float(value) if isinstance(value, int) and not -(2**63) <= value < 2**63 else value


class SqliteDialect(Dialect):
    name = "sqlite"
    json_type = "TEXT"
    json_param = "?"
    _TYPES: ClassVar[dict[str, str]] = {
        "number": "('integer', 'real')",
        "string": "('text')",
        "json": "('array', 'object')",
    }

    def greatest(self, a: str, b: str) -> str:
        return f"max(coalesce({a}, {b}), coalesce({b}, {a}))"

    def least(self, a: str, b: str) -> str:
        return f"min(coalesce({a}, {b}), coalesce({b}, {a}))"

    def merge_json(self, column: str) -> str:
        return f"json_patch({column}, ?)"

    def _path(self, key: str) -> tuple[str, list[Any]]:
        if _INLINE_KEY.match(key):
            return f"'$.\"{key}\"'", []
        if '"' in key or "\\" in key:
            raise BadRequestError(
                f"attribute key {key!r}: quotes and backslashes are not supported", param="attribute_filters"
            )
        return "?", [f'$."{key}"']

    def has_attribute(self, key: str) -> tuple[str, list[Any]]:
        path, params = self._path(key)
        return f"json_type(attributes, {path}) IS NOT NULL", params

    def condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        path, pp = self._path(key)
        extract, jtype = f"json_extract(attributes, {path})", f"json_type(attributes, {path})"
        kind = _kind(value, op, key)
        if kind == "null":
            if op == "eq":
                return f"{jtype} = 'null'", pp
            return f"({jtype} IS NOT NULL AND {jtype} <> 'null')", [*pp, *pp]
        if kind == "bool":
            literal = "'true'" if value else "'false'"
            if op == "eq":
                return f"{jtype} = {literal}", pp
            return f"({jtype} IS NOT NULL AND {jtype} <> {literal})", [*pp, *pp]
        types = self._TYPES[kind]
        compared = "json(?)" if kind == "json" else "?"
        bound = dumps(value) if kind == "json" else _sqlite_number(value) if kind == "number" else value
        if op == "eq":
            return f"({extract} = {compared} AND {jtype} IN {types})", [*pp, bound, *pp]
        if op == "ne":
            return (
                f"({jtype} IS NOT NULL AND NOT ({extract} = {compared} AND {jtype} IN {types}))",
                [*pp, *pp, bound, *pp],
            )
        sign = ">" if op == "gt" else "<"
        return f"({extract} {sign} ? AND {jtype} IN {types})", [*pp, bound, *pp]

    def schema(self, p: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS {p}_spans (
                trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, name TEXT NOT NULL,
                start_ns INTEGER NOT NULL, end_ns INTEGER, status TEXT NOT NULL, attributes TEXT NOT NULL,
                PRIMARY KEY (trace_id, span_id))""",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_span_id ON {p}_spans (span_id)",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_start ON {p}_spans (start_ns)",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_name ON {p}_spans (name, start_ns)",
            *(
                f"CREATE INDEX IF NOT EXISTS {p}_spans_attr_{re.sub(r'[^a-z0-9]', '_', key)} ON {p}_spans "
                f"(json_extract(attributes, '$.\"{key}\"'))"
                for key in INDEXED_ATTRIBUTES
            ),
            *_common_tables(p, "INTEGER", "TEXT", "REAL"),
        ]


class PostgresDialect(Dialect):
    name = "postgres"
    json_type = "JSONB"
    json_param = "?::jsonb"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"

    def merge_json(self, column: str) -> str:
        return f"{column} || ?::jsonb"

    def _node(self, key: str) -> tuple[str, list[Any]]:
        if _INLINE_KEY.match(key) and "'" not in key:
            return f"(attributes -> '{key}')", []
        return "(attributes -> ?)", [key]

    def has_attribute(self, key: str) -> tuple[str, list[Any]]:
        node, params = self._node(key)
        return f"{node} IS NOT NULL", params

    def condition(self, key: str, op: str, value: Any) -> tuple[str, list[Any]]:
        node, pp = self._node(key)
        kind = _kind(value, op, key)
        if op == "eq":
            if kind == "json":
                return f"{node} = ?::jsonb", [*pp, dumps(value)]
            return "attributes @> ?::jsonb", [dumps({key: value})]  # containment: the GIN index serves any key
        if op == "ne":
            return f"({node} IS NOT NULL AND {node} <> ?::jsonb)", [*pp, *pp, dumps(value)]
        sign = ">" if op == "gt" else "<"
        json_kind = "number" if kind == "number" else "string"
        return f"(jsonb_typeof({node}) = '{json_kind}' AND {node} {sign} ?::jsonb)", [*pp, *pp, dumps(value)]

    def schema(self, p: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS {p}_spans (
                trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, name TEXT NOT NULL,
                start_ns BIGINT NOT NULL, end_ns BIGINT, status TEXT NOT NULL, attributes JSONB NOT NULL,
                PRIMARY KEY (trace_id, span_id))""",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_span_id ON {p}_spans (span_id)",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_start ON {p}_spans (start_ns)",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_name ON {p}_spans (name, start_ns)",
            f"CREATE INDEX IF NOT EXISTS {p}_spans_attributes ON {p}_spans USING GIN (attributes jsonb_path_ops)",
            *(
                f"CREATE INDEX IF NOT EXISTS {p}_spans_attr_{re.sub(r'[^a-z0-9]', '_', key)} ON {p}_spans "
                f"((attributes -> '{key}'))"
                for key in INDEXED_ATTRIBUTES
            ),
            *_common_tables(p, "BIGINT", "JSONB", "DOUBLE PRECISION"),
        ]


def _common_tables(p: str, bigint: str, json_type: str, double: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}_traces (
            trace_id TEXT PRIMARY KEY, root_span_id TEXT, root_name TEXT, root_start_ns {bigint},
            root_status TEXT, start_ns {bigint} NOT NULL, end_ns {bigint}, span_count {bigint} NOT NULL,
            error_count {bigint} NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {p}_traces_start ON {p}_traces (start_ns, trace_id)",
        f"""CREATE TABLE IF NOT EXISTS {p}_metrics (
            metric TEXT NOT NULL, labels TEXT NOT NULL, bucket {bigint} NOT NULL, value {double} NOT NULL,
            count {bigint} NOT NULL, unit TEXT, PRIMARY KEY (metric, bucket, labels))""",
        f"CREATE INDEX IF NOT EXISTS {p}_metrics_bucket ON {p}_metrics (bucket)",
        f"""CREATE TABLE IF NOT EXISTS {p}_events (
            trace_id TEXT NOT NULL, span_id TEXT NOT NULL, ts_ns {bigint} NOT NULL, type TEXT NOT NULL,
            severity TEXT, message TEXT, metric TEXT, value {double}, unit TEXT, attributes {json_type} NOT NULL,
            expires_ns {bigint} NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {p}_events_trace ON {p}_events (trace_id, span_id)",
        f"CREATE INDEX IF NOT EXISTS {p}_events_ts ON {p}_events (ts_ns)",
        f"CREATE INDEX IF NOT EXISTS {p}_events_expires ON {p}_events (expires_ns)",
    ]


# -- SQLite ------------------------------------------------------------------------------------------------------


class _SqliteTx:
    def __init__(self, db: SqliteDB) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        conn = self._db.conn
        return await self._db.run(lambda: conn.execute(sql, params).rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn = self._db.conn
            await self._db.run(lambda: conn.executemany(sql, rows))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._db.conn
        return await self._db.run(lambda: conn.execute(sql, params).fetchall())


class SqliteDB:
    """One connection, used only on one dedicated thread; transactions are serialized by an asyncio lock."""

    dialect = SqliteDialect()

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.conn = conn
        self._executor = executor
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, backend: StorageBackend, prefix: str) -> SqliteDB:
        path = Path(backend.db_path or "").expanduser()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"trace-store-{path.name}")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in cls.dialect.schema(prefix):
                    conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except (sqlite3.Error, OSError) as exc:
            executor.shutdown(wait=False)
            raise ConfigError(f"trace-store: cannot open the SQLite database {path}: {exc}") from None
        return cls(conn, executor)

    async def run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @asynccontextmanager
    async def transaction(self, write: bool = False) -> AsyncIterator[Tx]:
        async with self._lock:
            try:
                await self.run(lambda: self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN"))
                yield _SqliteTx(self)
            except BaseException:
                # Also when cancelled while BEGIN was queued: it still runs on the thread, so undo it after.
                await asyncio.shield(self.run(self._rollback))
                raise
            try:
                await asyncio.shield(self.run(lambda: self.conn.execute("COMMIT")))
            except BaseException:  # a failed COMMIT leaves the transaction open; a cancelled one still commits
                await asyncio.shield(self.run(self._rollback))
                raise

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    async def close(self) -> None:
        await self.run(self.conn.close)
        self._executor.shutdown(wait=False)


# -- PostgreSQL --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._conn.execute(_pg_sql(sql), params)
        return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            rows = [tuple(v.replace("\x00", "") if isinstance(v, str) else v for v in row) for row in rows]
            async with self._conn.cursor() as cur:
                await cur.executemany(_pg_sql(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = await self._conn.execute(_pg_sql(sql), params)
        return await cur.fetchall()


class PostgresDB:
    dialect = PostgresDialect()

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, backend: StorageBackend, prefix: str, pool_max_size: int) -> PostgresDB:
        # First: a ConfigError ("pip install 'llama-stack-core[postgres]'") if psycopg is missing.
        from llama_stack_core.storage.postgres import conninfo  # noqa: I001

        import psycopg
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            conninfo(backend), min_size=1, max_size=pool_max_size, open=False, kwargs={"autocommit": True}
        )
        try:
            await pool.open(wait=True, timeout=15)
            async with pool.connection() as conn, conn.transaction():
                # One creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"trace-store:{prefix}",))
                for statement in cls.dialect.schema(prefix):
                    await conn.execute(statement)
        except (psycopg.Error, TimeoutError) as exc:
            await pool.close()
            where = backend.host or "the configured server"
            raise ConfigError(
                f"trace-store: cannot use PostgreSQL at {where}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        return cls(pool)

    @asynccontextmanager
    async def transaction(self, write: bool = False) -> AsyncIterator[Tx]:
        async with self._pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(backend: StorageBackend, prefix: str, pool_max_size: int = 4) -> SqliteDB | PostgresDB:
    if backend.is_postgres:
        return await PostgresDB.open(backend, prefix, pool_max_size)
    return await SqliteDB.open(backend, prefix)
