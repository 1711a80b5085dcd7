"""The ``inline::builtin`` Agents provider (the older agents/sessions/turns API of the 0.2 SDK): agents, sessions and
turns in ``config.persistence``; each turn runs on the core's Responses engine (``llama_stack_core.agents.turns``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llama_stack_core.agents.agent_store import AgentStore, SessionRecord, TurnRecord
from llama_stack_core.agents.run import Engines
from llama_stack_core.agents.turns import TurnRunner, TurnState, new_uuid, now
from llama_stack_core.apis.agents import (
    Agent,
    AgentConfig,
    AgentCreateResponse,
    AgentIdRequest,
    AgentSessionCreateResponse,
    AgentStepResponse,
    CreateAgentRequest,
    CreateSessionRequest,
    CreateTurnRequest,
    Document,
    GetSessionRequest,
    ListAgentsRequest,
    ListSessionsRequest,
    ResumeTurnRequest,
    Session,
    SessionIdRequest,
    StepIdRequest,
    Turn,
    TurnIdRequest,
)
from llama_stack_core.apis.common import PaginatedResponse, StackUserMessage
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError, NotFoundError
from llama_stack_core.owners import Action
from llama_stack_core.storage import KVStore

from .config import AgentsConfig


def _page(items: list[Any], start_index: int | None, limit: int | None) -> tuple[list[Any], bool]:
    start = start_index or 0
    end = len(items) if limit is None else start + limit
    return items[start:end], end < len(items)


def _with_documents(messages: list[Any], documents: list[Document] | None) -> list[Any]:
    """Documents attached to a turn, as context of its last user message (text inline, a URL named)."""
    if not documents:
        return messages
    texts = []
    for document in documents:
        content = document.content
        data = content.model_dump(mode="json") if hasattr(content, "model_dump") else content
        if isinstance(data, dict) and "uri" in data:
            texts.append(f"[document at {data['uri']}]")
        elif isinstance(data, str):
            texts.append(data)
        else:
            parts = data if isinstance(data, list) else [data]
            texts.append("".join(p.get("text", "") for p in parts if isinstance(p, dict)))
    messages = list(messages)
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], StackUserMessage):
            user = messages[i]
            text = user.content if isinstance(user.content, str) else ""
            messages[i] = user.model_copy(update={"content": text + "\n\nDocuments:\n" + "\n\n".join(texts)})
            break
    return messages


class BuiltinAgents:
    def __init__(self, kv: KVStore, store: AgentStore, engines: Engines) -> None:
        self.kv = kv
        self.store = store
        self.engines = engines

    # -- agents ----------------------------------------------------------------------------------------------------

    async def create_agent(self, request: CreateAgentRequest) -> AgentCreateResponse:
        config = request.agent_config
        await self._check(config)
        agent = Agent(agent_id=new_uuid(), agent_config=config, created_at=now())
        await self.store.save_agent(agent)
        return AgentCreateResponse(agent_id=agent.agent_id)

    async def _check(self, config: AgentConfig) -> None:
        """What the config names exists (404s now, not at the first turn)."""
        await self.engines.inference.resolve("model", config.model)
        if config.response_format is not None and config.response_format.type != "json_schema":
            raise BadRequestError("response_format: only json_schema is served", param="agent_config.response_format")
        if (config.input_shields or config.output_shields) and self.engines.safety is not None:
            for shield in [*(config.input_shields or ()), *(config.output_shields or ())]:
                await self.engines.safety.resolve("shield", shield)

    async def list_agents(self, request: ListAgentsRequest) -> PaginatedResponse[Agent]:
        data, more = _page(await self.store.agents(), request.start_index, request.limit)
        return PaginatedResponse[Agent](data=data, has_more=more)

    async def get_agent(self, request: AgentIdRequest) -> Agent:
        return await self.store.agent(request.agent_id)

    async def delete_agent(self, request: AgentIdRequest) -> None:
        await self.store.delete_agent(request.agent_id)

    # -- sessions --------------------------------------------------------------------------------------------------

    async def create_agent_session(self, request: CreateSessionRequest) -> AgentSessionCreateResponse:
        await self.store.agent(request.agent_id)
        session = Session(session_id=new_uuid(), session_name=request.session_name, started_at=now())
        await self.store.save_session(SessionRecord(agent_id=request.agent_id, session=session))
        return AgentSessionCreateResponse(session_id=session.session_id)

    async def _session(self, agent_id: str, session_id: str) -> SessionRecord:
        await self.store.agent(agent_id)
        return await self.store.session(agent_id, session_id)

    async def _with_turns(self, record: SessionRecord, turn_ids: list[str] | None = None) -> Session:
        turns = [t.turn for t in await self.store.turns(record.session.session_id)]
        if turn_ids is not None:
            wanted = {i for raw in turn_ids for i in raw.split(",") if i}
            turns = [t for t in turns if t.turn_id in wanted]
        return record.session.model_copy(update={"turns": turns})

    async def list_agent_sessions(self, request: ListSessionsRequest) -> PaginatedResponse[Session]:
        await self.store.agent(request.agent_id)
        records, more = _page(await self.store.session_records(request.agent_id), request.start_index, request.limit)
        return PaginatedResponse[Session](data=[await self._with_turns(r) for r in records], has_more=more)

    async def get_agents_session(self, request: GetSessionRequest) -> Session:
        record = await self._session(request.agent_id, request.session_id)
        return await self._with_turns(record, request.turn_ids)

    async def delete_agents_session(self, request: SessionIdRequest) -> None:
        await self.store.agent(request.agent_id)
        await self.store.delete_session(request.agent_id, request.session_id)

    # -- turns -----------------------------------------------------------------------------------------------------

    async def create_agent_turn(self, request: CreateTurnRequest) -> Turn | AsyncIterator[dict[str, Any]]:
        agent = await self.store.agent(request.agent_id)
        await self.store.session(request.agent_id, request.session_id, Action.update)
        history: list[dict[str, Any]] = []
        for previous in await self.store.turns(request.session_id):
            if previous.status == "complete":
                history.extend(previous.messages)
        groups = [*(agent.agent_config.toolgroups or ()), *(request.toolgroups or ())]
        state = TurnState(
            turn_id=new_uuid(),
            session_id=request.session_id,
            input_messages=_with_documents(list(request.messages), request.documents),
        )
        runner = TurnRunner(
            self.engines, agent.agent_config, state, history, groups=groups, tool_config=request.tool_config
        )
        record = TurnRecord(
            agent_id=agent.agent_id, turn=state.turn(complete=False), groups=groups, tool_config=request.tool_config
        )
        return await self._answer(runner.start(), runner, record, bool(request.stream))

    async def resume_agent_turn(self, request: ResumeTurnRequest) -> Turn | AsyncIterator[dict[str, Any]]:
        agent = await self.store.agent(request.agent_id)
        await self.store.session(request.agent_id, request.session_id, Action.update)
        record = await self.store.turn(request.session_id, request.turn_id)
        if record.status != "awaiting_input":
            raise BadRequestError(f"turn '{request.turn_id}' is not awaiting tool responses", param="turn_id")
        history: list[dict[str, Any]] = []
        for previous in await self.store.turns(request.session_id):
            if previous.status == "complete" and previous.turn.started_at < record.turn.started_at:
                history.extend(previous.messages)
        turn = record.turn
        state = TurnState(
            turn_id=turn.turn_id,
            session_id=turn.session_id,
            input_messages=list(turn.input_messages),
            started_at=turn.started_at,
            steps=[s.model_dump(mode="json") for s in turn.steps],
            messages=list(record.messages),
            pending=list(record.pending),
            output=turn.output_message,
        )
        runner = TurnRunner(
            self.engines, agent.agent_config, state, history, groups=record.groups, tool_config=record.tool_config
        )
        return await self._answer(runner.resume(request.tool_responses), runner, record, bool(request.stream))

    async def _answer(
        self, events: AsyncIterator[dict[str, Any]], runner: TurnRunner, record: TurnRecord, stream: bool
    ) -> Turn | AsyncIterator[dict[str, Any]]:
        if stream:
            return self._streamed(events, runner, record)
        last: dict[str, Any] | None = None
        async for event in events:
            last = event
        await self._save(runner, record)
        assert last is not None
        return Turn.model_validate(last["event"]["payload"]["turn"])

    async def _streamed(
        self, events: AsyncIterator[dict[str, Any]], runner: TurnRunner, record: TurnRecord
    ) -> AsyncIterator[dict[str, Any]]:
        async for event in events:
            if event["event"]["payload"]["event_type"] in ("turn_complete", "turn_awaiting_input"):
                await self._save(runner, record)
            yield event

    async def _save(self, runner: TurnRunner, record: TurnRecord) -> None:
        state = runner.state
        awaiting = bool(state.pending)
        record.turn = state.turn(complete=not awaiting)
        record.status = "awaiting_input" if awaiting else "complete"
        record.messages = list(state.messages)
        record.pending = list(state.pending)
        await self.store.save_turn(record)

    async def get_agents_turn(self, request: TurnIdRequest) -> Turn:
        await self._session(request.agent_id, request.session_id)
        return (await self.store.turn(request.session_id, request.turn_id)).turn

    async def get_agents_step(self, request: StepIdRequest) -> AgentStepResponse:
        await self._session(request.agent_id, request.session_id)
        turn = (await self.store.turn(request.session_id, request.turn_id)).turn
        for step in turn.steps:
            if step.step_id == request.step_id:
                return AgentStepResponse(step=step)
        raise NotFoundError(f"step '{request.step_id}' of turn '{request.turn_id}' not found", param="step_id")

    async def shutdown(self) -> None:
        await self.kv.close()


async def create_provider(config: AgentsConfig, deps: dict[Api, Any]) -> BuiltinAgents:
    kv = await config.persistence.open()
    engines = Engines(
        inference=deps[Api.inference],
        tool_runtime=deps.get(Api.tool_runtime),
        vector_io=deps.get(Api.vector_io),
        safety=deps.get(Api.safety),
    )
    return BuiltinAgents(kv, AgentStore(kv), engines)
