"""The indexes a process has opened, one per vector store, opened on first use."""

from __future__ import annotations

from ..apis.resources import VectorDB
from .index import VectorIndex, VectorIndexFactory
from .records import StoreRecord


def _store_id(store: StoreRecord | VectorDB) -> str:
    return store.id if isinstance(store, StoreRecord) else store.provider_resource_id or store.identifier


class IndexCache:
    def __init__(self, factory: VectorIndexFactory) -> None:
        self.factory = factory
        self._indexes: dict[str, VectorIndex] = {}

    async def get(self, store: StoreRecord | VectorDB) -> VectorIndex:
        """The store's index (the factory creates it if it does not exist yet)."""
        store_id = _store_id(store)
        index = self._indexes.get(store_id)
        if index is None:
            resource = store.as_vector_db() if isinstance(store, StoreRecord) else store
            index = self._indexes[store_id] = await self.factory.open_index(resource)
        return index

    async def drop(self, store: StoreRecord | VectorDB) -> None:
        """Delete the store's chunks and indexes."""
        await (await self.get(store)).drop()
        self._indexes.pop(_store_id(store), None)

    async def close(self) -> None:
        self._indexes.clear()
        await self.factory.close()
