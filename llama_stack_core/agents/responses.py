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
from ..owners import Action, authorize_create, guarded
from .items import ITEMS, chat_messages, input_items, new_id
from .response_store import ResponseRecord, ResponseStore
from .run import Engines, ResponseRun
from .tools import Tools

log = logging.getLogger(__name__)

#: A background response whose runner has not beaten for this long is taken as interrupted (its process died).
STALE_AFTER_SECONDS = 30.0


def _echoed(tool: Any) -> dict[str, Any]:
    """A request's tool as the response shows it: an MCP server's headers and authorization left out (secrets)."""
    return tool.model_dump(mode="json", exclude_none=True, exclude={"headers", "authorization"})


class ResponsesEngine:
    def __init__(
        self,
        store: ResponseStore,
        engines: Engines,
        *,
        max_infer_iters: int = 10,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.store = store
        self.engines = engines
        self.max_infer_iters = max_infer_iters
        self.stale_after = stale_after
        #: how often a running background response beats: several times within ``stale_after``
        self.heartbeat_seconds = stale_after / 4
        self.background = BackgroundTasks("responses")
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._cancelled: set[str] = set()  # background responses cancelled by a caller, not by a stop
        self._runner = uuid.uuid4().hex  # this process, as the runner of its background responses

    # -- create ------------------------------------------------------------------------------------------------------

    async def create(self, request: CreateResponseRequest) -> ResponseObject | AsyncIterator[dict[str, Any]]:
        """Check what the request names (404s before anything runs), then run it as it asks."""
        authorize_create("response", "")
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
        if not messages:
            raise BadRequestError(
                "nothing to answer: the input has no message, and no instructions, previous response or "
                "conversation give one",
                param="input",
            )
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
            tool_choice=request.tool_choice or "auto",
            tools=[_echoed(tool) for tool in request.tools or ()],
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
        return ResponseRecord(response=run.response, input=items, messages=messages, owner=run.owner)

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
        record = ResponseRecord(response=queued, input=items, runner=self._runner, beat=time.time(), owner=run.owner)
        await self.store.save(record)
        await self.store.heartbeats.beat(queued.id, self._runner)
        task = self.background.spawn(self._run_background(run, items, conversation), name=f"response {queued.id}")
        self._running[queued.id] = task
        task.add_done_callback(lambda _: self._running.pop(queued.id, None))
        return queued

    async def _run_background(self, run: ResponseRun, items: list[ResponseItem], conversation: str | None) -> None:
        """Run a background response, storing its progress; a heartbeat beside it says this process still runs it
        (and notices a cancel made through another process)."""
        response_id = run.response.id
        heartbeat = asyncio.create_task(
            self.store.heartbeats.keep_alive(
                response_id,
                self._runner,
                every=self.heartbeat_seconds,
                stopped=lambda: self._stopped_elsewhere(response_id),
                task=asyncio.current_task(),
            )
        )
        last_snapshot = 0.0
        try:
            async for event in run.events():
                if time.monotonic() - last_snapshot > self.heartbeat_seconds:
                    last_snapshot = time.monotonic()
                    await self._save_progress(run, items, event)
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._persist(run, items, conversation)
        except asyncio.CancelledError:
            cancelled = response_id in self._cancelled
            await asyncio.shield(self._save_stopped(run, items, cancelled=cancelled))
            raise
        except Exception:
            log.exception("background response %s failed", response_id)
            await self._save_failed(run, items, "the response failed in the background")
        finally:
            heartbeat.cancel()
            self._cancelled.discard(response_id)
            await asyncio.shield(self.store.heartbeats.forget(response_id))

    async def _save_progress(self, run: ResponseRun, items: list[ResponseItem], event: dict[str, Any]) -> None:
        stored = await self.store.find(run.response.id)
        if stored is None or stored.response.status == "cancelled":
            return  # deleted or cancelled meanwhile: the heartbeat stops the run
        snapshot = ResponseObject.model_validate(event.get("response") or run.snapshot("in_progress"))
        record = ResponseRecord(response=snapshot, input=items, runner=self._runner, beat=time.time(), owner=run.owner)
        await self.store.save(record)

    async def _stopped_elsewhere(self, response_id: str) -> bool:
        """Whether the response was cancelled (or deleted) through another process: its run is to stop."""
        stored = await self.store.find(response_id)
        if stored is None or stored.response.status == "cancelled":
            self._cancelled.add(response_id)
            return True
        return False

    async def _save_stopped(self, run: ResponseRun, items: list[ResponseItem], *, cancelled: bool) -> None:
        """A background run that stopped early: cancelled by a caller, or cut by this server stopping."""
        if await self.store.find(run.response.id) is None:
            return  # deleted
        if cancelled:
            update = {"status": "cancelled", "output": [], "usage": None}
            cancelled = run.response.model_copy(update=update)
            await self.store.save(ResponseRecord(response=cancelled, input=items, owner=run.owner))
        else:
            await self._save_failed(run, items, "interrupted: the server stopped before the response finished")

    async def _save_failed(self, run: ResponseRun, items: list[ResponseItem], message: str) -> None:
        data = run.snapshot("failed", error={"code": "server_error", "message": message})
        failed = ResponseObject.model_validate(data)
        await self.store.save(ResponseRecord(response=failed, input=items, owner=run.owner))

    async def cancel(self, response_id: str) -> ResponseObject:
        record = await self.store.get(response_id, Action.update)
        if not getattr(record.response, "background", False):
            raise BadRequestError(f"response '{response_id}' was not created with background: true")
        task = self._running.get(response_id)
        if task is not None:
            self._cancelled.add(response_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return (await self.store.get(response_id)).response
        if record.response.status in ("queued", "in_progress") and not await self._failed_if_stale(record):
            # another process runs it: mark it; that runner's heartbeat sees the mark and stops it
            cancelled = record.response.model_copy(update={"status": "cancelled", "output": []})
            await self.store.save(record.model_copy(update={"response": cancelled}))
            return cancelled
        return (await self.store.get(response_id)).response

    async def fail_interrupted(self) -> int:
        """Mark background responses whose runner stopped beating (a process that died) failed; at start-up."""
        count = 0
        for record in await self.store.records():
            if await self._failed_if_stale(record):
                count += 1
        return count

    async def _failed_if_stale(self, record: ResponseRecord) -> bool:
        """Fail a queued or running background response whose runner has not beaten for ``stale_after`` seconds."""
        if record.response.status not in ("queued", "in_progress") or record.response.id in self._running:
            return False
        if await self.store.heartbeats.silent_for(record.response.id, record.beat) < self.stale_after:
            return False
        error = {
            "code": "server_error",
            "message": "interrupted: the server running this response stopped before it finished",
        }
        failed = ResponseObject.model_validate({**record.response.model_dump(), "status": "failed", "error": error})
        await self.store.save(record.model_copy(update={"response": failed}))
        log.warning("background response %s was interrupted (its runner stopped); marked failed", record.response.id)
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
        if guarded():  # the caller may delete it (before its run is cancelled)
            await self.store.get(response_id, Action.delete)
        task = self._running.get(response_id)
        if task is not None:
            self._cancelled.add(response_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return await self.store.delete(response_id)

    async def input_items(self, request: ListResponseInputItemsRequest) -> ResponseItemList:
        return await self.store.input_items(
            request.response_id, after=request.after, before=request.before, limit=request.limit, order=request.order
        )

    async def drain(self, timeout: float) -> None:
        await self.background.drain(timeout)
