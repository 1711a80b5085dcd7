"""The Responses engine's facade: create a response (answered, streamed or run in the background), and the stored
responses (get, list, delete, cancel, input items). Providers wrap it; it holds no HTTP or provider specifics."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ..apis.common import CursorPage, DeletedObject
from ..apis.conversations import AddConversationItemsRequest, ListConversationItemsRequest
from ..apis.response_items import McpApprovalResponse, ResponseItem, ResponseItemList
from ..apis.responses import (
    ConversationRef,
    CreateResponseRequest,
    ListResponseInputItemsRequest,
    ListResponsesRequest,
    ResponseObject,
    ResponseObjectWithInput,
)
from ..background import BackgroundTasks
from ..errors import BadRequestError, NotConfiguredError
from .items import ITEMS, chat_messages, input_items, new_id
from .response_store import ResponseRecord, ResponseStore
from .run import Engines, ResponseRun
from .tools import Tools

log = logging.getLogger(__name__)

#: A background response whose runner has not written for this long is taken as interrupted (its process died).
STALE_AFTER_SECONDS = 30.0
_HEARTBEAT_SECONDS = 5.0


def _echoed(tool: Any) -> dict[str, Any]:
    """A request's tool as the response shows it: an MCP server's headers and authorization left out (secrets)."""
    return tool.model_dump(mode="json", exclude_none=True, exclude={"headers", "authorization"})


class ResponsesEngine:
    def __init__(self, store: ResponseStore, engines: Engines, *, max_infer_iters: int = 10) -> None:
        self.store = store
        self.engines = engines
        self.max_infer_iters = max_infer_iters
        self.background = BackgroundTasks("responses")
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._runner = uuid.uuid4().hex  # this process, as the runner of its background responses

    # -- create ------------------------------------------------------------------------------------------------------

    async def create(self, request: CreateResponseRequest) -> ResponseObject | AsyncIterator[dict[str, Any]]:
        """Check what the request names (404s before anything runs), then run it as it asks."""
        run, items, conversation = await self._prepare(request)
        if request.background:
            if request.store is False:
                raise BadRequestError("a background response must be stored (store: true)", param="store")
            return await self._start_background(run, items, conversation)
        if request.stream:
            return self._streamed(run, items, conversation)
        async for _ in run.events():
            pass
        await self._persist(run, items, conversation)
        return run.response

    async def _prepare(self, request: CreateResponseRequest) -> tuple[ResponseRun, list[ResponseItem], str | None]:
        await self.engines.inference.resolve("model", request.model)
        if request.previous_response_id and request.conversation:
            raise BadRequestError(
                "previous_response_id and conversation cannot both be given", param="previous_response_id"
            )
        items = input_items(request.input)
        messages: list[dict[str, Any]] = []
        if request.instructions:
            messages.append({"role": "system", "content": request.instructions})
        approvals: list[tuple[dict[str, Any], bool]] = []
        if request.previous_response_id:
            previous = await self.store.get(request.previous_response_id)
            messages.extend(previous.messages)
            approvals = self._approvals(items, previous)
        conversation = self._conversation_id(request.conversation)
        if conversation is not None:
            messages.extend(chat_messages(await self._conversation_items(conversation)))
        messages.extend(chat_messages([i for i in items if not isinstance(i, McpApprovalResponse)]))
        toolset = await Tools(self.engines.tool_runtime, self.engines.vector_io).toolset(request.tools)
        response = ResponseObject(
            id=new_id("resp"),
            created_at=int(time.time()),
            model=request.model,
            status="in_progress",
            instructions=request.instructions,
            previous_response_id=request.previous_response_id,
            parallel_tool_calls=request.parallel_tool_calls if request.parallel_tool_calls is not None else True,
            temperature=request.temperature,
            top_p=request.top_p,
            text=request.text or ResponseObject.model_fields["text"].default_factory(),  # type: ignore[misc]
            tools=[_echoed(tool) for tool in request.tools or ()],
            tool_choice=request.tool_choice or "auto",
            truncation=request.truncation or "disabled",
            max_tool_calls=request.max_tool_calls,
            metadata=request.metadata,
            background=bool(request.background),
            store=request.store is not False,
            max_output_tokens=request.max_output_tokens,
            conversation={"id": conversation} if conversation else None,
        )
        run = ResponseRun(
            request,
            response,
            messages,
            self.engines,
            toolset,
            approvals=approvals,
            max_infer_iters=self.max_infer_iters,
        )
        return run, items, conversation

    @staticmethod
    def _approvals(items: list[ResponseItem], previous: ResponseRecord) -> list[tuple[dict[str, Any], bool]]:
        asked = {getattr(i, "id", None): i for i in previous.response.output if i.type == "mcp_approval_request"}
        approvals = []
        for item in items:
            if isinstance(item, McpApprovalResponse):
                request = asked.get(item.approval_request_id)
                if request is None:
                    raise BadRequestError(
                        f"approval_request_id '{item.approval_request_id}' is not an approval request of "
                        f"response '{previous.response.id}'",
                        param="input",
                    )
                approvals.append((request.model_dump(), item.approve))
        return approvals

    @staticmethod
    def _conversation_id(conversation: str | ConversationRef | None) -> str | None:
        if conversation is None:
            return None
        return conversation if isinstance(conversation, str) else conversation.id

    def _conversations(self) -> Any:
        if self.engines.conversations is None:
            raise NotConfiguredError("conversation needs the conversations API, which this stack does not serve")
        return self.engines.conversations

    async def _conversation_items(self, conversation_id: str) -> list[ResponseItem]:
        request = ListConversationItemsRequest(conversation_id=conversation_id, order="asc", limit=10000)
        page = await self._conversations().call_as("list_conversation_items", request, ResponseItemList)
        return list(page.data)

    # -- streaming and persistence -----------------------------------------------------------------------------------

    async def _streamed(
        self, run: ResponseRun, items: list[ResponseItem], conversation: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        async for event in run.events():
            yield event
        await self._persist(run, items, conversation)

    def _record(self, run: ResponseRun, items: list[ResponseItem]) -> ResponseRecord:
        messages = run.messages[1:] if run.request.instructions else run.messages
        return ResponseRecord(response=run.response, input=items, messages=messages)

    async def _persist(self, run: ResponseRun, items: list[ResponseItem], conversation: str | None) -> None:
        if run.request.store is not False:
            await self.store.save(self._record(run, items))
        if conversation is not None:
            output = ITEMS.validate_python(run.response.model_dump(mode="json")["output"])
            request = AddConversationItemsRequest(conversation_id=conversation, items=[*items, *output])
            await self._conversations().call("add_conversation_items", request)

    # -- background ------------------------------------------------------------------------------------------------

    async def _start_background(
        self, run: ResponseRun, items: list[ResponseItem], conversation: str | None
    ) -> ResponseObject:
        self.background.ensure_open()
        queued = run.response.model_copy(update={"status": "queued"})
        await self.store.save(ResponseRecord(response=queued, input=items, runner=self._runner, beat=time.time()))
        task = self.background.spawn(self._run_background(run, items, conversation), name=f"response {queued.id}")
        self._running[queued.id] = task
        task.add_done_callback(lambda _: self._running.pop(queued.id, None))
        return queued

    async def _run_background(self, run: ResponseRun, items: list[ResponseItem], conversation: str | None) -> None:
        response_id = run.response.id
        last_beat = 0.0
        try:
            async for event in run.events():
                if time.monotonic() - last_beat > _HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    stored = await self.store.find(response_id)
                    if stored is not None and stored.response.status == "cancelled":
                        return  # cancelled through another process
                    snapshot = ResponseObject.model_validate(event.get("response") or run.snapshot("in_progress"))
                    record = ResponseRecord(response=snapshot, input=items, runner=self._runner, beat=time.time())
                    await self.store.save(record)
            await self._persist(run, items, conversation)
        except asyncio.CancelledError:
            cancelled = run.response.model_copy(update={"status": "cancelled", "output": []})
            await asyncio.shield(self.store.save(ResponseRecord(response=cancelled, input=items)))
            raise
        except Exception:
            log.exception("background response %s failed", response_id)
            error = {"code": "server_error", "message": "the response failed in the background"}
            failed = run.response.model_copy(update={"status": "failed", "error": error})
            await self.store.save(
                ResponseRecord(response=ResponseObject.model_validate(failed.model_dump()), input=items)
            )

    async def cancel(self, response_id: str) -> ResponseObject:
        record = await self.store.get(response_id)
        if not getattr(record.response, "background", False):
            raise BadRequestError(f"response '{response_id}' was not created with background: true")
        task = self._running.get(response_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return (await self.store.get(response_id)).response
        if record.response.status in ("queued", "in_progress"):
            # another process runs it: mark it; that runner sees the mark when it next writes
            cancelled = record.response.model_copy(update={"status": "cancelled"})
            await self.store.save(record.model_copy(update={"response": cancelled}))
            return cancelled
        return record.response

    async def fail_interrupted(self) -> int:
        """Mark background responses whose runner stopped writing (a process that died) failed; at start-up."""
        count = 0
        for record in await self.store.records():
            if await self._failed_if_stale(record):
                count += 1
        return count

    async def _failed_if_stale(self, record: ResponseRecord) -> bool:
        if record.response.status not in ("queued", "in_progress") or record.runner == self._runner:
            return False
        if time.time() - (record.beat or 0) < STALE_AFTER_SECONDS and record.runner is not None:
            return False
        error = {"code": "interrupted", "message": "the server running this response stopped before it finished"}
        failed = record.response.model_copy(update={"status": "failed", "error": error})
        await self.store.save(
            record.model_copy(update={"response": ResponseObject.model_validate(failed.model_dump())})
        )
        return True

    # -- stored responses --------------------------------------------------------------------------------------------

    async def get(self, response_id: str) -> ResponseObject:
        record = await self.store.get(response_id)
        if await self._failed_if_stale(record):
            record = await self.store.get(response_id)
        return record.response

    async def list(self, request: ListResponsesRequest) -> CursorPage[ResponseObjectWithInput]:
        if request.before is not None:
            raise BadRequestError("before is not supported here; page with after", param="before")
        return await self.store.page(after=request.after, limit=request.limit, order=request.order, model=request.model)

    async def delete(self, response_id: str) -> DeletedObject:
        task = self._running.get(response_id)
        if task is not None:
            task.cancel()
        return await self.store.delete(response_id)

    async def input_items(self, request: ListResponseInputItemsRequest) -> ResponseItemList:
        return await self.store.input_items(
            request.response_id, after=request.after, before=request.before, limit=request.limit, order=request.order
        )

    async def drain(self, timeout: float) -> None:
        await self.background.drain(timeout)
