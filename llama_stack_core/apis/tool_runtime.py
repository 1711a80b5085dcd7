"""Tool runtime: list the tools of registered tool groups and invoke them, plus the RAG tool's insert and query."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import DataList, Identifier, InterleavedContent, Request, SearchMode, StrictRequest, ToolDef, ToolParameter
from .resources import URL
from .routes import Api, ApiSpec, ResourceRef, Route

# -- tools -------------------------------------------------------------------------------------------------------


class RegisteredTool(BaseModel):
    """A tool of a registered tool group, as ``GET /v1/tools`` lists it."""

    model_config = ConfigDict(extra="allow")
    identifier: str
    provider_resource_id: str | None = None
    provider_id: str
    type: Literal["tool"] = "tool"
    toolgroup_id: str
    name: str | None = None
    description: str | None = None
    parameters: list[ToolParameter] = Field(default_factory=list)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ToolInvocationResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    content: InterleavedContent | None = None
    error_message: str | None = None
    error_code: int | None = None
    metadata: dict[str, Any] | None = None


# -- RAG tool ----------------------------------------------------------------------------------------------------


class RAGDocument(BaseModel):
    model_config = ConfigDict(extra="allow")
    document_id: str = Field(min_length=1)
    content: InterleavedContent | URL
    mime_type: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class DefaultQueryGeneratorConfig(BaseModel):
    type: Literal["default"] = "default"
    separator: str = " "


class LLMQueryGeneratorConfig(BaseModel):
    type: Literal["llm"] = "llm"
    model: str = Field(min_length=1)
    template: str


QueryGeneratorConfig = Annotated[DefaultQueryGeneratorConfig | LLMQueryGeneratorConfig, Field(discriminator="type")]


class RRFRanker(BaseModel):
    type: Literal["rrf"] = "rrf"
    impact_factor: float = Field(default=60.0, gt=0)


class WeightedRanker(BaseModel):
    type: Literal["weighted"] = "weighted"
    alpha: float = Field(default=0.5, ge=0, le=1)


Ranker = Annotated[RRFRanker | WeightedRanker, Field(discriminator="type")]


class RAGQueryConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    query_generator_config: QueryGeneratorConfig = Field(default_factory=DefaultQueryGeneratorConfig)
    max_tokens_in_context: int = Field(default=4096, ge=1)
    max_chunks: int = Field(default=5, ge=1)
    chunk_template: str = "Result {index}\nContent: {chunk.content}\nMetadata: {metadata}\n"
    mode: SearchMode | None = "vector"
    ranker: Ranker | None = None


# -- requests ----------------------------------------------------------------------------------------------------


class ListToolsRequest(StrictRequest):
    """Query ``toolgroup_id``: only that group's tools (all groups when absent)."""

    toolgroup_id: str | None = Field(default=None, min_length=1)


class GetToolRequest(StrictRequest):
    tool_name: str = Field(min_length=1)


class ListRuntimeToolsRequest(StrictRequest):
    """Query ``tool_group_id`` and/or ``mcp_endpoint`` (the SDK sends ``mcp_endpoint[uri]=...``)."""

    tool_group_id: str | None = Field(default=None, min_length=1)
    mcp_endpoint: URL | None = None


class InvokeToolRequest(Request):
    """``toolgroup_id`` is optional for clients (it picks one group's tool when names clash); the router fills it
    in, as the group's id on its provider, before the provider sees the request. With ``mcp_endpoint`` (and no
    group) the call goes straight to the MCP server, through the provider that lists bare endpoints."""

    tool_name: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    toolgroup_id: str | None = Field(default=None, min_length=1)
    mcp_endpoint: URL | None = Field(
        default=None, description="Call a tool of this MCP server directly, with no tool group (an agent's mcp tool)."
    )


class RAGInsertRequest(Request):
    documents: list[RAGDocument] = Field(min_length=1)
    vector_db_id: str = Field(min_length=1)
    chunk_size_in_tokens: int | None = Field(
        default=None, ge=1, description="Tokens per chunk; by default what the store's embedding model embeds whole."
    )


class RAGQueryRequest(Request):
    content: InterleavedContent
    vector_db_ids: list[Identifier] = Field(min_length=1)
    query_config: RAGQueryConfig | None = None


# -- responses ---------------------------------------------------------------------------------------------------


class RAGQueryResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    content: InterleavedContent | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class ToolRuntimeProvider(Protocol):
    """What a tool runtime provider implements: the tools of its tool groups, and running them.

    The core serves ``/v1/tools`` and ``/v1/tools/{name}`` from ``list_runtime_tools``, finds the group of each
    invoked tool, checks the arguments against the tool's ``input_schema`` and bounds each call (timeout, result
    size, concurrency per group). A provider learns its groups (endpoint, args) through ``register_tool_group``.
    """

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        """The tools of one of this provider's groups: ``request.tool_group_id`` is the group's id on this provider
        (or, for an MCP provider, ``request.mcp_endpoint`` names a server directly). Describe each tool with a
        JSON-schema ``input_schema`` (or ``parameters``); the core derives the other."""
        ...

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        """Run ``request.tool_name`` of group ``request.toolgroup_id`` (the group's id on this provider) with
        ``request.kwargs``, already checked against the tool's input schema. An upstream that fails raises
        :class:`~llama_stack_core.errors.UpstreamError`; a tool that runs and reports a failure answers with
        ``error_message`` set."""
        ...


@runtime_checkable
class RAGToolProvider(Protocol):
    """The RAG tool's two extra operations, served by the provider of the ``builtin::rag`` tool group."""

    async def rag_tool_insert(self, request: RAGInsertRequest) -> None:
        """Chunk documents and index them into a vector store."""
        ...

    async def rag_tool_query(self, request: RAGQueryRequest) -> RAGQueryResult:
        """Retrieve context for a query from vector stores."""
        ...


SPEC = ApiSpec(
    api=Api.tool_runtime,
    title="Tool runtime",
    protocol=ToolRuntimeProvider,
    description="Tool listing and invocation, federated across providers by tool group; the RAG tool.",
    routes=(
        Route(
            "GET",
            "/v1/tools",
            "list_tools",
            "List tools, optionally of one tool group.",
            ListToolsRequest,
            DataList[RegisteredTool],
            resource=ResourceRef("toolgroup_id", "tool_group"),
        ),
        Route("GET", "/v1/tools/{tool_name}", "get_tool", "Get a tool by name.", GetToolRequest, RegisteredTool),
        Route(
            "GET",
            "/v1/tool-runtime/list-tools",
            "list_runtime_tools",
            "List the tool definitions of a tool group or MCP endpoint.",
            ListRuntimeToolsRequest,
            DataList[ToolDef],
            resource=ResourceRef("tool_group_id", "tool_group"),
        ),
        Route(
            "POST",
            "/v1/tool-runtime/invoke",
            "invoke_tool",
            "Invoke a tool by name.",
            InvokeToolRequest,
            ToolInvocationResult,
        ),
        Route(
            "POST",
            "/v1/tool-runtime/rag-tool/insert",
            "rag_tool_insert",
            "Index documents into a vector database for the RAG tool.",
            RAGInsertRequest,
            None,
        ),
        Route(
            "POST",
            "/v1/tool-runtime/rag-tool/query",
            "rag_tool_query",
            "Query vector databases with the RAG tool.",
            RAGQueryRequest,
            RAGQueryResult,
        ),
    ),
)
