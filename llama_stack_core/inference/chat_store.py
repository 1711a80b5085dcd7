"""The inference store: the chat completions the stack answered, with their input messages, kept in a KV store that
several server processes may share, and listed newest (or oldest) first with an OpenAI cursor.

Answering never waits for it: :meth:`ChatCompletionStore.add` appends to a queue (a list append), and a background
task turns the queue into records and writes them in batches, one transaction each (SQLite work runs on its own
thread; PostgreSQL's is async I/O). A read first writes what this process still holds, so a client always finds what
it was just answered. ``drain`` at stop writes the rest.

Keys (in the store's namespace), ``<order>`` being ``<time in ns, 20 digits>:<completion id>``:

- ``t:<order>`` -> the stored completion as JSON (what ``GET /v1/chat/completions/{id}`` answers);
- ``c:<id>`` -> ``<order>`` (the id's place, for a lookup or an ``after`` cursor);
- ``m:<model, percent-quoted>:<order>`` -> ``""`` (the list filtered by model).

A page is one key-ordered ``scan`` of ``t:`` (or ``m:``) from the cursor: its cost does not grow with the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import quote

import orjson

from ..apis.common import CursorPage
from ..apis.inference import ChatCompletionRequest, ListChatCompletionMessagesRequest, ListChatCompletionsRequest
from ..config.model import InferenceStoreSettings
from ..errors import BadRequestError, NotFoundError
from ..owners import Action, Owner, current_owner, guarded, may, owner_of
from ..pagination import paginate
from ..storage import KVStore
from .chat_assembly import as_data, assemble_stream

log = logging.getLogger(__name__)

#: a queued answer: (time in ns, the request as the client sent it, the answer or the stream's chunks, streamed?,
#: the caller who owns it (with server.auth on))
Pending = tuple[int, ChatCompletionRequest, Any, bool, Owner | None]


def _record(pending: Pending) -> list[tuple[str, str]]:
    """The keys one answered chat completion is stored under."""
    order_ns, request, answer, streamed, owner = pending
    completion = assemble_stream(answer) if streamed else as_data(answer)
    completion["model"] = request.model  # the model id the client asked for, as the list filters by it
    completion["input_messages"] = [m.model_dump(mode="json", exclude_unset=True) for m in request.messages]
    if owner is not None:
        completion["owner"] = owner.model_dump()
    order = f"{order_ns:020d}:{completion['id']}"
    return [
        (f"t:{order}", orjson.dumps(completion).decode()),
        (f"c:{completion['id']}", order),
        (f"m:{quote(request.model, safe='')}:{order}", ""),
    ]


def _not_found(completion_id: str) -> NotFoundError:
    return NotFoundError(f"chat completion '{completion_id}' not found")


def _shown(record: dict[str, Any]) -> dict[str, Any] | None:
    """A stored completion as the API shows it (without its owner), or None if the caller may not read it."""
    owner = owner_of(record)
    record.pop("owner", None)
    return record if may(Action.read, "chat_completion", record.get("id", ""), owner) else None


class ChatCompletionStore:
    """Stored chat completions: queued on the request path, written in batches by one background task."""

    def __init__(self, kv: KVStore, settings: InferenceStoreSettings) -> None:
        self._kv = kv
        self._settings = settings
        self._pending: list[Pending] = []
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        #: completions written, dropped because the queue was full (or the store stopped), lost to a failed write
        self.written = self.dropped = self.failed = 0

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_batches(), name="inference-store-writer")

    # -- the request path ------------------------------------------------------------------------------------------

    def add(self, request: ChatCompletionRequest, answer: Any, *, streamed: bool = False, at_ns: int = 0) -> None:
        """Queue an answered completion (``answer``: the answer, or a stream's chunks). Never waits."""
        pending = self._pending
        if len(pending) >= self._settings.max_write_queue or self._closed:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("inference store: %d completion(s) not stored (write queue full or stopped)", self.dropped)
            return
        pending.append((at_ns or time.time_ns(), request, answer, streamed, current_owner()))
        if len(pending) == self._settings.batch_size:
            self._wake.set()

    # -- writing ---------------------------------------------------------------------------------------------------

    async def _write_batches(self) -> None:
        interval = self._settings.flush_interval_seconds
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every queued completion now, in batches of ``batch_size`` (a failed batch is logged and dropped)."""
        async with self._flushing:
            size = self._settings.batch_size
            while self._pending:
                batch, self._pending = self._pending[:size], self._pending[size:]
                records = []
                for pending in batch:
                    try:
                        records.append(_record(pending))
                    except Exception:  # an answer that is not a chat completion; the others are still written
                        self.failed += 1
                        log.exception("inference store: an answer of model %s could not be stored", pending[1].model)
                try:
                    await self._kv.set_many([pair for record in records for pair in record])
                except Exception:
                    self.failed += len(records)
                    log.exception("inference store: writing %d completion(s) failed; they are not stored", len(records))
                else:
                    self.written += len(records)

    async def drain(self, timeout: float) -> None:
        """Stop taking completions and write the queued ones (up to ``timeout`` seconds)."""
        self._closed = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                if self._writer is not None:
                    await self._writer
                await self.flush()
        except TimeoutError:
            log.error("inference store: %d completion(s) not written within %.1f s", len(self._pending), timeout)

    # -- reading ---------------------------------------------------------------------------------------------------

    async def _written(self) -> None:
        if self._pending:
            await self.flush()

    async def _order(self, completion_id: str) -> str | None:
        await self._written()
        return await self._kv.get(f"c:{completion_id}")

    async def list(self, query: ListChatCompletionsRequest) -> bytes:
        """One page of the cursor list, as the JSON body (the stored records are not parsed, with auth off)."""
        prefix = "t:" if query.model is None else f"m:{quote(query.model, safe='')}:"
        after = None
        if query.after is not None:
            order = await self._order(query.after)
            if order is None:
                raise BadRequestError(f"after: no stored chat completion with id '{query.after}'", param="after")
            after = prefix + order
        else:
            await self._written()
        if guarded():
            return await self._readable_page(query, prefix, after)
        rows = await self._kv.scan(prefix, after=after, limit=query.limit + 1, reverse=query.order == "desc")
        has_more = len(rows) > query.limit
        orders = [key[len(prefix) :] for key, _ in rows[: query.limit]]
        if query.model is None:
            records = [value for _, value in rows[: query.limit]]
        else:
            found = await asyncio.gather(*(self._kv.get(f"t:{order}") for order in orders))
            records = [value for value in found if value is not None]
        ids = [order.partition(":")[2] for order in orders]
        head = orjson.dumps(
            {"object": "list", "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}
        )
        has_more_json = b"true" if has_more else b"false"
        data = ",".join(records).encode()
        return head[:-1] + b',"has_more":' + has_more_json + b',"data":[' + data + b"]}"

    async def _readable_page(self, query: ListChatCompletionsRequest, prefix: str, after: str | None) -> bytes:
        """A page of the completions the caller may read: scanned in batches from the cursor, each record parsed
        to check its owner (with auth on only)."""
        page: list[dict[str, Any]] = []
        has_more = False
        while not has_more:
            rows = await self._kv.scan(prefix, after=after, limit=query.limit + 1, reverse=query.order == "desc")
            for key, value in rows:
                after = key
                if prefix != "t:":
                    value = await self._kv.get(f"t:{key[len(prefix) :]}") or ""
                if not value:
                    continue
                record = _shown(orjson.loads(value))
                if record is None:
                    continue
                if len(page) == query.limit:
                    has_more = True
                    break
                page.append(record)
            if len(rows) <= query.limit:
                break
        return orjson.dumps(
            {
                "object": "list",
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": has_more,
                "data": page,
            }
        )

    async def get(self, completion_id: str) -> bytes:
        """One stored completion with its input messages, as JSON; 404 if there is none with this id (or, with auth
        on, the caller may not read it)."""
        order = await self._order(completion_id)
        record = await self._kv.get(f"t:{order}") if order is not None else None
        if record is None:
            raise _not_found(completion_id)
        if guarded():
            shown = _shown(orjson.loads(record))
            if shown is None:
                raise _not_found(completion_id)
            return orjson.dumps(shown)
        return record.encode()

    async def messages(self, query: ListChatCompletionMessagesRequest) -> CursorPage[dict[str, Any]]:
        """A stored completion's input messages as a cursor list; each gets the id ``<completion id>-<index>``."""
        record = orjson.loads(await self.get(query.completion_id))
        messages = [
            {"id": f"{query.completion_id}-{index}", **message}
            for index, message in enumerate(record["input_messages"])
        ]
        positions = {m["id"]: index for index, m in enumerate(messages)}
        return paginate(
            messages,
            limit=query.limit,
            order=query.order,
            after=query.after,
            sort_key=lambda m: positions[m["id"]],
            item_id=lambda m: m["id"],
        )
