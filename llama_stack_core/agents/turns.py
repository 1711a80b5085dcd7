"""A turn of the older Agents API, run on the Responses engine: the agent's config and the session's transcript become
one :class:`ResponseRun` (a subclass that runs registered tool groups and marks model turns and tool calls), and its
events become the 0.2 SDK's turn events and steps (shield_call, inference, tool_execution)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..apis.agents import (
    AgentConfig,
    AgentToolGroup,
    AgentToolGroupWithArgs,
    InferenceStep,
    ShieldCallStep,
    ToolConfig,
    ToolExecutionStep,
    ToolResponse,
    Turn,
    TurnInputMessage,
)
from ..apis.common import (
    DataList,
    SafetyViolation,
    StackCompletionMessage,
    StackToolCall,
    StackToolResponseMessage,
    ToolDef,
)
from ..apis.responses import CreateResponseRequest, ResponseObject
from ..apis.safety import RunShieldRequest, RunShieldResponse
from ..apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolInvocationResult
from ..errors import BadRequestError, NotConfiguredError, StackError
from ..tools.schema import schema_from_parameters
from ..tracing import child_span
from .items import new_id
from .run import Engines, ResponseRun, _Turn
from .tools import ToolSet, _function, content_text

_INFERENCE_START, _INFERENCE_DONE = "agent.inference.start", "agent.inference.done"
_TOOL_START, _TOOL_DONE = "agent.tool.start", "agent.tool.done"


def now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


# == tools ==========================================================================================================


@dataclass
class GroupTool:
    """A tool of a registered tool group, run through the tool runtime; ``args`` (the agent's) join each call."""

    name: str
    group: str
    args: dict[str, Any] = field(default_factory=dict)
    kind: str = "toolgroup"


def _group_ref(group: AgentToolGroup) -> tuple[str, str | None, dict[str, Any]]:
    """``(group id, one tool of it or None, args)`` of ``"group"``, ``"group/tool"`` or ``{name, args}``."""
    name, args = (group.name, group.args) if isinstance(group, AgentToolGroupWithArgs) else (group, {})
    group_id, _, tool = name.partition("/") if "::" in name.split("/")[0] else (name, "", "")
    return group_id, tool or None, dict(args)


async def agent_toolset(
    engines: Engines, groups: list[AgentToolGroup], client_tools: list[ToolDef]
) -> tuple[ToolSet, dict[str, GroupTool]]:
    """What the model is offered: the client's tools (answered by the caller) and the tool groups' tools (listed
    through the tool runtime; an unknown group is a 404 naming it)."""
    toolset = ToolSet()
    for tool in client_tools:
        schema = tool.input_schema or schema_from_parameters(tool.parameters)
        toolset._offer(_function(tool.name, tool.description, schema))
        toolset.functions.add(tool.name)
    served: dict[str, GroupTool] = {}
    for group in groups:
        group_id, only, args = _group_ref(group)
        if engines.tool_runtime is None:
            raise NotConfiguredError("tool groups need the tool_runtime API, which this stack does not serve")
        listed = await engines.tool_runtime.call_as(
            "list_runtime_tools", ListRuntimeToolsRequest(tool_group_id=group_id), DataList[ToolDef]
        )
        tools = [t for t in listed.data if only is None or t.name == only]
        if only is not None and not tools:
            raise BadRequestError(f"tool group '{group_id}' has no tool named '{only}'", param="toolgroups")
        for tool in tools:
            schema = dict(tool.input_schema or schema_from_parameters(tool.parameters))
            if args and isinstance(schema.get("properties"), dict):  # what the agent fixes, the model does not choose
                schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in args}
                schema["required"] = [r for r in schema.get("required") or () if r not in args]
            toolset._offer(_function(tool.name, tool.description, schema))
            served[tool.name] = GroupTool(tool.name, group_id, args)
    toolset.served.update(served)  # type: ignore[arg-type]
    return toolset, served


# == the run ========================================================================================================


class TurnRun(ResponseRun):
    """The Responses engine's run, marking each model turn and running tool-group tools (other served kinds as
    the engine does)."""

    async def _model_turn(self, turn: _Turn) -> AsyncIterator[dict[str, Any]]:
        yield {"type": _INFERENCE_START}
        async for event in super()._model_turn(turn):
            yield event
        yield {"type": _INFERENCE_DONE, "turn": turn}

    async def _run_served(self, served: Any, call_id: str, arguments: str) -> AsyncIterator[dict[str, Any]]:
        if not isinstance(served, GroupTool):
            async for event in super()._run_served(served, call_id, arguments):
                yield event
            return
        yield {"type": _TOOL_START}
        call = tool_call(call_id, served.name, arguments)
        with child_span("agents.tool_execution", tool_name=served.name, toolgroup_id=served.group):
            response, text = await self._invoke(served, call)
        yield {"type": _TOOL_DONE, "call": call, "response": response}
        self._tool_answer(call_id, text)

    async def _invoke(self, served: GroupTool, call: StackToolCall) -> tuple[ToolResponse, str]:
        """Run one call; what fails becomes an error the model reads as the tool's output."""
        if not isinstance(call.arguments, dict):
            error = "invalid arguments: not a JSON object"
        else:
            try:
                request = InvokeToolRequest(
                    tool_name=served.name, kwargs={**call.arguments, **served.args}, toolgroup_id=served.group
                )
                assert self.engines.tool_runtime is not None
                result = await self.engines.tool_runtime.call_as("invoke_tool", request, ToolInvocationResult)
            except StackError as exc:
                error = exc.message
            else:
                if not result.error_message:
                    content = result.content if result.content is not None else ""
                    response = ToolResponse(
                        call_id=call.call_id, tool_name=served.name, content=content, metadata=result.metadata
                    )
                    return response, content_text(result.content)
                error = result.error_message
        text = f"error: {error}"
        return ToolResponse(call_id=call.call_id, tool_name=served.name, content=text, metadata={"error": error}), text


def _failure(error: dict[str, Any]) -> StackError:
    """The engine's failed-response error as the error it was (its type names the class), to answer with its status."""
    kinds = [StackError]
    for kind in kinds:
        if kind.error_type == error.get("code"):
            return kind(error.get("message") or "the turn failed")
        kinds.extend(kind.__subclasses__())
    return StackError(error.get("message") or "the turn failed")


def tool_call(call_id: str, name: str, arguments: str) -> StackToolCall:
    """A model's call in the 0.2 shape: ``arguments`` parsed when they are a JSON object, else the raw text."""
    try:
        parsed = orjson.loads(arguments or "{}")
    except ValueError:
        parsed = None
    return StackToolCall(
        call_id=call_id,
        tool_name=name,
        arguments=parsed if isinstance(parsed, dict) else arguments,
        arguments_json=arguments or "{}",
    )


# == request mapping ================================================================================================


def _tool_choice(config: AgentConfig, override: ToolConfig | None) -> Any:
    tool_config = override or config.tool_config
    choice = tool_config.tool_choice if tool_config is not None else config.tool_choice
    if choice is None or choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "name": choice}


def response_request(config: AgentConfig, tool_config: ToolConfig | None) -> CreateResponseRequest:
    """The agent's model, sampling, tool choice and response format as a Responses request (input comes as chat)."""
    body: dict[str, Any] = {"model": config.model, "input": "", "max_infer_iters": config.max_infer_iters or 10}
    sampling = config.sampling_params
    if sampling is not None:
        body.update({k: v for k, v in sampling.openai_sampling().items() if k != "top_k"})  # Responses: no top_k
        if sampling.max_tokens:
            body["max_output_tokens"] = sampling.max_tokens
    choice = _tool_choice(config, tool_config)
    if choice is not None:
        body["tool_choice"] = choice
    form = config.response_format
    if form is not None:
        if form.type != "json_schema":
            raise BadRequestError("response_format: only json_schema is served", param="response_format")
        body["text"] = {"format": {"type": "json_schema", "name": "response", "schema": form.json_schema}}
    return CreateResponseRequest.model_validate(body)


def chat_message(message: TurnInputMessage | dict[str, Any]) -> dict[str, Any]:
    """A turn's input message as a chat message (text joined; images as image_url parts)."""
    data = message if isinstance(message, dict) else message.model_dump(mode="json", exclude_none=True)
    content = data.get("content")
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        if all(part.get("type") == "text" for part in content):
            content = "".join(part.get("text", "") for part in content)
        else:
            parts = []
            for part in content:
                if part.get("type") == "text":
                    parts.append({"type": "text", "text": part.get("text", "")})
                else:
                    image = part.get("image") or {}
                    url = (image.get("url") or {}).get("uri") or f"data:image/png;base64,{image.get('data', '')}"
                    parts.append({"type": "image_url", "image_url": {"url": url}})
            content = parts
    if data.get("role") == "tool":
        return {"role": "tool", "tool_call_id": data["call_id"], "content": content_text(data.get("content"))}
    return {"role": "user", "content": content}


# == turn events ====================================================================================================


def chunk(payload: dict[str, Any]) -> dict[str, Any]:
    """One streamed turn event, as the SDK parses it."""
    return {"event": {"payload": payload}}


@dataclass
class TurnState:
    """A turn as it runs: its steps, the chat messages it added, and the client calls it waits for."""

    turn_id: str
    session_id: str
    input_messages: list[TurnInputMessage]
    started_at: datetime = field(default_factory=now)
    steps: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: list[StackToolCall] = field(default_factory=list)
    output: StackCompletionMessage | None = None

    def turn(self, *, complete: bool) -> Turn:
        output = self.output or StackCompletionMessage(content="", stop_reason="end_of_turn")
        return Turn.model_validate(
            {
                "turn_id": self.turn_id,
                "session_id": self.session_id,
                "input_messages": [m.model_dump(mode="json") for m in self.input_messages],
                "steps": self.steps,
                "output_message": output.model_dump(mode="json"),
                "output_attachments": [],
                "started_at": self.started_at,
                "completed_at": now() if complete else None,
            }
        )


class TurnRunner:
    """Runs (or resumes) one turn and yields its events: ``turn_start``, the steps, then ``turn_complete`` or
    ``turn_awaiting_input``. ``state`` holds the turn when the events end."""

    def __init__(
        self,
        engines: Engines,
        config: AgentConfig,
        state: TurnState,
        history: list[dict[str, Any]],
        *,
        groups: list[AgentToolGroup],
        tool_config: ToolConfig | None,
    ) -> None:
        self.engines = engines
        self.config = config
        self.state = state
        self.history = history
        self.groups = groups
        self.tool_config = tool_config

    def _step(self, step: Any, kind: str) -> list[dict[str, Any]]:
        details = step.model_dump(mode="json")
        self.state.steps.append(details)
        return [
            chunk({"event_type": "step_start", "step_type": kind, "step_id": step.step_id, "metadata": {}}),
            chunk({"event_type": "step_complete", "step_type": kind, "step_id": step.step_id, "step_details": details}),
        ]

    async def start(self) -> AsyncIterator[dict[str, Any]]:
        """A new turn: input shields, then the model with its tools."""
        yield chunk({"event_type": "turn_start", "turn_id": self.state.turn_id})
        self.state.messages.extend(chat_message(m) for m in self.state.input_messages)
        user = [chat_message(m) for m in self.state.input_messages if m.role == "user"]
        if self.config.input_shields and user:
            step, violation = await self._shield_step(self.config.input_shields, user)
            for event in self._step(step, "shield_call"):
                yield event
            if violation is not None:
                async for event in self._refuse(violation):
                    yield event
                return
        async for event in self._run():
            yield event

    async def resume(self, responses: list[ToolResponse]) -> AsyncIterator[dict[str, Any]]:
        """A turn that waited for the client's tools: their results as a tool_execution step, then the model."""
        yield chunk({"event_type": "turn_start", "turn_id": self.state.turn_id})
        waited = {c.call_id: c for c in self.state.pending}
        unknown = [r.call_id for r in responses if r.call_id not in waited]
        if unknown:
            raise BadRequestError(
                f"tool_responses: turn '{self.state.turn_id}' waits for no call '{unknown[0]}'", param="tool_responses"
            )
        started = now()
        step = ToolExecutionStep(
            turn_id=self.state.turn_id,
            step_id=new_uuid(),
            started_at=started,
            completed_at=now(),
            tool_calls=[waited[r.call_id] for r in responses],
            tool_responses=responses,
        )
        for event in self._step(step, "tool_execution"):
            yield event
        for response in responses:
            message = StackToolResponseMessage(call_id=response.call_id, content=response.content)
            self.state.messages.append(chat_message(message))
        self.state.pending = []
        async for event in self._run():
            yield event

    # -- the model and its tools --------------------------------------------------------------------------------

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        request = response_request(self.config, self.tool_config)
        toolset, _ = await agent_toolset(self.engines, self.groups, list(self.config.client_tools or ()))
        prefix = [{"role": "system", "content": self.config.instructions}] if self.config.instructions else []
        prefix += self.history
        messages = prefix + self.state.messages
        used = sum(step["step_type"] == "inference" for step in self.state.steps)
        remaining = (request.max_infer_iters or 10) - used  # the turn's budget, across its resumptions
        if remaining <= 0:
            async for event in self._finish(None, toolset, out_of_iters=True):
                yield event
            return
        request = request.model_copy(update={"max_infer_iters": remaining})
        response = ResponseObject(id=new_id("resp"), created_at=int(time.time()), model=request.model, status="queued")
        run = TurnRun(request, response, messages, self.engines, toolset, max_infer_iters=remaining)
        last: _Turn | None = None
        step_id, started = "", now()
        tool_started = now()
        async for event in run.events():
            kind = event["type"]
            if kind == _INFERENCE_START:
                step_id, started = new_uuid(), now()
                yield chunk({"event_type": "step_start", "step_type": "inference", "step_id": step_id, "metadata": {}})
            elif kind == "response.output_text.delta":
                delta = {"type": "text", "text": event["delta"]}
                yield chunk(
                    {"event_type": "step_progress", "step_type": "inference", "step_id": step_id, "delta": delta}
                )
            elif kind == _INFERENCE_DONE:
                last = event["turn"]
                async for out in self._inference_done(last, step_id, started, toolset):
                    yield out
            elif kind == _TOOL_START:
                tool_started = now()
            elif kind == _TOOL_DONE:
                step = ToolExecutionStep(
                    turn_id=self.state.turn_id,
                    step_id=new_uuid(),
                    started_at=tool_started,
                    completed_at=now(),
                    tool_calls=[event["call"]],
                    tool_responses=[event["response"]],
                )
                for out in self._step(step, "tool_execution"):
                    yield out
            elif kind == "response.failed":
                raise _failure(event["response"].get("error") or {})
        self.state.messages = messages[len(prefix) :]
        reason = run._outcome[1]
        async for event in self._finish(last, toolset, out_of_iters=reason == "max_infer_iters"):
            yield event

    async def _inference_done(
        self, turn: _Turn, step_id: str, started: datetime, toolset: ToolSet
    ) -> AsyncIterator[dict[str, Any]]:
        calls = [tool_call(c.call_id, c.name, c.arguments) for c in turn.calls.values()]
        for call in calls:
            parsed = isinstance(call.arguments, dict)
            delta = {
                "type": "tool_call",
                "tool_call": call.model_dump(mode="json") if parsed else call.arguments_json,
                "parse_status": "succeeded" if parsed else "failed",
            }
            yield chunk({"event_type": "step_progress", "step_type": "inference", "step_id": step_id, "delta": delta})
        stop = "out_of_tokens" if turn.finish_reason == "length" else "end_of_message" if calls else "end_of_turn"
        message = StackCompletionMessage(content=turn.text, stop_reason=stop, tool_calls=calls)
        self.state.output = message
        step = InferenceStep(
            turn_id=self.state.turn_id, step_id=step_id, started_at=started, completed_at=now(), model_response=message
        )
        details = step.model_dump(mode="json")
        self.state.steps.append(details)
        yield chunk(
            {"event_type": "step_complete", "step_type": "inference", "step_id": step_id, "step_details": details}
        )

    async def _finish(
        self, last: _Turn | None, toolset: ToolSet, *, out_of_iters: bool
    ) -> AsyncIterator[dict[str, Any]]:
        client_calls = [
            tool_call(c.call_id, c.name, c.arguments)
            for c in (last.calls.values() if last else ())
            if c.name in toolset.functions
        ]
        if client_calls:
            self.state.pending = client_calls
            self.state.output = StackCompletionMessage(
                content=last.text if last else "", stop_reason="end_of_message", tool_calls=client_calls
            )
            yield chunk({"event_type": "turn_awaiting_input", "turn": self._dump(complete=False)})
            return
        previous = self.state.output
        text = last.text if last else str(previous.content) if previous is not None else ""
        stop = "out_of_tokens" if out_of_iters or (last and last.finish_reason == "length") else "end_of_turn"
        self.state.output = StackCompletionMessage(content=text, stop_reason=stop, tool_calls=[])
        if self.config.output_shields and text:
            step, violation = await self._shield_step(
                self.config.output_shields, [{"role": "assistant", "content": text}]
            )
            for event in self._step(step, "shield_call"):
                yield event
            if violation is not None:
                async for event in self._refuse(violation):
                    yield event
                return
        yield chunk({"event_type": "turn_complete", "turn": self._dump(complete=True)})

    def _dump(self, *, complete: bool) -> dict[str, Any]:
        return self.state.turn(complete=complete).model_dump(mode="json")

    # -- shields ---------------------------------------------------------------------------------------------------

    async def _shield_step(
        self, shields: list[str], messages: list[dict[str, Any]]
    ) -> tuple[ShieldCallStep, SafetyViolation | None]:
        """One shield_call step over the shields, in order; the first violation at level ``error`` stops it."""
        if self.engines.safety is None:
            raise NotConfiguredError("shields need the safety API, which this stack does not serve")
        started = now()
        with child_span("agents.shield_call", shields=",".join(shields)):
            found = await self._shields(shields, messages)
        step = ShieldCallStep(
            turn_id=self.state.turn_id, step_id=new_uuid(), started_at=started, completed_at=now(), violation=found
        )
        stops = found is not None and found.violation_level == "error"
        return step, found if stops else None

    async def _shields(self, shields: list[str], messages: list[dict[str, Any]]) -> SafetyViolation | None:
        assert self.engines.safety is not None
        found: SafetyViolation | None = None
        for shield in shields:
            request = RunShieldRequest.model_validate({"shield_id": shield, "messages": messages})
            answer = await self.engines.safety.call_as("run_shield", request, RunShieldResponse)
            if answer.violation is not None:
                found = SafetyViolation.model_validate(answer.violation.model_dump())
                if found.violation_level == "error":
                    break
        return found

    async def _refuse(self, violation: SafetyViolation) -> AsyncIterator[dict[str, Any]]:
        text = violation.user_message or "I can't answer that."
        self.state.output = StackCompletionMessage(content=text, stop_reason="end_of_turn", tool_calls=[])
        messages = self.state.messages
        if messages and messages[-1]["role"] == "assistant":  # an output shield's: the refusal replaces the answer
            messages[-1] = {"role": "assistant", "content": text}
        else:
            messages.append({"role": "assistant", "content": text})
        yield chunk({"event_type": "turn_complete", "turn": self._dump(complete=True)})
