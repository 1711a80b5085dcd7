"""Agents: the OpenAI Responses API and Conversations (the agent loop with tools), plus the older Agents API
(agents, sessions, turns, steps) that the 0.2 client SDK still calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import (
    CursorPage,
    CursorQuery,
    DeletedObject,
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
from .response_items import ResponseItem, ResponseItemList
from .routes import Api, ApiSpec, Route

# == Responses: tools and config =================================================================================


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["function"] = "function"
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class WebSearchTool(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26"] = (
        "web_search"
    )
    search_context_size: Literal["low", "medium", "high"] | None = "medium"


class FileSearchTool(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["file_search"] = "file_search"
    vector_store_ids: list[str] = Field(min_length=1)
    filters: dict[str, Any] | None = None
    max_num_results: int | None = Field(default=10, ge=1, le=50)
    ranking_options: dict[str, Any] | None = None


class McpTool(BaseModel):
    """An MCP server the agent may call: by ``server_url`` or by a configured ``connector_id``."""

    model_config = ConfigDict(extra="allow")
    type: Literal["mcp"] = "mcp"
    server_label: str = Field(min_length=1)
    server_url: str | None = None
    connector_id: str | None = None
    headers: dict[str, Any] | None = None
    authorization: str | None = None
    require_approval: Literal["always", "never"] | dict[str, Any] = "never"
    allowed_tools: list[str] | dict[str, Any] | None = None


ResponseTool = Annotated[FunctionTool | WebSearchTool | FileSearchTool | McpTool, Field(discriminator="type")]


class ResponseTextFormat(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: Literal["text", "json_schema", "json_object"] = "text"
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class ResponseText(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: ResponseTextFormat | None = None


class ConversationRef(BaseModel):
    id: str = Field(min_length=1)


# == Responses: objects ==========================================================================================


class ResponseError(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ResponseUsage(BaseModel):
    model_config = ConfigDict(extra="allow")
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: dict[str, Any] | None = None
    output_tokens_details: dict[str, Any] | None = None


class ResponseObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["response"] = "response"
    created_at: int
    model: str
    status: Literal["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"]
    output: list[ResponseItem] = Field(default_factory=list)
    error: ResponseError | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    parallel_tool_calls: bool = False
    temperature: float | None = None
    top_p: float | None = None
    text: ResponseText = Field(default_factory=lambda: ResponseText(format=ResponseTextFormat(type="text")))
    tools: list[dict[str, Any]] | None = None
    truncation: str | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, str] | None = None
    usage: ResponseUsage | None = None


class ResponseObjectWithInput(ResponseObject):
    """A stored response with its input items, as the list route returns it."""

    input: list[ResponseItem] = Field(default_factory=list)


class ResponseStreamEvent(BaseModel):
    """One SSE event of a streamed response (``response.created``, ``response.output_text.delta`` ...).

    Only ``type`` is always present; the other fields are those the event type carries.
    """

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1)
    sequence_number: int | None = None
    response: ResponseObject | None = None
    response_id: str | None = None
    item: ResponseItem | None = None
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None
    delta: str | None = None
    text: str | None = None
    arguments: str | None = None
    part: dict[str, Any] | None = None


# == Responses: requests =========================================================================================


class CreateResponseRequest(Request):
    input: str | list[ResponseItem]
    model: str = Field(min_length=1)
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    store: bool | None = True
    stream: bool | None = False
    background: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    text: ResponseText | None = None
    tools: list[ResponseTool] | None = None
    tool_choice: Literal["auto", "required", "none"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    include: list[str] | None = None
    max_infer_iters: int | None = Field(default=10, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    guardrails: list[str | dict[str, Any]] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    prompt: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None


class ListResponsesRequest(CursorQuery):
    model: str | None = None
    limit: int = Field(default=50, ge=1, le=10000)


class ResponseIdRequest(StrictRequest):
    response_id: str = Field(min_length=1)


class ListResponseInputItemsRequest(CursorQuery):
    response_id: str = Field(min_length=1)
    include: list[str] | None = None


# == Conversations ===============================================================================================


class Conversation(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    metadata: dict[str, str] | None = None


class CreateConversationRequest(Request):
    items: list[ResponseItem] | None = None
    metadata: dict[str, str] | None = None


class ConversationIdRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)


class UpdateConversationRequest(Request):
    conversation_id: str = Field(min_length=1)
    metadata: dict[str, str]


class AddConversationItemsRequest(Request):
    """Path ``conversation_id``; query ``include``; body ``items``."""

    conversation_id: str = Field(min_length=1)
    items: list[ResponseItem] = Field(min_length=1)
    include: list[str] | None = None


class ListConversationItemsRequest(CursorQuery):
    conversation_id: str = Field(min_length=1)
    include: list[str] | None = None


class GetConversationItemRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    include: list[str] | None = None


class DeleteConversationItemRequest(StrictRequest):
    conversation_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)


# == Agents (older API): config ==================================================================================


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


# == Agents (older API): turns and steps =========================================================================


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


# == Agents (older API): turn stream =============================================================================


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


# == Agents (older API): requests ================================================================================


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
    """What an agents provider implements: Responses, Conversations and the older Agents API.

    Streaming methods return an async iterator of events when ``request.stream`` is true. Providers may return plain
    dicts shaped like the response models.
    """

    async def create_openai_response(
        self, request: CreateResponseRequest
    ) -> ResponseObject | AsyncIterator[ResponseStreamEvent]:
        """Create a response: run the model with its tools until done."""
        ...

    async def list_openai_responses(self, request: ListResponsesRequest) -> CursorPage[ResponseObjectWithInput]:
        """List stored responses."""
        ...

    async def get_openai_response(self, request: ResponseIdRequest) -> ResponseObject:
        """Get a stored response."""
        ...

    async def delete_openai_response(self, request: ResponseIdRequest) -> DeletedObject:
        """Delete a stored response."""
        ...

    async def cancel_openai_response(self, request: ResponseIdRequest) -> ResponseObject:
        """Cancel a background response."""
        ...

    async def list_openai_response_input_items(self, request: ListResponseInputItemsRequest) -> ResponseItemList:
        """List the input items of a stored response."""
        ...

    async def create_conversation(self, request: CreateConversationRequest) -> Conversation:
        """Create a conversation, optionally with initial items."""
        ...

    async def get_conversation(self, request: ConversationIdRequest) -> Conversation:
        """Get a conversation."""
        ...

    async def update_conversation(self, request: UpdateConversationRequest) -> Conversation:
        """Replace a conversation's metadata."""
        ...

    async def delete_conversation(self, request: ConversationIdRequest) -> DeletedObject:
        """Delete a conversation and its items."""
        ...

    async def add_conversation_items(self, request: AddConversationItemsRequest) -> ResponseItemList:
        """Append items to a conversation."""
        ...

    async def list_conversation_items(self, request: ListConversationItemsRequest) -> ResponseItemList:
        """List a conversation's items."""
        ...

    async def get_conversation_item(self, request: GetConversationItemRequest) -> ResponseItem:
        """Get one item of a conversation."""
        ...

    async def delete_conversation_item(self, request: DeleteConversationItemRequest) -> DeletedObject:
        """Delete one item of a conversation."""
        ...

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


def _openai(path: str) -> tuple[str, ...]:
    return ("/v1/openai" + path,)


def _v1(path: str) -> tuple[str, ...]:
    return ("/v1" + path,)


_RESPONSES = "/v1/responses"
_RESPONSE = _RESPONSES + "/{response_id}"
_CONVERSATIONS = "/v1/conversations"
_CONVERSATION = _CONVERSATIONS + "/{conversation_id}"
_AGENTS = "/agents"
_AGENT = _AGENTS + "/{agent_id}"
_SESSION = _AGENT + "/session/{session_id}"
_TURN = _SESSION + "/turn/{turn_id}"
_STEP = _TURN + "/step/{step_id}"

SPEC = ApiSpec(
    api=Api.agents,
    title="Agents",
    protocol=AgentsProvider,
    description="Agentic responses with tools, conversations, and the older agents/sessions/turns API.",
    routes=(
        # Responses
        Route(
            "POST",
            _RESPONSES,
            "create_openai_response",
            "Create a response.",
            CreateResponseRequest,
            ResponseObject,
            stream=ResponseStreamEvent,
            aliases=_openai(_RESPONSES),
        ),
        Route(
            "GET",
            _RESPONSES,
            "list_openai_responses",
            "List stored responses.",
            ListResponsesRequest,
            CursorPage[ResponseObjectWithInput],
            aliases=_openai(_RESPONSES),
        ),
        Route(
            "GET",
            _RESPONSE,
            "get_openai_response",
            "Get a stored response.",
            ResponseIdRequest,
            ResponseObject,
            aliases=_openai(_RESPONSE),
        ),
        Route(
            "DELETE",
            _RESPONSE,
            "delete_openai_response",
            "Delete a stored response.",
            ResponseIdRequest,
            DeletedObject,
            aliases=_openai(_RESPONSE),
        ),
        Route(
            "POST",
            _RESPONSE + "/cancel",
            "cancel_openai_response",
            "Cancel a background response.",
            ResponseIdRequest,
            ResponseObject,
        ),
        Route(
            "GET",
            _RESPONSE + "/input_items",
            "list_openai_response_input_items",
            "List the input items of a response.",
            ListResponseInputItemsRequest,
            ResponseItemList,
            aliases=_openai(_RESPONSE + "/input_items"),
        ),
        # Conversations
        Route(
            "POST",
            _CONVERSATIONS,
            "create_conversation",
            "Create a conversation.",
            CreateConversationRequest,
            Conversation,
        ),
        Route("GET", _CONVERSATION, "get_conversation", "Get a conversation.", ConversationIdRequest, Conversation),
        Route(
            "POST",
            _CONVERSATION,
            "update_conversation",
            "Update a conversation's metadata.",
            UpdateConversationRequest,
            Conversation,
        ),
        Route(
            "DELETE",
            _CONVERSATION,
            "delete_conversation",
            "Delete a conversation.",
            ConversationIdRequest,
            DeletedObject,
        ),
        Route(
            "POST",
            _CONVERSATION + "/items",
            "add_conversation_items",
            "Add items to a conversation.",
            AddConversationItemsRequest,
            ResponseItemList,
        ),
        Route(
            "GET",
            _CONVERSATION + "/items",
            "list_conversation_items",
            "List a conversation's items.",
            ListConversationItemsRequest,
            ResponseItemList,
        ),
        Route(
            "GET",
            _CONVERSATION + "/items/{item_id}",
            "get_conversation_item",
            "Get a conversation item.",
            GetConversationItemRequest,
            ResponseItem,
        ),
        Route(
            "DELETE",
            _CONVERSATION + "/items/{item_id}",
            "delete_conversation_item",
            "Delete a conversation item.",
            DeleteConversationItemRequest,
            DeletedObject,
        ),
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
