"""Types shared by several API contracts."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .resources import URL

T = TypeVar("T")

#: An id a client passes (of a vector store, a file, ...): never empty.
Identifier = Annotated[str, Field(min_length=1)]


class Request(BaseModel):
    """Base of request models: unknown fields are kept (upstream and OpenAI clients send vendor extras)."""

    model_config = ConfigDict(extra="allow")


class StrictRequest(BaseModel):
    """Base of request models that reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Empty(StrictRequest):
    """A request with no parameters."""


class CursorPage(BaseModel, Generic[T]):
    """OpenAI cursor list: ``{"object": "list", data, first_id, last_id, has_more}``."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class DataList(BaseModel, Generic[T]):
    """The plain ``{"data": [...]}`` list shape."""

    data: list[T]


class PaginatedResponse(BaseModel, Generic[T]):
    """The index-paged list shape of the older APIs: ``{data, has_more, url}``."""

    data: list[T]
    has_more: bool = False
    url: str | None = None


class CursorQuery(StrictRequest):
    """Query parameters of OpenAI cursor lists."""

    after: str | None = None
    before: str | None = None
    limit: int = Field(default=20, ge=1, le=10000)
    order: Literal["asc", "desc"] = "desc"


class DeletedObject(BaseModel):
    id: str
    object: str
    deleted: bool = True


class UploadedFile(BaseModel):
    """A file part of a multipart request."""

    filename: str
    content_type: str | None = None
    content: bytes

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """In the document: the part's bytes (the server builds this model from them)."""
        return {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}


class BinaryContent(BaseModel):
    """A non-JSON response body (e.g. a file's bytes)."""

    content: bytes
    media_type: str = "application/octet-stream"


class Job(BaseModel):
    job_id: str
    status: Literal["completed", "in_progress", "failed", "scheduled", "cancelled"]


JSONDict = dict[str, Any]

JsonBytes: TypeAlias = bytes
"""A response already encoded as JSON (typically an upstream's answer passed through): sent to the client as is."""

Answer: TypeAlias = T | JsonBytes | JSONDict
"""What a provider may return for a response model ``T``: the model, or the same shape as JSON bytes or a plain dict.
The core serializes a model, sends bytes untouched, and validates either only where it reads the answer itself."""


SearchMode = Literal["vector", "keyword", "hybrid"]

# -- Llama Stack content and messages (the pre-OpenAI wire shapes) ------------------------------------------------


class TextContentItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"] = "text"
    text: str


class ImageData(BaseModel):
    """An image as a URL (``url.uri``, may be a data URL) or as base64 ``data``."""

    url: URL | None = None
    data: str | None = None


class ImageContentItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image"] = "image"
    image: ImageData


InterleavedContentItem = Annotated[TextContentItem | ImageContentItem, Field(discriminator="type")]
InterleavedContent = str | InterleavedContentItem | list[InterleavedContentItem]


class StackToolCall(BaseModel):
    """A tool call in the Llama Stack shape (``call_id``, ``tool_name``, ``arguments``)."""

    model_config = ConfigDict(extra="allow")
    call_id: str
    tool_name: str
    arguments: str | dict[str, Any]
    arguments_json: str | None = None


class StackUserMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["user"] = "user"
    content: InterleavedContent
    context: InterleavedContent | None = None


class StackSystemMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system"] = "system"
    content: InterleavedContent


class StackToolResponseMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["tool"] = "tool"
    call_id: str
    content: InterleavedContent


class StackCompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["assistant"] = "assistant"
    content: InterleavedContent
    stop_reason: Literal["end_of_turn", "end_of_message", "out_of_tokens"] = "end_of_turn"
    tool_calls: list[StackToolCall] | None = None


# -- Llama Stack sampling parameters (strategy-based, not the OpenAI fields) -------------------------------------


class GreedySamplingStrategy(BaseModel):
    type: Literal["greedy"] = "greedy"


class TopPSamplingStrategy(BaseModel):
    type: Literal["top_p"] = "top_p"
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=0.95, gt=0, le=1)


class TopKSamplingStrategy(BaseModel):
    type: Literal["top_k"] = "top_k"
    top_k: int = Field(ge=1)


SamplingStrategy = Annotated[
    GreedySamplingStrategy | TopPSamplingStrategy | TopKSamplingStrategy, Field(discriminator="type")
]


class StackSamplingParams(BaseModel):
    """Llama Stack sampling parameters of agents and eval candidates."""

    model_config = ConfigDict(extra="allow")
    strategy: SamplingStrategy = Field(default_factory=GreedySamplingStrategy)
    max_tokens: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = 1.0
    stop: list[str] | None = None

    def openai_sampling(self) -> dict[str, Any]:
        """The strategy as OpenAI request fields: greedy is temperature 0; top_p its temperature (at most 2) and
        top_p; top_k the ``top_k`` extra that vLLM-style servers read."""
        strategy = self.strategy
        if strategy.type == "greedy":
            return {"temperature": 0.0}
        if strategy.type == "top_k":
            return {"top_k": strategy.top_k}
        fields: dict[str, Any] = {"top_p": strategy.top_p}
        if strategy.temperature is not None:
            fields["temperature"] = min(strategy.temperature, 2.0)
        return fields


# -- types of one API that another one embeds ---------------------------------------------------------------------


class SafetyViolation(BaseModel):
    model_config = ConfigDict(extra="allow")
    violation_level: Literal["info", "warn", "error"]
    user_message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ToolParameter(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    parameter_type: str
    description: str = ""
    required: bool = True
    default: Any = None


class ToolDef(BaseModel):
    """A tool as a provider or a client describes it: ``parameters`` (0.2 shape) and/or JSON-schema ``input_schema``."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: list[ToolParameter] | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    toolgroup_id: str | None = None
    metadata: dict[str, Any] | None = None


AggregationFunction = Literal["average", "weighted_average", "median", "categorical_count", "accuracy"]


class LLMAsJudgeScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["llm_as_judge"] = "llm_as_judge"
    judge_model: str = Field(min_length=1)
    prompt_template: str | None = None
    judge_score_regexes: list[str] = Field(default_factory=list)
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


class RegexParserScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["regex_parser"] = "regex_parser"
    parsing_regexes: list[str] = Field(default_factory=list)
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


class BasicScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["basic"] = "basic"
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


ScoringFnParams = Annotated[
    LLMAsJudgeScoringFnParams | RegexParserScoringFnParams | BasicScoringFnParams, Field(discriminator="type")
]


class ScoringResult(BaseModel):
    """One scoring function's output: a score per row and the aggregated metrics."""

    model_config = ConfigDict(extra="allow")
    score_rows: list[dict[str, Any]]
    aggregated_results: dict[str, Any] = Field(default_factory=dict)


class FileExpiresAfter(BaseModel):
    """Expire a file ``seconds`` after its creation (1 hour to 30 days)."""

    anchor: Literal["created_at"]
    seconds: int = Field(ge=3600, le=2592000)
