"""VectorIO routing: creating, listing and deleting vector stores also registers, lists and removes their
``vector_db`` resources, so every later call routes by store id to the provider that owns it."""

from __future__ import annotations

import uuid

from ..apis.common import CursorPage, DeletedObject
from ..apis.resources import ModelType, RegisterVectorDBRequest, Resource
from ..apis.vector_io import VectorStore, VectorStoreCreateRequest, VectorStoreListRequest, VectorStoreRef
from ..errors import BadRequestError
from ..owners import Owner, readable
from ..pagination import paginate
from ..routing import ApiRouter, as_model, provider_method, serving


def _id_and_owner(resource: Resource) -> tuple[str, Owner | None]:
    return resource.identifier, resource.owner


class VectorIORouter(ApiRouter):
    def default_embedding_model(self) -> str:
        """The embedding model a store gets when the request names none: the first registered one."""
        models = sorted(
            (
                m
                for m in readable(self._resources.registry.cached_all("model"), "model", _id_and_owner)
                if getattr(m, "model_type", None) == ModelType.embedding
            ),
            key=lambda m: m.identifier,
        )
        if not models:
            raise BadRequestError(
                "no embedding model is registered; register one or pass embedding_model", param="embedding_model"
            )
        return models[0].identifier

    async def openai_create_vector_store(self, request: VectorStoreCreateRequest) -> VectorStore:
        provider = serving(self.default_provider(request))
        create = provider_method(provider, "openai_create_vector_store")
        store_id = f"vs_{uuid.uuid4()}"
        resource = await self._resources.register(
            "vector_db",
            RegisterVectorDBRequest(
                vector_db_id=store_id,
                provider_id=provider.provider_id,
                embedding_model=request.embedding_model or self.default_embedding_model(),
                embedding_dimension=request.embedding_dimension,
                vector_db_name=request.name,
                provider_vector_db_id=request.provider_vector_db_id,
            ),
        )
        try:
            created = await create(request.model_copy(update={"vector_store_id": resource.provider_resource_id}))
        except Exception:
            await self._resources.unregister("vector_db", store_id)
            raise
        return as_model(created, VectorStore).model_copy(update={"id": store_id})

    async def openai_list_vector_stores(self, request: VectorStoreListRequest) -> CursorPage[VectorStore]:
        resources = readable(await self._resources.registry.list("vector_db"), "vector_db", _id_and_owner)
        page = paginate(
            resources,
            limit=request.limit,
            order=request.order,
            after=request.after,
            before=request.before,
            sort_key=lambda r: r.created,
            item_id=lambda r: r.identifier,
        )
        stores = []
        for resource in page.data:
            provider = self.providers.get(resource.provider_id)
            if provider is None:
                continue
            store = await provider_method(provider, "openai_retrieve_vector_store")(
                VectorStoreRef(vector_store_id=resource.provider_resource_id or resource.identifier)
            )
            stores.append(as_model(store, VectorStore).model_copy(update={"id": resource.identifier}))
        return CursorPage[VectorStore](
            data=stores, has_more=page.has_more, first_id=page.first_id, last_id=page.last_id
        )

    async def openai_delete_vector_store(self, request: VectorStoreRef) -> DeletedObject:
        provider, _, _ = await self.resolve("vector_db", request.vector_store_id)  # 404 for an unknown store
        serving(provider)
        await self._resources.unregister("vector_db", request.vector_store_id)
        return DeletedObject(id=request.vector_store_id, object="vector_store.deleted")
