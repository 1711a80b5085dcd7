"""Key-value storage for the registry and for providers: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..config.model import StorageBackend


@runtime_checkable
class KVStore(Protocol):
    """An async string key-value store. Keys are namespaced by the store; values are JSON text."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def insert(self, key: str, value: str) -> bool:
        """Store ``value`` only if ``key`` is absent; return whether it was stored (atomic across processes)."""

    async def compare_and_set(self, key: str, expected: str, value: str) -> bool:
        """Store ``value`` only if ``key`` holds ``expected``; return whether it was stored (atomic across processes).

        Read a value, change it and write it back with this, retrying on ``False``: no other writer's change is lost.
        """

    async def delete(self, key: str) -> bool: ...

    async def items(self, prefix: str = "") -> list[tuple[str, str]]:
        """All ``(key, value)`` pairs whose key starts with ``prefix``, ordered by key."""

    async def close(self) -> None: ...


async def open_kvstore(backend: StorageBackend, namespace: str | None = None) -> KVStore:
    """Open a store on a configured backend; PostgreSQL support is imported only when used."""
    if backend.is_postgres:
        from .postgres import PostgresKVStore

        return await PostgresKVStore.open(backend, namespace)
    from .sqlite import SqliteKVStore

    return await SqliteKVStore.open(backend, namespace)


__all__ = ["KVStore", "open_kvstore"]
