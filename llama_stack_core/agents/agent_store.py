"""Stored agents, sessions and turns of the older Agents API, in a key-value store. Keys sort in creation order
(``<kind>:<parent>:<created ns>:<id>``), so a listing is one prefix scan; ``@<id>`` keys find a record's key."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..apis.agents import Agent, AgentToolGroup, Session, ToolConfig, Turn
from ..apis.common import StackToolCall
from ..errors import NotFoundError
from ..owners import Action, Owner, authorize, authorize_create, current_owner, guarded, readable
from ..storage import KVStore

_AGENT, _SESSION, _TURN, _PLACE = "agent:", "session:", "turn:", "@"
_OWNER = "owner:agent:"  # owner:agent:<id> -> the agent's owner (with server.auth on)


class SessionRecord(BaseModel):
    agent_id: str
    session: Session
    #: who opened it (with server.auth on)
    owner: Owner | None = None


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


def _agent_not_found(agent_id: str) -> NotFoundError:
    return NotFoundError(f"agent '{agent_id}' not found", param="agent_id")


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
        """Store a new agent; with auth on the caller becomes its owner."""
        authorize_create("agent", "")
        owner = current_owner()
        if owner is not None:
            await self._kv.set(_OWNER + agent.agent_id, owner.model_dump_json())
        await self._put(_AGENT, "", agent.agent_id, agent.model_dump_json())

    async def _agent_owner(self, agent_id: str) -> Owner | None:
        raw = await self._kv.get(_OWNER + agent_id)
        return Owner.model_validate_json(raw) if raw is not None else None

    async def agent(self, agent_id: str, action: Action = Action.read) -> Agent:
        """The agent, if the caller may ``action`` it (else 404, or 403 for a write to one they may read)."""
        raw = await self._get(_AGENT, agent_id)
        if raw is None:
            raise _agent_not_found(agent_id)
        if guarded():
            owner = await self._agent_owner(agent_id)
            authorize(action, "agent", agent_id, owner, lambda: _agent_not_found(agent_id))
        return Agent.model_validate_json(raw)

    async def agents(self) -> list[Agent]:
        """The agents the caller may read, oldest first."""
        agents = [Agent.model_validate_json(raw) for _, raw in await self._kv.items(_AGENT)]
        if not guarded():
            return agents
        owners = {key[len(_OWNER) :]: Owner.model_validate_json(raw) for key, raw in await self._kv.items(_OWNER)}
        return readable(agents, "agent", lambda a: (a.agent_id, owners.get(a.agent_id)))

    async def delete_agent(self, agent_id: str) -> None:
        """Delete an agent with its sessions and turns (the caller may delete it)."""
        await self.agent(agent_id, Action.delete)
        for _, raw in await self._kv.items(f"{_SESSION}{agent_id}:"):
            await self._drop_session(SessionRecord.model_validate_json(raw).session.session_id)
        await self._drop(_AGENT, agent_id)
        await self._kv.delete(_OWNER + agent_id)

    # -- sessions ---------------------------------------------------------------------------------------------------

    async def save_session(self, record: SessionRecord) -> None:
        """Store a session; a new one gets the caller as its owner (with auth on)."""
        if record.owner is None and guarded():
            record = record.model_copy(update={"owner": current_owner()})
        await self._put(_SESSION, f"{record.agent_id}:", record.session.session_id, record.model_dump_json())

    async def session(self, agent_id: str, session_id: str, action: Action = Action.read) -> SessionRecord:
        """The session, if the caller may ``action`` it (a turn is an update of its session)."""
        raw = await self._get(_SESSION, session_id)
        record = SessionRecord.model_validate_json(raw) if raw is not None else None

        def not_found() -> NotFoundError:
            return NotFoundError(f"session '{session_id}' of agent '{agent_id}' not found", param="session_id")

        if record is None or record.agent_id != agent_id:
            raise not_found()
        authorize(action, "session", session_id, record.owner, not_found)
        return record

    async def session_records(self, agent_id: str) -> list[SessionRecord]:
        """The agent's sessions the caller may read, oldest first."""
        records = [SessionRecord.model_validate_json(raw) for _, raw in await self._kv.items(f"{_SESSION}{agent_id}:")]
        return readable(records, "session", lambda r: (r.session.session_id, r.owner))

    async def delete_session(self, agent_id: str, session_id: str) -> None:
        """Delete a session and its turns (the caller may delete it)."""
        await self.session(agent_id, session_id, Action.delete)
        await self._drop_session(session_id)

    async def _drop_session(self, session_id: str) -> None:
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
