"""The resource registry: registered resources persisted in a KV store, with an in-process cache for routing.

The store is the source of truth. Lists and gets read it, so several server processes on one store agree; routing
reads the cache, falls back to the store on a miss, and a periodic refresh drops what other processes removed.
"""

from __future__ import annotations

from .apis.resources import RESOURCE_KINDS, Resource
from .errors import ConflictError, ResourceNotFoundError
from .storage import KVStore

CacheKey = tuple[str, str]


def _key(resource_type: str, identifier: str) -> str:
    return f"{resource_type}:{identifier}"


def _decode(key: str, value: str) -> Resource:
    return RESOURCE_KINDS[key.partition(":")[0]].model.model_validate_json(value)


class ResourceRegistry:
    def __init__(self, store: KVStore) -> None:
        self.store = store
        self._cache: dict[CacheKey, Resource] = {}

    async def refresh(self) -> list[Resource]:
        """Reload every resource from the store; return those this process had not seen."""
        resources = [_decode(k, v) for k, v in await self.store.items() if k.partition(":")[0] in RESOURCE_KINDS]
        loaded = {(r.type, r.identifier): r for r in resources}
        new = [r for key, r in loaded.items() if key not in self._cache]
        self._cache = loaded
        return new

    def cached(self, resource_type: str, identifier: str) -> Resource | None:
        return self._cache.get((resource_type, identifier))

    def cached_all(self, resource_type: str | None = None) -> list[Resource]:
        return [r for (t, _), r in self._cache.items() if resource_type in (None, t)]

    async def find(self, resource_type: str, identifier: str) -> Resource | None:
        """The resource, from the store (authoritative); updates the cache."""
        value = await self.store.get(_key(resource_type, identifier))
        if value is None:
            self._cache.pop((resource_type, identifier), None)
            return None
        resource = _decode(resource_type, value)
        self._cache[(resource_type, identifier)] = resource
        return resource

    async def get(self, resource_type: str, identifier: str) -> Resource:
        resource = await self.find(resource_type, identifier)
        if resource is None:
            raise ResourceNotFoundError(RESOURCE_KINDS[resource_type].title, identifier)
        return resource

    async def list(self, resource_type: str) -> list[Resource]:
        resources = [_decode(k, v) for k, v in await self.store.items(f"{resource_type}:")]
        for resource in resources:
            self._cache[(resource.type, resource.identifier)] = resource
        return resources

    async def add(self, resource: Resource) -> Resource:
        """Store a new resource; 409 if the identifier is taken (checked atomically in the store)."""
        if not await self.store.insert(_key(resource.type, resource.identifier), resource.model_dump_json()):
            raise ConflictError(f"{RESOURCE_KINDS[resource.type].title} '{resource.identifier}' already exists")
        self._cache[(resource.type, resource.identifier)] = resource
        return resource

    async def put(self, resource: Resource) -> Resource:
        """Store a resource, replacing any with the same identifier."""
        await self.store.set(_key(resource.type, resource.identifier), resource.model_dump_json())
        self._cache[(resource.type, resource.identifier)] = resource
        return resource

    async def remove(self, resource_type: str, identifier: str) -> None:
        self._cache.pop((resource_type, identifier), None)
        if not await self.store.delete(_key(resource_type, identifier)):
            raise ResourceNotFoundError(RESOURCE_KINDS[resource_type].title, identifier)
