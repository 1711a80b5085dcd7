"""Inference: OpenAI-compatible chat completions, completions and embeddings, routed by the ``model`` field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import Answer, CursorPage, Request, StrictRequest
from .routes import Api, ApiSpec, ResourceRef, Route

# -- messages ----------------------------------------------------------------------------------------------------


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"] = "text"
    text: str


class ImageURL(BaseModel):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class FilePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["file"] = "file"
    file: dict[str, Any]


ContentPart = Annotated[TextPart | ImagePart | FilePart, Field(discriminator="type")]
Content = str | list[ContentPart]


class FunctionCall(BaseModel):
    name: str
    arguments: str


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer"]
    content: Content
    name: str | None = None


class UserMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["user"]
    content: Content
    name: str | None = None


class AssistantMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["assistant"]
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


class ToolMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["tool"]
    content: Content
    tool_call_id: str


Message = Annotated[SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")]

# -- requests ----------------------------------------------------------------------------------------------------


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedToolChoice(BaseModel):
    type: Literal["function"] = "function"
    function: dict[str, str]


class JSONSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatText(BaseModel):
    type: Literal["text"]


class ResponseFormatJSONObject(BaseModel):
    type: Literal["json_object"]


class ResponseFormatJSONSchema(BaseModel):
    type: Literal["json_schema"]
    json_schema: JSONSchemaSpec


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema, Field(discriminator="type")
]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool | None = None


class SamplingParams(Request):
    """Sampling parameters shared by chat completions and completions."""

    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=128)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    user: str | None = None


class ChatCompletionRequest(SamplingParams):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    reasoning_effort: str | None = None
    metadata: dict[str, str] | None = None


class CompletionRequest(SamplingParams):
    model: str = Field(min_length=1)
    prompt: str | list[str] | list[int] | list[list[int]]
    best_of: int | None = None
    echo: bool | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    suffix: str | None = None


class EmbeddingsRequest(Request):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


# -- responses ---------------------------------------------------------------------------------------------------


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class ChoiceMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


class ChatChoice(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    message: ChoiceMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter", "function_call"] | None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class ChunkDelta(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    refusal: str | None = None


class ChunkChoice(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    delta: ChunkDelta
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class CompletionChoice(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class Completion(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str
    index: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


# -- stored chat completions (the inference store) ---------------------------------------------------------------


class StoredChatCompletion(ChatCompletion):
    """A chat completion the stack answered, as stored: the answer (a stream reassembled) and the request's
    messages."""

    input_messages: list[Message]


class StoredMessage(BaseModel):
    """One input message of a stored chat completion, with an id (``<completion id>-<index>``)."""

    model_config = ConfigDict(extra="allow")
    id: str
    role: str
    content: Any = None


class ListChatCompletionsRequest(StrictRequest):
    after: str | None = Field(default=None, description="The id of the last completion of the previous page.")
    limit: int = Field(default=20, ge=1, le=1000)
    model: str | None = Field(default=None, description="Only completions made with this model id.")
    order: Literal["asc", "desc"] = Field(default="desc", description="By creation time.")


class ChatCompletionRef(StrictRequest):
    completion_id: str = Field(min_length=1)


class ListChatCompletionMessagesRequest(ChatCompletionRef):
    after: str | None = Field(default=None, description="The id of the last message of the previous page.")
    limit: int = Field(default=20, ge=1, le=1000)
    order: Literal["asc", "desc"] = Field(default="asc", description="By position in the request.")


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class InferenceProvider(Protocol):
    """What an inference provider implements. ``request.model`` is already the provider's own model id.

    Each answer is an :data:`~llama_stack_core.apis.common.Answer`: the response model, or the same shape as JSON
    bytes (an upstream's answer passed through without re-validation) or a plain dict. Streaming methods return an
    async iterator of such chunks when ``request.stream`` is true.
    """

    async def openai_chat_completion(
        self, request: ChatCompletionRequest
    ) -> Answer[ChatCompletion] | AsyncIterator[Answer[ChatCompletionChunk]]: ...

    async def openai_completion(
        self, request: CompletionRequest
    ) -> Answer[Completion] | AsyncIterator[Answer[Completion]]: ...

    async def openai_embeddings(self, request: EmbeddingsRequest) -> Answer[EmbeddingsResponse]: ...


LLM = ResourceRef("model", "model", model_type="llm")
EMBEDDING_MODEL = ResourceRef("model", "model", model_type="embedding")

SPEC = ApiSpec(
    api=Api.inference,
    title="Inference",
    protocol=InferenceProvider,
    description="OpenAI-compatible text generation and embeddings, federated across providers by model.",
    routes=(
        Route(
            "POST",
            "/v1/chat/completions",
            "openai_chat_completion",
            "Create a chat completion.",
            ChatCompletionRequest,
            ChatCompletion,
            resource=LLM,
            stream=ChatCompletionChunk,
            aliases=("/v1/openai/v1/chat/completions",),
        ),
        Route(
            "GET",
            "/v1/chat/completions",
            "openai_list_chat_completions",
            "List stored chat completions (newest first by default).",
            ListChatCompletionsRequest,
            CursorPage[StoredChatCompletion],
            aliases=("/v1/openai/v1/chat/completions",),
        ),
        Route(
            "GET",
            "/v1/chat/completions/{completion_id}",
            "openai_get_chat_completion",
            "Get a stored chat completion with its input messages.",
            ChatCompletionRef,
            StoredChatCompletion,
            aliases=("/v1/openai/v1/chat/completions/{completion_id}",),
        ),
        Route(
            "GET",
            "/v1/chat/completions/{completion_id}/messages",
            "openai_list_chat_completion_messages",
            "List the input messages of a stored chat completion.",
            ListChatCompletionMessagesRequest,
            CursorPage[StoredMessage],
            aliases=("/v1/openai/v1/chat/completions/{completion_id}/messages",),
        ),
        Route(
            "POST",
            "/v1/completions",
            "openai_completion",
            "Create a text completion.",
            CompletionRequest,
            Completion,
            resource=LLM,
            stream=Completion,
            aliases=("/v1/openai/v1/completions",),
        ),
        Route(
            "POST",
            "/v1/embeddings",
            "openai_embeddings",
            "Create embeddings.",
            EmbeddingsRequest,
            EmbeddingsResponse,
            resource=EMBEDDING_MODEL,
            aliases=("/v1/openai/v1/embeddings",),
        ),
    ),
)
