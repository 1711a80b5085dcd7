"""Conversations: OpenAI's Conversations API, stored lists of Responses items that responses can append to."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import CursorQuery, DeletedObject, Request, StrictRequest
from .response_items import ResponseItem, ResponseItemList
from .routes import Api, ApiSpec, Route

# == objects and requests ========================================================================================


class Conversation(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    metadata: dict[str, str] | None = None


class CreateConversationRequest(Request):
    items: list[ResponseItem] | None = None
    metadata: dict[str, str] | None = None


class ConversationIdRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)


class UpdateConversationRequest(Request):
    """``metadata`` is required; ``null`` clears it (the openai SDK's ``update(metadata=None)``)."""

    conversation_id: str = Field(min_length=1)
    metadata: dict[str, str] | None


class AddConversationItemsRequest(Request):
    """Path ``conversation_id``; query ``include``; body ``items``."""

    conversation_id: str = Field(min_length=1)
    items: list[ResponseItem] = Field(min_length=1)
    include: list[str] | None = None


class ListConversationItemsRequest(CursorQuery):
    conversation_id: str = Field(min_length=1)
    include: list[str] | None = None


class GetConversationItemRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    include: list[str] | None = None


class DeleteConversationItemRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)


# == provider contract ===========================================================================================


@runtime_checkable
class ConversationsProvider(Protocol):
    """What a conversations provider implements. Providers may return plain dicts shaped like the response models."""

    async def create_conversation(self, request: CreateConversationRequest) -> Conversation:
        """Create a conversation, optionally with initial items."""
        ...

    async def get_conversation(self, request: ConversationIdRequest) -> Conversation:
        """Get a conversation."""
        ...

    async def update_conversation(self, request: UpdateConversationRequest) -> Conversation:
        """Replace a conversation's metadata."""
        ...

    async def delete_conversation(self, request: ConversationIdRequest) -> DeletedObject:
        """Delete a conversation and its items."""
        ...

    async def add_conversation_items(self, request: AddConversationItemsRequest) -> ResponseItemList:
        """Append items to a conversation."""
        ...

    async def list_conversation_items(self, request: ListConversationItemsRequest) -> ResponseItemList:
        """List a conversation's items."""
        ...

    async def get_conversation_item(self, request: GetConversationItemRequest) -> ResponseItem:
        """Get one item of a conversation."""
        ...

    async def delete_conversation_item(self, request: DeleteConversationItemRequest) -> Conversation:
        """Delete one item of a conversation; returns the conversation (as OpenAI does)."""
        ...


_CONVERSATIONS = "/v1/conversations"
_CONVERSATION = _CONVERSATIONS + "/{conversation_id}"

SPEC = ApiSpec(
    api=Api.conversations,
    title="Conversations",
    protocol=ConversationsProvider,
    description="OpenAI Conversations: stored lists of items that responses read and append to.",
    routes=(
        Route(
            "POST",
            _CONVERSATIONS,
            "create_conversation",
            "Create a conversation.",
            CreateConversationRequest,
            Conversation,
        ),
        Route("GET", _CONVERSATION, "get_conversation", "Get a conversation.", ConversationIdRequest, Conversation),
        Route(
            "POST",
            _CONVERSATION,
            "update_conversation",
            "Update a conversation's metadata.",
            UpdateConversationRequest,
            Conversation,
        ),
        Route(
            "DELETE",
            _CONVERSATION,
            "delete_conversation",
            "Delete a conversation.",
            ConversationIdRequest,
            DeletedObject,
        ),
        Route(
            "POST",
            _CONVERSATION + "/items",
            "add_conversation_items",
            "Add items to a conversation.",
            AddConversationItemsRequest,
            ResponseItemList,
        ),
        Route(
            "GET",
            _CONVERSATION + "/items",
            "list_conversation_items",
            "List a conversation's items.",
            ListConversationItemsRequest,
            ResponseItemList,
        ),
        Route(
            "GET",
            _CONVERSATION + "/items/{item_id}",
            "get_conversation_item",
            "Get a conversation item.",
            GetConversationItemRequest,
            ResponseItem,
        ),
        Route(
            "DELETE",
            _CONVERSATION + "/items/{item_id}",
            "delete_conversation_item",
            "Delete a conversation item; returns the conversation.",
            DeleteConversationItemRequest,
            Conversation,
        ),
    ),
)
