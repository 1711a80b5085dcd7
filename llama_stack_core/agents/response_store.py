"""Stored responses: each response with its input items and the chat transcript a ``previous_response_id`` continues
from, in a key-value store (key order is creation order, so a page of the list is one key-ordered scan)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from ..apis.common import CursorPage, DeletedObject
from ..apis.response_items import ResponseItem, ResponseItemList
from ..apis.responses import ResponseObject, ResponseObjectWithInput
from ..errors import BadRequestError, NotFoundError
from ..heartbeat import Heartbeats
from ..owners import Action, Owner, authorize, guarded, may
from ..pagination import paginate
from ..storage import KVStore

_RECORD = "r:"  # r:<created ns, 20 digits>:<id> -> record
_PLACE = "p:"  # p:<id> -> the record's key
_BEAT = "b:"  # b:<id> -> heartbeat.Beat: a background response's runner is alive


class ResponseRecord(BaseModel):
    """A response as stored: the object, its input items, and the chat messages of the whole exchange."""

    response: ResponseObject
    input: list[ResponseItem] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    #: a background response's runner (a process) and when it last wrote, to tell an interrupted one
    runner: str | None = None
    beat: float | None = None
    #: who created it (with server.auth on)
    owner: Owner | None = None


def _not_found(response_id: str) -> NotFoundError:
    return NotFoundError(f"response '{response_id}' not found")


class ResponseStore:
    def __init__(self, kv: KVStore) -> None:
        self._kv = kv
        #: the beats of background responses' runners
        self.heartbeats = Heartbeats(kv, _BEAT)

    async def save(self, record: ResponseRecord) -> None:
        """Store a record, or replace the stored one of the same id (a background response as it progresses)."""
        response_id = record.response.id
        key = await self._kv.get(_PLACE + response_id)
        if key is None:
            key = f"{_RECORD}{time.time_ns():020d}:{response_id}"
        await self._kv.set_many([(key, record.model_dump_json()), (_PLACE + response_id, key)])

    async def find(self, response_id: str) -> ResponseRecord | None:
        key = await self._kv.get(_PLACE + response_id)
        raw = await self._kv.get(key) if key is not None else None
        return ResponseRecord.model_validate_json(raw) if raw is not None else None

    async def get(self, response_id: str, action: Action = Action.read) -> ResponseRecord:
        """The record, if the caller may ``action`` it (else 404, or 403 for a write to one they may read)."""
        record = await self.find(response_id)
        if record is None:
            raise _not_found(response_id)
        authorize(action, "response", response_id, record.owner, lambda: _not_found(response_id))
        return record

    async def delete(self, response_id: str) -> DeletedObject:
        key = await self._kv.get(_PLACE + response_id)
        if key is None:
            raise _not_found(response_id)
        if guarded():
            await self.get(response_id, Action.delete)
        await self._kv.delete(key)
        await self._kv.delete(_PLACE + response_id)
        await self.heartbeats.forget(response_id)
        return DeletedObject(id=response_id, object="response")

    async def records(self) -> list[ResponseRecord]:
        """Every stored record, oldest first."""
        return [ResponseRecord.model_validate_json(raw) for _, raw in await self._kv.items(_RECORD)]

    async def page(
        self, *, after: str | None, limit: int, order: str, model: str | None
    ) -> CursorPage[ResponseObjectWithInput]:
        """One page of the list, newest first unless ``order`` is ``asc``; ``model`` filters, and so does what the
        caller may read."""
        start = None
        if after is not None:
            start = await self._kv.get(_PLACE + after)
            if start is None:
                raise BadRequestError(f"after: no response with id '{after}'", param="after")
        page: list[ResponseObjectWithInput] = []
        has_more = False
        while True:
            batch = await self._kv.scan(_RECORD, after=start, limit=limit + 1, reverse=order == "desc")
            for key, raw in batch:
                start = key
                record = ResponseRecord.model_validate_json(raw)
                if model is not None and record.response.model != model:
                    continue
                if not may(Action.read, "response", record.response.id, record.owner):
                    continue
                if len(page) == limit:
                    has_more = True
                    break
                page.append(ResponseObjectWithInput(**record.response.model_dump(), input=record.input))
            if has_more or len(batch) <= limit:
                break
        return CursorPage[ResponseObjectWithInput](
            data=page,
            has_more=has_more,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    async def input_items(
        self, response_id: str, *, after: str | None, before: str | None, limit: int, order: str
    ) -> ResponseItemList:
        record = await self.get(response_id)
        positions = {id(item): i for i, item in enumerate(record.input)}
        page = paginate(
            record.input,
            limit=limit,
            order=order,
            after=after,
            before=before,
            sort_key=lambda item: positions[id(item)],
            item_id=lambda item: getattr(item, "id", None) or "",
        )
        return ResponseItemList(data=page.data, first_id=page.first_id, last_id=page.last_id, has_more=page.has_more)
