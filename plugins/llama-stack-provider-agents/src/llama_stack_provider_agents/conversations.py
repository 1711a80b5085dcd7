"""The ``inline::builtin`` Conversations provider: the core's :class:`ConversationStore` on ``config.persistence``."""

from __future__ import annotations

from typing import Any

from llama_stack_core.agents.conversation_store import ConversationStore
from llama_stack_core.apis.conversations import (
    AddConversationItemsRequest,
    ConversationIdRequest,
    CreateConversationRequest,
    DeleteConversationItemRequest,
    GetConversationItemRequest,
    ListConversationItemsRequest,
    UpdateConversationRequest,
)
from llama_stack_core.storage import KVStore

from .config import ConversationsConfig

JSON = dict[str, Any]


def _item_list(items: list[JSON], has_more: bool = False) -> JSON:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


class BuiltinConversations:
    """Conversations and items in the stack's store; answers in OpenAI's wire shapes (plain dicts)."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv
        self.store = ConversationStore(kv)

    async def create_conversation(self, request: CreateConversationRequest) -> JSON:
        return await self.store.create(request.items or [], request.metadata)

    async def get_conversation(self, request: ConversationIdRequest) -> JSON:
        return await self.store.get(request.conversation_id)

    async def update_conversation(self, request: UpdateConversationRequest) -> JSON:
        return await self.store.update_metadata(request.conversation_id, request.metadata)

    async def delete_conversation(self, request: ConversationIdRequest) -> JSON:
        await self.store.delete(request.conversation_id)
        return {"id": request.conversation_id, "object": "conversation.deleted", "deleted": True}

    async def add_conversation_items(self, request: AddConversationItemsRequest) -> JSON:
        return _item_list(await self.store.add_items(request.conversation_id, request.items))

    async def list_conversation_items(self, request: ListConversationItemsRequest) -> JSON:
        page = await self.store.list_items(
            request.conversation_id,
            limit=request.limit,
            order=request.order,
            after=request.after,
            before=request.before,
        )
        return _item_list(page.data, page.has_more)

    async def get_conversation_item(self, request: GetConversationItemRequest) -> JSON:
        return await self.store.get_item(request.conversation_id, request.item_id)

    async def delete_conversation_item(self, request: DeleteConversationItemRequest) -> JSON:
        await self.store.delete_item(request.conversation_id, request.item_id)
        return await self.store.get(request.conversation_id)

    async def health(self) -> JSON:
        await self.kv.get("conv:health-check")
        return {"status": "OK"}

    async def shutdown(self) -> None:
        await self.kv.close()


async def create_provider(config: ConversationsConfig, deps: dict[Any, Any]) -> BuiltinConversations:
    return BuiltinConversations(await config.persistence.open())
