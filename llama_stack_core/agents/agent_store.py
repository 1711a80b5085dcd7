"""Stored agents, sessions and turns of the older Agents API, in a key-value store. Keys sort in creation order
(``<kind>:<parent>:<created ns>:<id>``), so a listing is one prefix scan; ``@<id>`` keys find a record's key."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..apis.agents import Agent, AgentToolGroup, Session, ToolConfig, Turn
from ..apis.common import StackToolCall
from ..errors import NotFoundError
from ..storage import KVStore

_AGENT, _SESSION, _TURN, _PLACE = "agent:", "session:", "turn:", "@"


class SessionRecord(BaseModel):
    agent_id: str
    session: Session


class TurnRecord(BaseModel):
    """A turn with the chat messages it added (the next turns' history) and the client calls it waits for."""

    agent_id: str
    turn: Turn
    status: Literal["complete", "awaiting_input"] = "complete"
    messages: list[dict[str, Any]] = Field(default_factory=list)
    pending: list[StackToolCall] = Field(default_factory=list)
    #: the tool groups and tool config the turn runs with (the agent's and the turn's), for its resumption
    groups: list[AgentToolGroup] = Field(default_factory=list)
    tool_config: ToolConfig | None = None


def _stamp() -> str:
    return f"{time.time_ns():020d}"


class AgentStore:
    def __init__(self, kv: KVStore) -> None:
        self._kv = kv

    async def _put(self, kind: str, parent: str, record_id: str, value: str) -> None:
        place = f"{_PLACE}{kind}{record_id}"
        key = await self._kv.get(place) or f"{kind}{parent}{_stamp()}:{record_id}"
        await self._kv.set_many([(key, value), (place, key)])

    async def _get(self, kind: str, record_id: str) -> str | None:
        key = await self._kv.get(f"{_PLACE}{kind}{record_id}")
        return await self._kv.get(key) if key is not None else None

    async def _drop(self, kind: str, record_id: str) -> None:
        place = f"{_PLACE}{kind}{record_id}"
        key = await self._kv.get(place)
        if key is not None:
            await self._kv.delete(key)
        await self._kv.delete(place)

    # -- agents ----------------------------------------------------------------------------------------------------

    async def save_agent(self, agent: Agent) -> None:
        await self._put(_AGENT, "", agent.agent_id, agent.model_dump_json())

    async def agent(self, agent_id: str) -> Agent:
        raw = await self._get(_AGENT, agent_id)
        if raw is None:
            raise NotFoundError(f"agent '{agent_id}' not found", param="agent_id")
        return Agent.model_validate_json(raw)

    async def agents(self) -> list[Agent]:
        return [Agent.model_validate_json(raw) for _, raw in await self._kv.items(_AGENT)]

    async def delete_agent(self, agent_id: str) -> None:
        for record in await self.session_records(agent_id):
            await self.delete_session(record.session.session_id)
        await self._drop(_AGENT, agent_id)

    # -- sessions ---------------------------------------------------------------------------------------------------

    async def save_session(self, record: SessionRecord) -> None:
        await self._put(_SESSION, f"{record.agent_id}:", record.session.session_id, record.model_dump_json())

    async def session(self, agent_id: str, session_id: str) -> SessionRecord:
        raw = await self._get(_SESSION, session_id)
        record = SessionRecord.model_validate_json(raw) if raw is not None else None
        if record is None or record.agent_id != agent_id:
            raise NotFoundError(f"session '{session_id}' of agent '{agent_id}' not found", param="session_id")
        return record

    async def session_records(self, agent_id: str) -> list[SessionRecord]:
        return [SessionRecord.model_validate_json(raw) for _, raw in await self._kv.items(f"{_SESSION}{agent_id}:")]

    async def delete_session(self, session_id: str) -> None:
        for _, raw in await self._kv.items(f"{_TURN}{session_id}:"):
            await self._drop(_TURN, TurnRecord.model_validate_json(raw).turn.turn_id)
        await self._drop(_SESSION, session_id)

    # -- turns -----------------------------------------------------------------------------------------------------

    async def save_turn(self, record: TurnRecord) -> None:
        await self._put(_TURN, f"{record.turn.session_id}:", record.turn.turn_id, record.model_dump_json())

    async def turn(self, session_id: str, turn_id: str) -> TurnRecord:
        raw = await self._get(_TURN, turn_id)
        record = TurnRecord.model_validate_json(raw) if raw is not None else None
        if record is None or record.turn.session_id != session_id:
            raise NotFoundError(f"turn '{turn_id}' of session '{session_id}' not found", param="turn_id")
        return record

    async def turns(self, session_id: str) -> list[TurnRecord]:
        """A session's turns, oldest first."""
        return [TurnRecord.model_validate_json(raw) for _, raw in await self._kv.items(f"{_TURN}{session_id}:")]
