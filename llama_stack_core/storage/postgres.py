"""PostgreSQL key-value store (psycopg 3 async pool). Imported only when a PostgreSQL backend is configured."""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from ..errors import ConfigError
from .config import StorageBackend

try:
    import psycopg
    from psycopg.conninfo import make_conninfo
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ConfigError("a PostgreSQL store needs: pip install 'llama-stack-core[postgres]'") from exc

_SCHEMA = "CREATE TABLE IF NOT EXISTS llama_stack_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: Serialises the schema's creation: two processes running CREATE TABLE IF NOT EXISTS at once can both miss the table
#: and one fails on the catalog's unique index (seen with several `stack serve` workers starting together).
_SCHEMA_LOCK = 0x6C6C616D61  # any constant shared by every process; "llama" in ASCII


class ConnectionFields(Protocol):
    """Where a PostgreSQL server is: a storage backend, or a provider config with the same fields."""

    dsn: SecretStr | None
    password: SecretStr | None
    host: str | None
    port: int | None
    db: str | None
    user: str | None


def conninfo(backend: ConnectionFields) -> str:
    """The libpq connection string for a backend (a ``dsn`` wins over the separate fields)."""
    if backend.dsn is not None:
        return backend.dsn.get_secret_value()
    password = backend.password.get_secret_value() if backend.password else None
    fields = {
        "host": backend.host,
        "port": backend.port,
        "dbname": backend.db,
        "user": backend.user,
        "password": password,
    }
    return make_conninfo(**{k: v for k, v in fields.items() if v is not None})


class PostgresKVStore:
    def __init__(self, pool: AsyncConnectionPool, namespace: str | None) -> None:
        self._pool = pool
        self._prefix = f"{namespace}:" if namespace else ""

    @classmethod
    async def open(cls, backend: StorageBackend, namespace: str | None = None) -> PostgresKVStore:
        pool = AsyncConnectionPool(conninfo(backend), min_size=1, max_size=8, open=False, kwargs={"autocommit": True})
        try:
            await pool.open(wait=True, timeout=15)
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                await conn.execute(_SCHEMA)
        except (psycopg.Error, TimeoutError) as exc:
            await pool.close()
            where = backend.host or "the configured server"
            raise ConfigError(f"cannot connect to PostgreSQL at {where}: {type(exc).__name__}") from None
        return cls(pool, namespace)

    async def get(self, key: str) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT value FROM llama_stack_kv WHERE key = %s", (self._prefix + key,))
            row = await cur.fetchone()
        return row[0] if row else None

    async def set(self, key: str, value: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO llama_stack_kv (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (self._prefix + key, value),
            )

    async def insert(self, key: str, value: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO llama_stack_kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (self._prefix + key, value),
            )
            return cur.rowcount == 1

    async def compare_and_set(self, key: str, expected: str, value: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE llama_stack_kv SET value = %s WHERE key = %s AND value = %s",
                (value, self._prefix + key, expected),
            )
            return cur.rowcount == 1

    async def delete(self, key: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM llama_stack_kv WHERE key = %s", (self._prefix + key,))
            return cur.rowcount == 1

    async def set_many(self, pairs: list[tuple[str, str]]) -> None:
        rows = [(self._prefix + key, value) for key, value in pairs]
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO llama_stack_kv (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                rows,
            )

    async def items(self, prefix: str = "") -> list[tuple[str, str]]:
        start = self._prefix + prefix
        skip = len(self._prefix)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT key, value FROM llama_stack_kv WHERE starts_with(key, %s) ORDER BY key", (start,)
            )
            rows = await cur.fetchall()
        return [(key[skip:], value) for key, value in rows]

    async def scan(
        self, prefix: str, *, after: str | None = None, limit: int | None = None, reverse: bool = False
    ) -> list[tuple[str, str]]:
        # byte order (COLLATE "C"), as SQLite's: a cursor key compares the same way the page was sorted
        sql = "SELECT key, value FROM llama_stack_kv WHERE starts_with(key, %s)"
        args: list[object] = [self._prefix + prefix]
        if after is not None:
            sql += ' AND key COLLATE "C" ' + ("< %s" if reverse else "> %s")
            args.append(self._prefix + after)
        sql += ' ORDER BY key COLLATE "C"' + (" DESC" if reverse else "")
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        skip = len(self._prefix)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, args)
            rows = await cur.fetchall()
        return [(key[skip:], value) for key, value in rows]

    async def close(self) -> None:
        await self._pool.close()
