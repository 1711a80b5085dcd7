"""Responses: OpenAI's Responses API, the agent loop that runs a model with its tools (and stores the result)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import CursorPage, CursorQuery, DeletedObject, Identifier, Request, StrictRequest
from .response_items import ResponseItem, ResponseItemList
from .routes import Api, ApiSpec, Route

# == tools and config ============================================================================================


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
    vector_store_ids: list[Identifier] = Field(min_length=1)
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


# == objects =====================================================================================================


class ResponseError(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class InputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    model_config = ConfigDict(extra="allow")
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)


class IncompleteDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: str


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
    tool_choice: Literal["auto", "required", "none"] | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = Field(default_factory=list)
    incomplete_details: IncompleteDetails | None = None
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


# == requests ====================================================================================================


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


# == provider contract ===========================================================================================


@runtime_checkable
class ResponsesProvider(Protocol):
    """What a responses provider implements.

    ``create_openai_response`` returns an async iterator of events when ``request.stream`` is true. Providers may
    return plain dicts shaped like the response models.
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


def _openai(path: str) -> tuple[str, ...]:
    return ("/v1/openai" + path,)


_RESPONSES = "/v1/responses"
_RESPONSE = _RESPONSES + "/{response_id}"

SPEC = ApiSpec(
    api=Api.responses,
    title="Responses",
    protocol=ResponsesProvider,
    description="OpenAI Responses: a model run with its tools until done, and the stored responses.",
    routes=(
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
    ),
)
