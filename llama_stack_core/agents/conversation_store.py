"""Conversations and their items in a :class:`~llama_stack_core.storage.KVStore`, shared by server processes.

Keys (inside the store's namespace)::

    conv:<conversation id>              the conversation: {id, created_at, metadata, owner (with auth on)}
    seq:<conversation id>               how many item positions were handed out (a counter, changed by compare-and-set)
    item:<conversation id>:<position>   an item; positions are zero-padded, so key order is insertion order
    id:<conversation id>:<item id>      an item's position (inserted only if absent: item ids are unique)

An append reserves a run of positions with one compare-and-set on the counter, so two appends from any processes get
disjoint runs: both land, each one's items contiguous and in order.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..apis.common import CursorPage
from ..apis.response_items import ResponseItem
from ..errors import BadRequestError, ConflictError, NotFoundError, UnprocessableError
from ..owners import Action, authorize, authorize_create, current_owner, guarded, owner_of
from ..pagination import paginate
from ..storage import KVStore

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
_POSITION_DIGITS = 16

#: Id prefixes of generated item ids, by item type (OpenAI's where it has one).
ITEM_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "web_search_call": "ws",
    "file_search_call": "fs",
    "mcp_call": "mcp",
    "mcp_list_tools": "mcpl",
    "mcp_approval_request": "mcpr",
    "mcp_approval_response": "mcpa",
    "reasoning": "rs",
}
_DONE_BY_DEFAULT = {"message", "function_call", "function_call_output"}
_ITEM = TypeAdapter(ResponseItem)


def new_id(prefix: str) -> str:
    """``<prefix>_`` and 48 random hex digits (the shape of OpenAI's ``conv_...`` and ``msg_...`` ids)."""
    return f"{prefix}_{secrets.token_hex(24)}"


def check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """OpenAI's metadata limits: at most 16 pairs, keys up to 64 characters, values up to 512."""
    metadata = metadata or {}
    if len(metadata) > MAX_METADATA_PAIRS:
        raise BadRequestError(f"metadata: at most {MAX_METADATA_PAIRS} pairs, got {len(metadata)}", param="metadata")
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise BadRequestError(
                f"metadata: key '{key[:20]}...' is over {MAX_METADATA_KEY} characters", param="metadata"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise BadRequestError(f"metadata['{key}']: value is over {MAX_METADATA_VALUE} characters", param="metadata")
    return dict(metadata)


def stored_item(item: Any) -> dict[str, Any]:
    """An item as stored and returned: explicit ``type``, an ``id`` (generated when absent), message content as
    parts (``input_text``, or ``output_text`` for the assistant), and ``status: completed`` unless given."""
    if not isinstance(item, BaseModel):
        try:
            item = _ITEM.validate_python(item)
        except ValidationError as exc:
            raise UnprocessableError(f"items: not a valid item: {exc.errors()[0]['msg']}", param="items") from None
    data = item.model_dump(mode="json", exclude_none=True)
    kind = data.setdefault("type", "message")
    if kind == "message" and isinstance(data.get("content"), str):
        if data.get("role") == "assistant":
            data["content"] = [{"type": "output_text", "text": data["content"], "annotations": []}]
        else:
            data["content"] = [{"type": "input_text", "text": data["content"]}]
    if kind in _DONE_BY_DEFAULT:
        data.setdefault("status", "completed")
    if not data.get("id"):
        data["id"] = new_id(ITEM_ID_PREFIXES.get(kind, "item"))
    return data


def _not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(f"conversation '{conversation_id}' not found", param="conversation_id")


def _shown(conversation_id: str, stored: dict[str, Any], action: Action) -> dict[str, Any]:
    """A stored conversation as the API shows it (without its owner), once the caller may ``action`` it."""
    owner = owner_of(stored)
    stored.pop("owner", None)
    authorize(action, "conversation", conversation_id, owner, lambda: _not_found(conversation_id))
    return stored


def _position(number: int) -> str:
    return f"{number:0{_POSITION_DIGITS}d}"


class ConversationStore:
    """Conversations and their items; raises :class:`NotFoundError` naming an unknown conversation or item."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    # -- conversations -------------------------------------------------------------------------------------------

    async def create(self, items: Sequence[Any] = (), metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """A new conversation (id ``conv_...``, ``created_at`` in unix seconds) holding ``items``, in order."""
        conversation = {
            "id": new_id("conv"),
            "object": "conversation",
            "created_at": int(time.time()),
            "metadata": check_metadata(metadata),
        }
        authorize_create("conversation", "")
        prepared = self._prepare(items)
        cid = conversation["id"]
        owner = current_owner()
        stored = conversation if owner is None else {**conversation, "owner": owner.model_dump()}
        await self.kv.set(f"conv:{cid}", json.dumps(stored))
        await self.kv.set(f"seq:{cid}", "0")
        if prepared:
            await self._append(cid, prepared)
        return conversation

    async def get(self, conversation_id: str, action: Action = Action.read) -> dict[str, Any]:
        """The conversation, if the caller may ``action`` it (else 404, or 403 for a write to one they may read)."""
        raw = await self.kv.get(f"conv:{conversation_id}")
        if raw is None:
            raise _not_found(conversation_id)
        return _shown(conversation_id, json.loads(raw), action)

    async def update_metadata(self, conversation_id: str, metadata: dict[str, str] | None) -> dict[str, Any]:
        """Replace the metadata (``None`` clears it). Read, change, compare-and-set: a concurrent change is retried,
        never lost."""
        metadata = check_metadata(metadata)
        key = f"conv:{conversation_id}"
        while True:
            raw = await self.kv.get(key)
            if raw is None:
                raise _not_found(conversation_id)
            conversation = {**json.loads(raw), "metadata": metadata}
            shown = _shown(conversation_id, dict(conversation), Action.update)
            if await self.kv.compare_and_set(key, raw, json.dumps(conversation)):
                return shown

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation and all its items (the counter first: no append can start after that)."""
        await self.get(conversation_id, Action.delete)
        await self.kv.delete(f"seq:{conversation_id}")
        await self.kv.delete(f"conv:{conversation_id}")
        await self._delete_items(conversation_id)

    async def _delete_items(self, conversation_id: str) -> None:
        for prefix in (f"item:{conversation_id}:", f"id:{conversation_id}:"):
            for key, _ in await self.kv.items(prefix):
                await self.kv.delete(key)

    # -- items ---------------------------------------------------------------------------------------------------

    async def add_items(self, conversation_id: str, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Append items (models or dicts) in order; returns them as stored. Ids are kept or generated; an id the
        conversation already has is a 409, the same id twice in ``items`` a 400."""
        prepared = self._prepare(items)
        if not prepared or guarded():
            await self.get(conversation_id, Action.update)
        if not prepared:
            return []
        return await self._append(conversation_id, prepared)

    async def list_items(
        self,
        conversation_id: str,
        *,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> CursorPage[dict[str, Any]]:
        """One page of items, newest first by default (OpenAI's cursor list), read as one key-ordered scan."""
        if before is not None:  # not in OpenAI's item list; served from the whole list
            return self._page_of(await self.all_items(conversation_id), limit, order, after, before)
        await self.get(conversation_id)
        after_key = None
        if after is not None:
            position = await self.kv.get(f"id:{conversation_id}:{after}")
            if position is None:
                raise BadRequestError(f"after: no item with id '{after}' in this conversation", param="after")
            after_key = f"item:{conversation_id}:{position}"
        rows = await self.kv.scan(f"item:{conversation_id}:", after=after_key, limit=limit + 1, reverse=order == "desc")
        items = [json.loads(value) for _, value in rows[:limit]]
        return CursorPage[dict[str, Any]](
            data=items,
            has_more=len(rows) > limit,
            first_id=items[0]["id"] if items else None,
            last_id=items[-1]["id"] if items else None,
        )

    @staticmethod
    def _page_of(
        items: list[dict[str, Any]], limit: int, order: str, after: str | None, before: str | None
    ) -> CursorPage[dict[str, Any]]:
        positions = {item["id"]: n for n, item in enumerate(items)}
        return paginate(
            items,
            limit=limit,
            order=order,
            after=after,
            before=before,
            sort_key=lambda item: positions[item["id"]],
            item_id=lambda item: item["id"],
        )

    async def all_items(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every item, oldest first (what a response reads as the conversation so far)."""
        await self.get(conversation_id)
        return [json.loads(value) for _, value in await self.kv.items(f"item:{conversation_id}:")]

    async def get_item(self, conversation_id: str, item_id: str) -> dict[str, Any]:
        await self.get(conversation_id)
        position = await self.kv.get(f"id:{conversation_id}:{item_id}")
        raw = None if position is None else await self.kv.get(f"item:{conversation_id}:{position}")
        if raw is None:
            raise NotFoundError(f"item '{item_id}' not found in conversation '{conversation_id}'", param="item_id")
        return json.loads(raw)

    async def delete_item(self, conversation_id: str, item_id: str) -> None:
        await self.get(conversation_id, Action.update)
        position = await self.kv.get(f"id:{conversation_id}:{item_id}")
        if position is None or not await self.kv.delete(f"item:{conversation_id}:{position}"):
            raise NotFoundError(f"item '{item_id}' not found in conversation '{conversation_id}'", param="item_id")
        await self.kv.delete(f"id:{conversation_id}:{item_id}")

    # -- appending -----------------------------------------------------------------------------------------------

    @staticmethod
    def _prepare(items: Sequence[Any]) -> list[dict[str, Any]]:
        prepared = [stored_item(item) for item in items]
        seen: set[str] = set()
        for item in prepared:
            if item["id"] in seen:
                raise BadRequestError(f"items: the id '{item['id']}' is given twice", param="items")
            seen.add(item["id"])
        return prepared

    async def _reserve(self, conversation_id: str, count: int) -> int:
        """Hand out ``count`` positions; returns the first (compare-and-set on the counter, retried on a race)."""
        key = f"seq:{conversation_id}"
        while True:
            current = await self.kv.get(key)
            if current is None:
                raise NotFoundError(f"conversation '{conversation_id}' not found", param="conversation_id")
            if await self.kv.compare_and_set(key, current, str(int(current) + count)):
                return int(current)

    async def _append(self, conversation_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first = await self._reserve(conversation_id, len(items))
        positions = [_position(first + n) for n in range(len(items))]
        claimed: list[str] = []
        for item, position in zip(items, positions, strict=True):
            key = f"id:{conversation_id}:{item['id']}"
            if not await self.kv.insert(key, position):
                for taken in claimed:
                    await self.kv.delete(taken)
                raise ConflictError(
                    f"conversation '{conversation_id}' already has an item with id '{item['id']}'", param="items"
                )
            claimed.append(key)
        # one transaction: a reader sees all of an append's items or none
        await self.kv.set_many(
            [(f"item:{conversation_id}:{p}", json.dumps(item)) for item, p in zip(items, positions, strict=True)]
        )
        if await self.kv.get(f"seq:{conversation_id}") is None:  # deleted while appending: leave nothing behind
            await self._delete_items(conversation_id)
            raise NotFoundError(f"conversation '{conversation_id}' not found", param="conversation_id")
        return items
