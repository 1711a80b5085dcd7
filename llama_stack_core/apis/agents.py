"""Agents: the older Agents API (agents, sessions, turns, steps) that the llama-stack-client 0.2 SDK still calls.

Deprecated upstream in favour of the Responses API (``apis/responses.py``); served for the 0.2 SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import (
    InterleavedContent,
    PaginatedResponse,
    Request,
    SafetyViolation,
    StackCompletionMessage,
    StackSamplingParams,
    StackToolCall,
    StackToolResponseMessage,
    StackUserMessage,
    StrictRequest,
    ToolDef,
)
from .resources import URL
from .routes import Api, ApiSpec, Route

# == agent config ================================================================================================


class ToolConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    tool_choice: Literal["auto", "required", "none"] | str | None = "auto"
    tool_prompt_format: Literal["json", "function_tag", "python_list"] | None = None
    system_message_behavior: Literal["append", "replace"] | None = "append"


class AgentToolGroupWithArgs(BaseModel):
    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


AgentToolGroup = str | AgentToolGroupWithArgs


class JsonSchemaResponseFormat(BaseModel):
    type: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any]


class GrammarResponseFormat(BaseModel):
    type: Literal["grammar"] = "grammar"
    bnf: dict[str, Any]


AgentResponseFormat = Annotated[JsonSchemaResponseFormat | GrammarResponseFormat, Field(discriminator="type")]


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    instructions: str
    name: str | None = None
    enable_session_persistence: bool | None = False
    sampling_params: StackSamplingParams | None = None
    input_shields: list[str] | None = None
    output_shields: list[str] | None = None
    toolgroups: list[AgentToolGroup] | None = None
    client_tools: list[ToolDef] | None = None
    tool_choice: Literal["auto", "required", "none"] | None = Field(default=None, description="Use tool_config.")
    tool_prompt_format: Literal["json", "function_tag", "python_list"] | None = Field(
        default=None, description="Use tool_config."
    )
    tool_config: ToolConfig | None = None
    max_infer_iters: int | None = Field(default=10, ge=1)
    response_format: AgentResponseFormat | None = None


class Agent(BaseModel):
    agent_id: str
    agent_config: AgentConfig
    created_at: datetime


# == turns and steps =============================================================================================


class Document(BaseModel):
    """A document attached to a turn, or an attachment of its output."""

    model_config = ConfigDict(extra="allow")
    content: InterleavedContent | URL
    mime_type: str


class ToolResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    call_id: str
    tool_name: str
    content: InterleavedContent
    metadata: dict[str, Any] | None = None


TurnInputMessage = Annotated[StackUserMessage | StackToolResponseMessage, Field(discriminator="role")]
StepType = Literal["inference", "tool_execution", "shield_call", "memory_retrieval"]


class StepCommon(BaseModel):
    model_config = ConfigDict(extra="allow")
    turn_id: str
    step_id: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class InferenceStep(StepCommon):
    model_config = ConfigDict(extra="allow", protected_namespaces=())
    step_type: Literal["inference"] = "inference"
    model_response: StackCompletionMessage


class ToolExecutionStep(StepCommon):
    step_type: Literal["tool_execution"] = "tool_execution"
    tool_calls: list[StackToolCall]
    tool_responses: list[ToolResponse]


class ShieldCallStep(StepCommon):
    step_type: Literal["shield_call"] = "shield_call"
    violation: SafetyViolation | None = None


class MemoryRetrievalStep(StepCommon):
    step_type: Literal["memory_retrieval"] = "memory_retrieval"
    vector_db_ids: str
    inserted_context: InterleavedContent


Step = Annotated[
    InferenceStep | ToolExecutionStep | ShieldCallStep | MemoryRetrievalStep, Field(discriminator="step_type")
]


class Turn(BaseModel):
    model_config = ConfigDict(extra="allow")
    turn_id: str
    session_id: str
    input_messages: list[TurnInputMessage]
    steps: list[Step]
    output_message: StackCompletionMessage
    output_attachments: list[Document] | None = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime | None = None


class Session(BaseModel):
    model_config = ConfigDict(extra="allow")
    session_id: str
    session_name: str
    turns: list[Turn] = Field(default_factory=list)
    started_at: datetime


class AgentCreateResponse(BaseModel):
    agent_id: str


class AgentSessionCreateResponse(BaseModel):
    session_id: str


class AgentStepResponse(BaseModel):
    step: Step


# == turn stream =================================================================================================


class TextDelta(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImageDelta(BaseModel):
    type: Literal["image"] = "image"
    image: str


class ToolCallDelta(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    tool_call: str | StackToolCall
    parse_status: Literal["started", "in_progress", "failed", "succeeded"]


ContentDelta = Annotated[TextDelta | ImageDelta | ToolCallDelta, Field(discriminator="type")]


class StepStartPayload(BaseModel):
    event_type: Literal["step_start"] = "step_start"
    step_type: StepType
    step_id: str
    metadata: dict[str, Any] | None = Field(default_factory=dict)


class StepProgressPayload(BaseModel):
    event_type: Literal["step_progress"] = "step_progress"
    step_type: StepType
    step_id: str
    delta: ContentDelta


class StepCompletePayload(BaseModel):
    event_type: Literal["step_complete"] = "step_complete"
    step_type: StepType
    step_id: str
    step_details: Step


class TurnStartPayload(BaseModel):
    event_type: Literal["turn_start"] = "turn_start"
    turn_id: str


class TurnCompletePayload(BaseModel):
    event_type: Literal["turn_complete"] = "turn_complete"
    turn: Turn


class TurnAwaitingInputPayload(BaseModel):
    event_type: Literal["turn_awaiting_input"] = "turn_awaiting_input"
    turn: Turn


TurnEventPayload = Annotated[
    StepStartPayload
    | StepProgressPayload
    | StepCompletePayload
    | TurnStartPayload
    | TurnCompletePayload
    | TurnAwaitingInputPayload,
    Field(discriminator="event_type"),
]


class AgentTurnResponseEvent(BaseModel):
    payload: TurnEventPayload


class AgentTurnResponseStreamChunk(BaseModel):
    """One SSE event of a streamed turn."""

    event: AgentTurnResponseEvent


# == requests ====================================================================================================


class CreateAgentRequest(Request):
    agent_config: AgentConfig


class PageQuery(StrictRequest):
    """Query ``start_index`` (0-based) and ``limit`` of the index-paged lists."""

    start_index: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1)


class ListAgentsRequest(PageQuery):
    pass


class AgentIdRequest(StrictRequest):
    agent_id: str = Field(min_length=1)


class CreateSessionRequest(Request):
    agent_id: str = Field(min_length=1)
    session_name: str = Field(min_length=1)


class SessionIdRequest(AgentIdRequest):
    session_id: str = Field(min_length=1)


class GetSessionRequest(SessionIdRequest):
    """Path ``agent_id``, ``session_id``; query ``turn_ids`` (only those turns; the SDK sends them comma-joined)."""

    turn_ids: list[str] | None = None


class ListSessionsRequest(PageQuery):
    agent_id: str = Field(min_length=1)


class CreateTurnRequest(Request):
    """A new turn; ``toolgroups`` add to the agent's, ``tool_config`` overrides it."""

    agent_id: str = Field(min_length=1)
    session_id: str = Field(min_length=1)
    messages: list[TurnInputMessage] = Field(min_length=1)
    stream: bool | None = False
    documents: list[Document] | None = None
    toolgroups: list[AgentToolGroup] | None = None
    tool_config: ToolConfig | None = None


class TurnIdRequest(SessionIdRequest):
    turn_id: str = Field(min_length=1)


class ResumeTurnRequest(Request):
    """Client-side tool results for a turn that is awaiting input."""

    agent_id: str = Field(min_length=1)
    session_id: str = Field(min_length=1)
    turn_id: str = Field(min_length=1)
    tool_responses: list[ToolResponse] = Field(min_length=1)
    stream: bool | None = False


class StepIdRequest(TurnIdRequest):
    step_id: str = Field(min_length=1)


# == provider contract ===========================================================================================


@runtime_checkable
class AgentsProvider(Protocol):
    """What an agents provider implements: agents, their sessions, turns and steps.

    The turn methods return an async iterator of stream chunks when ``request.stream`` is true. Providers may return
    plain dicts shaped like the response models.
    """

    async def create_agent(self, request: CreateAgentRequest) -> AgentCreateResponse:
        """Create an agent from a config."""
        ...

    async def list_agents(self, request: ListAgentsRequest) -> PaginatedResponse[Agent]:
        """List agents."""
        ...

    async def get_agent(self, request: AgentIdRequest) -> Agent:
        """Get an agent."""
        ...

    async def delete_agent(self, request: AgentIdRequest) -> None:
        """Delete an agent with its sessions and turns."""
        ...

    async def create_agent_session(self, request: CreateSessionRequest) -> AgentSessionCreateResponse:
        """Create a session of an agent."""
        ...

    async def list_agent_sessions(self, request: ListSessionsRequest) -> PaginatedResponse[Session]:
        """List an agent's sessions."""
        ...

    async def get_agents_session(self, request: GetSessionRequest) -> Session:
        """Get a session with its turns."""
        ...

    async def delete_agents_session(self, request: SessionIdRequest) -> None:
        """Delete a session with its turns."""
        ...

    async def create_agent_turn(self, request: CreateTurnRequest) -> Turn | AsyncIterator[AgentTurnResponseStreamChunk]:
        """Run a new turn of a session."""
        ...

    async def get_agents_turn(self, request: TurnIdRequest) -> Turn:
        """Get a turn."""
        ...

    async def resume_agent_turn(self, request: ResumeTurnRequest) -> Turn | AsyncIterator[AgentTurnResponseStreamChunk]:
        """Resume a turn awaiting client tool results."""
        ...

    async def get_agents_step(self, request: StepIdRequest) -> AgentStepResponse:
        """Get one step of a turn."""
        ...


def _v1(path: str) -> tuple[str, ...]:
    return ("/v1" + path,)


_AGENTS = "/agents"
_AGENT = _AGENTS + "/{agent_id}"
_SESSION = _AGENT + "/session/{session_id}"
_TURN = _SESSION + "/turn/{turn_id}"
_STEP = _TURN + "/step/{step_id}"

SPEC = ApiSpec(
    api=Api.agents,
    title="Agents",
    protocol=AgentsProvider,
    description="The older agents/sessions/turns API (deprecated; the llama-stack-client 0.2 SDK calls it).",
    routes=(
        # Agents (older API; last upstream path /v1alpha, the 0.2 SDK calls /v1)
        Route(
            "POST",
            "/v1alpha" + _AGENTS,
            "create_agent",
            "Create an agent.",
            CreateAgentRequest,
            AgentCreateResponse,
            aliases=_v1(_AGENTS),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _AGENTS,
            "list_agents",
            "List agents.",
            ListAgentsRequest,
            PaginatedResponse[Agent],
            aliases=_v1(_AGENTS),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _AGENT,
            "get_agent",
            "Get an agent.",
            AgentIdRequest,
            Agent,
            aliases=_v1(_AGENT),
            deprecated=True,
        ),
        Route(
            "DELETE",
            "/v1alpha" + _AGENT,
            "delete_agent",
            "Delete an agent.",
            AgentIdRequest,
            None,
            aliases=_v1(_AGENT),
            deprecated=True,
        ),
        Route(
            "POST",
            "/v1alpha" + _AGENT + "/session",
            "create_agent_session",
            "Create an agent session.",
            CreateSessionRequest,
            AgentSessionCreateResponse,
            aliases=_v1(_AGENT + "/session"),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _AGENT + "/sessions",
            "list_agent_sessions",
            "List an agent's sessions.",
            ListSessionsRequest,
            PaginatedResponse[Session],
            aliases=_v1(_AGENT + "/sessions"),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _SESSION,
            "get_agents_session",
            "Get an agent session.",
            GetSessionRequest,
            Session,
            aliases=_v1(_SESSION),
            deprecated=True,
        ),
        Route(
            "DELETE",
            "/v1alpha" + _SESSION,
            "delete_agents_session",
            "Delete an agent session.",
            SessionIdRequest,
            None,
            aliases=_v1(_SESSION),
            deprecated=True,
        ),
        Route(
            "POST",
            "/v1alpha" + _SESSION + "/turn",
            "create_agent_turn",
            "Create a turn in a session.",
            CreateTurnRequest,
            Turn,
            stream=AgentTurnResponseStreamChunk,
            aliases=_v1(_SESSION + "/turn"),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _TURN,
            "get_agents_turn",
            "Get a turn.",
            TurnIdRequest,
            Turn,
            aliases=_v1(_TURN),
            deprecated=True,
        ),
        Route(
            "POST",
            "/v1alpha" + _TURN + "/resume",
            "resume_agent_turn",
            "Resume a turn with tool results.",
            ResumeTurnRequest,
            Turn,
            stream=AgentTurnResponseStreamChunk,
            aliases=_v1(_TURN + "/resume"),
            deprecated=True,
        ),
        Route(
            "GET",
            "/v1alpha" + _STEP,
            "get_agents_step",
            "Get a step of a turn.",
            StepIdRequest,
            AgentStepResponse,
            aliases=_v1(_STEP),
            deprecated=True,
        ),
    ),
)
