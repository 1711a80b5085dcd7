"""Key-value storage for the registry and for providers: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .config import StorageBackend, StorageConfig, StoreRef


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

    async def set_many(self, pairs: list[tuple[str, str]]) -> None:
        """Store every ``(key, value)`` pair in one transaction (a batch costs one commit, not one per key)."""

    async def items(self, prefix: str = "") -> list[tuple[str, str]]:
        """All ``(key, value)`` pairs whose key starts with ``prefix``, ordered by key."""

    async def scan(
        self, prefix: str, *, after: str | None = None, limit: int | None = None, reverse: bool = False
    ) -> list[tuple[str, str]]:
        """Up to ``limit`` pairs whose key starts with ``prefix``, ordered by key (``reverse``: descending) and
        starting past the key ``after`` (exclusive): one page of a cursor list, read without the rest."""

    async def close(self) -> None: ...


async def open_kvstore(backend: StorageBackend, namespace: str | None = None) -> KVStore:
    """Open a store on a configured backend; PostgreSQL support is imported only when used."""
    if backend.is_postgres:
        from .postgres import PostgresKVStore

        return await PostgresKVStore.open(backend, namespace)
    from .sqlite import SqliteKVStore

    return await SqliteKVStore.open(backend, namespace)


class StoreConfig(BaseModel):
    """Where a provider keeps state: a backend (by name from ``storage.backends``, or inline) and a namespace.

    In a provider's config: ``persistence: {backend: kv_default, namespace: files}``; ``backend: default`` means
    the backend the stack's registry uses. Open it with ``await config.persistence.open()``.
    """

    model_config = ConfigDict(extra="forbid")

    backend: StorageBackend
    namespace: str = Field(min_length=1)

    @field_validator("backend", mode="before")
    @classmethod
    def _resolve_name(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        backends: dict[str, StorageBackend] = (info.context or {}).get("storage_backends", {})
        if value in backends:
            return backends[value]
        if value == "default" and "default" in (info.context or {}):
            return info.context["default"]
        raise ValueError(f"unknown storage backend '{value}' (storage.backends has: {', '.join(backends) or 'none'})")

    async def open(self) -> KVStore:
        """Open the KV store (the caller closes it)."""
        return await open_kvstore(self.backend, self.namespace)


__all__ = ["KVStore", "StorageBackend", "StorageConfig", "StoreConfig", "StoreRef", "open_kvstore"]
