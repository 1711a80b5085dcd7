"""The items of OpenAI's Responses API: content parts, messages, tool calls and their outputs.

Not an API of its own: ``responses`` (input, output) and ``conversations`` (a conversation's items) both hold them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from .common import CursorPage


def _type_required(schema: dict[str, Any]) -> None:
    schema["required"] = sorted({*schema.get("required", ()), "type"})


#: An item other than a message: among response items, ``type`` says which (an item without one is a message), so
#: the document requires it
_ITEM_CONFIG = ConfigDict(extra="allow", json_schema_extra=_type_required)


class InputText(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["input_text"] = "input_text"
    text: str


class InputImage(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["input_image"] = "input_image"
    detail: Literal["low", "high", "auto"] = "auto"
    image_url: str | None = None
    file_id: str | None = None


class InputFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["input_file"] = "input_file"
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None


class Refusal(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["refusal"] = "refusal"
    refusal: str


ResponseContentPart = Annotated[InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")]


class ResponseMessage(BaseModel):
    """A message item. On input ``type`` may be left out (OpenAI's "easy input message")."""

    model_config = ConfigDict(extra="allow")
    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ResponseContentPart]
    status: str | None = None


class FunctionToolCall(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: str | None = None


class FunctionToolCallOutput(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    call_id: str
    output: str | list[dict[str, Any]]
    status: str | None = None


class WebSearchCall(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["web_search_call"] = "web_search_call"
    id: str
    status: str


class FileSearchCall(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["file_search_call"] = "file_search_call"
    id: str
    queries: list[str]
    status: str
    results: list[dict[str, Any]] | None = None


class McpCall(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["mcp_call"] = "mcp_call"
    id: str
    name: str
    arguments: str
    server_label: str
    output: str | None = None
    error: dict[str, Any] | str | None = None  # OpenAI's error object ({type: http_error ...}); a string as sent


class McpListedTool(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None
    input_schema: dict[str, Any]


class McpListTools(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    id: str
    server_label: str
    tools: list[McpListedTool]


class McpApprovalRequest(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    id: str
    name: str
    arguments: str
    server_label: str


class McpApprovalResponse(BaseModel):
    model_config = _ITEM_CONFIG
    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    id: str | None = None
    approval_request_id: str
    approve: bool
    reason: str | None = None


_ITEM_TYPES = {
    "message",
    "function_call",
    "function_call_output",
    "web_search_call",
    "file_search_call",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
}


class OtherItem(BaseModel):
    """Any other item type (``reasoning``, vendor items ...), kept as sent."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(json_schema_extra={"not": {"enum": sorted(_ITEM_TYPES)}})


def _item_tag(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "message")
    return kind if isinstance(kind, str) and kind in _ITEM_TYPES else "other"


#: An input, output or conversation item, told apart by ``type`` (``message`` when absent).
ResponseItem = Annotated[
    Annotated[ResponseMessage, Tag("message")]
    | Annotated[FunctionToolCall, Tag("function_call")]
    | Annotated[FunctionToolCallOutput, Tag("function_call_output")]
    | Annotated[WebSearchCall, Tag("web_search_call")]
    | Annotated[FileSearchCall, Tag("file_search_call")]
    | Annotated[McpCall, Tag("mcp_call")]
    | Annotated[McpListTools, Tag("mcp_list_tools")]
    | Annotated[McpApprovalRequest, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponse, Tag("mcp_approval_response")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_tag),
]


class ResponseItemList(CursorPage[ResponseItem]):
    """A cursor list of response or conversation items."""
