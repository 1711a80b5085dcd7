"""One response, run: model turns (streamed from the Inference API) and the served tools between them, as OpenAI's
stream of events. A non-streamed response is the same run with its events drained."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..apis.inference import ChatCompletionChunk, ChatCompletionRequest
from ..apis.responses import CreateResponseRequest, ResponseObject
from ..apis.safety import RunShieldRequest, RunShieldResponse
from ..errors import NotConfiguredError, StackError
from ..owners import current_owner
from ..routing import ApiRouter, as_model
from ..tracing import child_span
from .items import new_id
from .tools import ToolOutcome, Tools, ToolSet, needs_approval, pending_item

_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Engines:
    """The routers a response runs through (the provider's API dependencies)."""

    inference: ApiRouter
    tool_runtime: ApiRouter | None = None
    vector_io: ApiRouter | None = None
    safety: ApiRouter | None = None
    conversations: ApiRouter | None = None


@dataclass
class _Call:
    call_id: str
    name: str = ""
    arguments: str = ""
    item: dict[str, Any] | None = None  # the function_call item, for the caller's tools
    index: int = -1  # its output index


@dataclass
class _Turn:
    text: str = ""
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None
    message: dict[str, Any] | None = None  # its message item, once it has text


class Events:
    """Makes the events of one response; ``numbered`` gives each its ``sequence_number`` as it is sent (events held
    back and dropped, a turn an output guardrail refused, leave no gap)."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": None, **fields}

    def numbered(self, event: dict[str, Any]) -> dict[str, Any]:
        event["sequence_number"] = self._next
        self._next += 1
        return event


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        if choice.get("type") == "function" and choice.get("name"):
            return {"type": "function", "function": {"name": choice["name"]}}
        return choice.get("mode", "auto") if choice.get("type") == "allowed_tools" else "auto"
    return choice


def _response_format(request: CreateResponseRequest) -> dict[str, Any] | None:
    form = request.text.format if request.text is not None else None
    if form is None or form.type == "text":
        return None
    if form.type == "json_object":
        return {"type": "json_object"}
    schema = {"name": form.name or "response", "schema": form.schema_ or {}, "strict": form.strict}
    return {"type": "json_schema", "json_schema": schema}


class ResponseRun:
    """Runs one response. ``response`` is updated as it goes; ``messages`` ends as the whole chat transcript."""

    def __init__(
        self,
        request: CreateResponseRequest,
        response: ResponseObject,
        messages: list[dict[str, Any]],
        engines: Engines,
        toolset: ToolSet,
        *,
        approvals: list[tuple[dict[str, Any], bool]] = (),
        max_infer_iters: int,
    ) -> None:
        self.request = request
        self.response = response
        self.messages = messages
        self.engines = engines
        self.owner = current_owner()  # the caller, whose response this is (with auth on)
        self.tools = Tools(engines.tool_runtime, engines.vector_io)
        self.toolset = toolset
        self.approvals = list(approvals)
        self.max_infer_iters = request.max_infer_iters or max_infer_iters
        self.include = set(request.include or ())
        self.output: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        self.tool_calls_made = 0
        self.event = Events()

    # -- the response object ----------------------------------------------------------------------------------------

    def snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        data = self.response.model_dump(mode="json", exclude_none=False)
        data.update(status=status, output=list(self.output), **extra)
        if status != "in_progress":
            data["usage"] = {
                **self.usage,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        return data

    def _finish(self, status: str, **extra: Any) -> ResponseObject:
        self.response = ResponseObject.model_validate(self.snapshot(status, **extra))
        return self.response

    # -- the run ----------------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every event of the response, ``response.created`` first and ``.completed``/``.incomplete``/``.failed``
        last; a provider's error mid-run fails the response instead of breaking the stream."""
        number = self.event.numbered
        yield number(self.event("response.created", response=self.snapshot("in_progress")))
        yield number(self.event("response.in_progress", response=self.snapshot("in_progress")))
        try:
            async for event in self._steps():
                yield number(event)
        except StackError as exc:
            # OpenAI's codes: the SDK takes no others; our error type stays readable in the message
            code = "rate_limit_exceeded" if exc.status_code == 429 else "server_error"
            error = {"code": code, "message": f"{exc.error_type}: {exc.message}"}
            failed = self._finish("failed", error=error).model_dump(mode="json")
            yield number(self.event("response.failed", response=failed))
            return
        status, reason = self._outcome
        details = {"incomplete_details": {"reason": reason}} if status == "incomplete" else {}
        final = self._finish(status, **details).model_dump(mode="json")
        yield number(self.event(f"response.{status}", response=final))

    async def _steps(self) -> AsyncIterator[dict[str, Any]]:
        self._outcome = ("completed", None)
        for listing in self.toolset.listings:
            async for event in self._listing(listing):
                yield event
        if await self._refused_input():
            async for event in self._refusal(self._refusal_text):
                yield event
            return
        for approval, approved in self.approvals:
            async for event in self._approved_call(approval, approved):
                yield event
        guarded = bool(self._shields())
        for _ in range(self.max_infer_iters):
            turn = _Turn()
            held: list[dict[str, Any]] = []  # with guardrails, an answer is sent once the output shields pass it
            async for event in self._model_turn(turn):
                if guarded:
                    held.append(event)
                else:
                    yield event
            if not turn.calls and await self._refused_output(turn.text):
                self._retract(turn)
                async for event in self._refusal(self._refusal_text):
                    yield event
                return
            for event in held:
                yield event
            if not turn.calls:
                if turn.finish_reason == "length":
                    self._outcome = ("incomplete", "max_output_tokens")
                return
            waiting_for_caller = False
            for call in turn.calls.values():
                if call.name in self.toolset.functions:
                    waiting_for_caller = True
                    continue
                async for event in self._served_call(call):
                    yield event
            if waiting_for_caller or self._awaiting_approval or self._outcome[0] != "completed":
                return
        self._outcome = ("incomplete", "max_infer_iters")

    _awaiting_approval = False

    # -- model turns ------------------------------------------------------------------------------------------------

    def _chat_request(self) -> ChatCompletionRequest:
        request = self.request
        body: dict[str, Any] = {
            "model": request.model,
            "messages": self.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.toolset.chat_tools:
            body["tools"] = self.toolset.chat_tools
            if request.tool_choice is not None:
                body["tool_choice"] = _tool_choice(request.tool_choice)
            if request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
        for name in ("temperature", "top_p"):
            if getattr(request, name) is not None:
                body[name] = getattr(request, name)
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens
        response_format = _response_format(request)
        if response_format is not None:
            body["response_format"] = response_format
        return ChatCompletionRequest.model_validate(body)

    async def _model_turn(self, turn: _Turn) -> AsyncIterator[dict[str, Any]]:
        """One streamed chat completion: its text as a message item, calls of the caller's functions as
        function_call items (arguments streamed), calls of served tools collected for after the turn."""
        stream = await self.engines.inference.call("openai_chat_completion", self._chat_request())
        message: dict[str, Any] | None = None
        message_index = -1
        try:
            async for raw in stream:
                chunk = as_model(raw, ChatCompletionChunk)
                if chunk.usage is not None:
                    self.usage["input_tokens"] += chunk.usage.prompt_tokens
                    self.usage["output_tokens"] += chunk.usage.completion_tokens
                    self.usage["total_tokens"] += chunk.usage.total_tokens
                for choice in chunk.choices[:1]:
                    if choice.finish_reason:
                        turn.finish_reason = choice.finish_reason
                    delta = choice.delta
                    if delta.content:
                        if message is None:
                            message, message_index = self._start_message()
                            turn.message = message
                            yield self.event("response.output_item.added", output_index=message_index, item=message)
                            yield self.event(
                                "response.content_part.added",
                                item_id=message["id"],
                                output_index=message_index,
                                content_index=0,
                                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                            )
                        turn.text += delta.content
                        yield self.event(
                            "response.output_text.delta",
                            item_id=message["id"],
                            output_index=message_index,
                            content_index=0,
                            delta=delta.content,
                            logprobs=[],
                        )
                    for fragment in delta.tool_calls or ():
                        async for event in self._call_fragment(turn, fragment):
                            yield event
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
        if message is not None:
            complete = turn.finish_reason != "length"
            async for event in self._end_message(message, message_index, turn.text, complete):
                yield event
        for call in turn.calls.values():
            if call.item is not None:
                call.item["status"] = "completed"
                call.item["arguments"] = call.arguments
                yield self.event(
                    "response.function_call_arguments.done",
                    item_id=call.item["id"],
                    output_index=call.index,
                    arguments=call.arguments,
                )
                yield self.event("response.output_item.done", output_index=call.index, item=dict(call.item))
        assistant: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if turn.calls:
            assistant["tool_calls"] = [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in turn.calls.values()
            ]
        self.messages.append(assistant)

    def _start_message(self) -> tuple[dict[str, Any], int]:
        item = {"type": "message", "id": new_id("msg"), "status": "in_progress", "role": "assistant", "content": []}
        self.output.append(item)
        return item, len(self.output) - 1

    async def _end_message(
        self, message: dict[str, Any], index: int, text: str, complete: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        annotations = self._citations(text)
        part = {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}
        for annotation in annotations:
            yield self.event(
                "response.output_text.annotation.added",
                item_id=message["id"],
                output_index=index,
                content_index=0,
                annotation_index=annotations.index(annotation),
                annotation=annotation,
            )
        yield self.event(
            "response.output_text.done",
            item_id=message["id"],
            output_index=index,
            content_index=0,
            text=text,
            logprobs=[],
        )
        yield self.event(
            "response.content_part.done", item_id=message["id"], output_index=index, content_index=0, part=part
        )
        message.update(status="completed" if complete else "incomplete", content=[part])
        yield self.event("response.output_item.done", output_index=index, item=dict(message))

    def _citations(self, text: str) -> list[dict[str, Any]]:
        """``file_citation`` annotations for the ``[n]`` markers that name a file_search result."""
        annotations = []
        for match in _CITATION.finditer(text):
            number = int(match.group(1))
            if 1 <= number <= len(self.sources):
                source = self.sources[number - 1]
                annotations.append({"type": "file_citation", "index": match.start(), **source})
        return annotations

    async def _call_fragment(self, turn: _Turn, fragment: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        index = fragment.get("index", len(turn.calls))
        call = turn.calls.get(index)
        function = fragment.get("function") or {}
        if call is None:
            call = turn.calls[index] = _Call(call_id=fragment.get("id") or new_id("call"))
        if function.get("name"):
            call.name += function["name"]
        if call.item is None and call.name in self.toolset.functions:
            call.item = {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": call.call_id,
                "name": call.name,
                "arguments": "",
                "status": "in_progress",
            }
            self.output.append(call.item)
            call.index = len(self.output) - 1
            yield self.event("response.output_item.added", output_index=call.index, item=dict(call.item))
            if call.arguments:
                yield self._arguments_delta(call, call.arguments)
        arguments = function.get("arguments")
        if arguments:
            call.arguments += arguments
            if call.item is not None:
                yield self._arguments_delta(call, arguments)

    def _arguments_delta(self, call: _Call, delta: str) -> dict[str, Any]:
        assert call.item is not None
        return self.event(
            "response.function_call_arguments.delta", item_id=call.item["id"], output_index=call.index, delta=delta
        )

    # -- served tools -----------------------------------------------------------------------------------------------

    async def _listing(self, listing: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        self.output.append(listing)
        index = len(self.output) - 1
        yield self.event("response.output_item.added", output_index=index, item={**listing, "tools": []})
        yield self.event("response.mcp_list_tools.in_progress", item_id=listing["id"], output_index=index)
        yield self.event("response.mcp_list_tools.completed", item_id=listing["id"], output_index=index)
        yield self.event("response.output_item.done", output_index=index, item=listing)

    async def _served_call(self, call: _Call) -> AsyncIterator[dict[str, Any]]:
        served = self.toolset.served.get(call.name)
        if served is None:
            self._tool_answer(call.call_id, f"error: there is no tool named '{call.name}'")
            return
        if self.request.max_tool_calls is not None and self.tool_calls_made >= self.request.max_tool_calls:
            self._outcome = ("incomplete", "max_tool_calls")
            self._tool_answer(call.call_id, "error: not run, the response's max_tool_calls is reached")
            return
        if served.kind == "mcp" and needs_approval(served.spec, served.name):  # type: ignore[arg-type]
            request = {
                "type": "mcp_approval_request",
                "id": new_id("mcpr"),
                "name": served.name,
                "arguments": call.arguments,
                "server_label": served.spec.server_label,  # type: ignore[union-attr]
            }
            self.output.append(request)
            index = len(self.output) - 1
            yield self.event("response.output_item.added", output_index=index, item=request)
            yield self.event("response.output_item.done", output_index=index, item=request)
            self._withdraw(call.call_id)  # the next response makes the call, approved or not
            self._awaiting_approval = True
            return
        self.tool_calls_made += 1
        async for event in self._run_served(served, call.call_id, call.arguments):
            yield event

    async def _run_served(self, served: Any, call_id: str, arguments: str) -> AsyncIterator[dict[str, Any]]:
        kind = served.kind
        pending = pending_item(served, arguments)
        prefix, item_id = pending["type"], pending["id"]
        self.output.append(pending)
        index = len(self.output) - 1
        yield self.event("response.output_item.added", output_index=index, item=dict(pending))
        yield self.event(f"response.{prefix}.in_progress", item_id=item_id, output_index=index)
        if kind == "mcp":
            where = {"item_id": item_id, "output_index": index}
            yield self.event("response.mcp_call_arguments.delta", delta=arguments, **where)
            yield self.event("response.mcp_call_arguments.done", arguments=arguments, **where)
        else:
            yield self.event(f"response.{prefix}.searching", item_id=item_id, output_index=index)
        with child_span("responses.tool", **{"tool.kind": kind, "tool.name": served.name}) as span:
            outcome: ToolOutcome = await self.tools.run(served, arguments, self.include, self.sources)
            if outcome.failed:
                span.fail(RuntimeError(outcome.text))
        item = {**outcome.item, "id": item_id}
        self.output[index] = item
        ending = "failed" if outcome.failed and kind == "mcp" else "completed"
        yield self.event(f"response.{prefix}.{ending}", item_id=item_id, output_index=index)
        yield self.event("response.output_item.done", output_index=index, item=item)
        self._tool_answer(call_id, outcome.text)

    async def _approved_call(self, request: dict[str, Any], approved: bool) -> AsyncIterator[dict[str, Any]]:
        """An ``mcp_approval_request`` of the previous response, answered in this one's input."""
        call_id = new_id("call")
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": request["name"], "arguments": request["arguments"]},
        }
        self.messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        served = self.toolset.served.get(request["name"])
        if not approved or served is None:
            self._tool_answer(
                call_id, "error: the user did not approve this call" if not approved else "error: no such tool"
            )
            return
        self.tool_calls_made += 1
        async for event in self._run_served(served, call_id, request["arguments"]):
            yield event

    def _retract(self, turn: _Turn) -> None:
        """Take a refused answer out of the output and the transcript (its events were held back, never sent)."""
        if turn.message is not None:
            self.output.remove(turn.message)
        if self.messages and self.messages[-1]["role"] == "assistant":
            self.messages.pop()

    def _withdraw(self, call_id: str) -> None:
        """Take a call that waits for approval out of the transcript's last assistant message."""
        assistant = next(m for m in reversed(self.messages) if m["role"] == "assistant")
        assistant["tool_calls"] = [c for c in assistant.get("tool_calls") or () if c["id"] != call_id]
        if not assistant["tool_calls"]:
            del assistant["tool_calls"]
            if assistant.get("content") is None:
                self.messages.remove(assistant)

    def _tool_answer(self, call_id: str, text: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})

    # -- guardrails -------------------------------------------------------------------------------------------------

    _refusal_text = ""

    def _shields(self) -> list[str]:
        shields = []
        for guardrail in self.request.guardrails or ():
            # upstream's spec form is {"type": "<shield id>"}; {"id": ...} is taken too
            name = guardrail if isinstance(guardrail, str) else guardrail.get("type") or guardrail.get("id")
            shields.append(str(name or ""))
        return [s for s in shields if s]

    async def _violation(self, messages: list[dict[str, Any]]) -> str | None:
        safety = self.engines.safety
        for shield in self._shields():
            if safety is None:
                raise NotConfiguredError("guardrails need the safety API, which this stack does not serve")
            request = RunShieldRequest.model_validate({"shield_id": shield, "messages": messages})
            answer = await safety.call_as("run_shield", request, RunShieldResponse)
            if answer.violation is not None and answer.violation.violation_level == "error":
                return answer.violation.user_message or f"refused by the {shield} shield"
        return None

    async def _refused_input(self) -> bool:
        last_user = [m for m in self.messages if m["role"] == "user"][-1:]
        if not self._shields() or not last_user:
            return False
        self._refusal_text = await self._violation(last_user) or ""
        return bool(self._refusal_text)

    async def _refused_output(self, text: str) -> bool:
        if not self._shields() or not text:
            return False
        self._refusal_text = await self._violation([{"role": "assistant", "content": text}]) or ""
        return bool(self._refusal_text)

    async def _refusal(self, text: str) -> AsyncIterator[dict[str, Any]]:
        item = {
            "type": "message",
            "id": new_id("msg"),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": text}],
        }
        self.output.append(item)
        index = len(self.output) - 1
        yield self.event("response.output_item.added", output_index=index, item={**item, "content": []})
        yield self.event("response.refusal.done", item_id=item["id"], output_index=index, content_index=0, refusal=text)
        yield self.event("response.output_item.done", output_index=index, item=item)
        self.messages.append({"role": "assistant", "content": text})
