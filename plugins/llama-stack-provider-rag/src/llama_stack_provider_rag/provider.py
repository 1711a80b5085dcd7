"""``inline::rag-runtime``: the ``builtin::rag`` tool group and the RAG tool's insert and query.

Tools of a group: ``knowledge_search`` (query vector stores) and ``knowledge_insert`` (documents into a store). The
stores come from the call's arguments, else from the group's ``args`` (``vector_store_ids`` or ``vector_db_ids``).
Everything goes through the VectorIO API like a client's call (traced, routed by store id: unknown store -> 404).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from llama_stack_core.apis.common import DataList, ToolDef
from llama_stack_core.apis.resources import ToolGroup
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.tool_runtime import (
    InvokeToolRequest,
    ListRuntimeToolsRequest,
    RAGDocument,
    RAGInsertRequest,
    RAGQueryConfig,
    RAGQueryRequest,
    RAGQueryResult,
    ToolInvocationResult,
)
from llama_stack_core.errors import BadRequestError, NotFoundError
from llama_stack_core.provider_contracts import RegistersToolGroups, UnregistersToolGroups
from llama_stack_core.vector_io.chunking import count_tokens
from llama_stack_core.vector_io.parsing import content_text

from .config import DEFAULT_TOOL_GROUP, PROVIDER_TYPE, RAGRuntimeConfig
from .insert import Inserter
from .search import SearchOptions, knowledge_content, parse_filters, render_template, search

SEARCH, INSERT = "knowledge_search", "knowledge_insert"
_STORE_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
_FILTER_SCHEMA = {
    "type": "object",
    "description": "An attribute filter: {key, type: eq|ne|gt|..., value} or {type: and|or, filters: [...]}.",
}
_DOCUMENT = {
    "type": "object",
    "properties": {
        "document_id": {"type": "string", "minLength": 1},
        "content": {"type": "string", "description": "The document's text."},
        "file_id": {"type": "string", "pattern": "^file-", "description": "A Files API file, instead of content."},
        "metadata": {"type": "object", "description": "Attributes of the document's chunks (for filters)."},
    },
    "required": ["document_id"],
}
TOOLS = {
    SEARCH: ToolDef(
        name=SEARCH,
        description="Search the knowledge base (vector stores) for passages relevant to a query. Returns the "
        "matching chunks with their source file, document and attributes.",
        input_schema={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "What to look for."},
                "vector_store_ids": {**_STORE_IDS, "description": "Stores to search (default: the group's)."},
                "vector_db_ids": {**_STORE_IDS, "description": "Older name of vector_store_ids."},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 50},
                "search_mode": {"type": "string", "enum": ["vector", "keyword", "hybrid"]},
                "filters": _FILTER_SCHEMA,
            },
            "required": ["query"],
        },
    ),
    INSERT: ToolDef(
        name=INSERT,
        description="Add documents (text, or Files API files) to a vector store of the knowledge base.",
        input_schema={
            "type": "object",
            "properties": {
                "documents": {"type": "array", "items": _DOCUMENT, "minItems": 1},
                "vector_store_id": {"type": "string", "minLength": 1, "description": "Default: the group's first."},
                "chunk_size_in_tokens": {"type": "integer", "minimum": 1},
            },
            "required": ["documents"],
        },
    ),
}


class RAGToolRuntime(RegistersToolGroups, UnregistersToolGroups):
    """Implements ``ToolRuntimeProvider`` and ``RAGToolProvider``."""

    def __init__(self, config: RAGRuntimeConfig, deps: dict[Api, Any]) -> None:
        self.config = config
        self.vector_io = deps[Api.vector_io]
        self.inserter = Inserter(config, self.vector_io, deps.get(Api.inference))
        self.groups: dict[str, dict[str, Any]] = {}  # group id on this provider -> its args

    # -- tool groups ---------------------------------------------------------------------------------------------

    async def register_tool_group(self, tool_group: ToolGroup) -> None:
        if tool_group.mcp_endpoint is not None:
            raise BadRequestError(f"{PROVIDER_TYPE} serves no MCP endpoint; register the group without mcp_endpoint")
        args = dict(tool_group.args or {})
        unknown = sorted(set(args) - {"vector_store_ids", "vector_db_ids", "max_results"})
        if unknown:
            raise BadRequestError(f"unknown args for a RAG tool group: {', '.join(unknown)}", param="args")
        for key in ("vector_store_ids", "vector_db_ids"):
            value = args.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
                raise BadRequestError(f"args.{key} must be a list of vector store ids", param=f"args.{key}")
        value = args.get("max_results")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50):
            raise BadRequestError("args.max_results must be an integer from 1 to 50", param="args.max_results")
        self.groups[tool_group.provider_resource_id or tool_group.identifier] = args

    async def unregister_tool_group(self, tool_group: ToolGroup) -> None:
        self.groups.pop(tool_group.provider_resource_id or tool_group.identifier, None)

    def _group(self, group_id: str | None) -> dict[str, Any]:
        group_id = group_id or DEFAULT_TOOL_GROUP
        if group_id not in self.groups:
            raise NotFoundError(f"tool group '{group_id}' is not registered on {PROVIDER_TYPE}", param="toolgroup_id")
        return self.groups[group_id]

    # -- the ToolRuntimeProvider protocol ------------------------------------------------------------------------

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        if request.mcp_endpoint is not None:
            raise BadRequestError(f"{PROVIDER_TYPE} serves no MCP endpoint", param="mcp_endpoint")
        group_id = request.tool_group_id or DEFAULT_TOOL_GROUP
        self._group(group_id)
        return DataList[ToolDef](data=[t.model_copy(update={"toolgroup_id": group_id}) for t in TOOLS.values()])

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        args = self._group(request.toolgroup_id)
        kwargs = request.kwargs
        if request.tool_name == SEARCH:
            return await self._knowledge_search(args, kwargs)
        if request.tool_name == INSERT:
            return await self._knowledge_insert(args, kwargs)
        raise NotFoundError(f"tool '{request.tool_name}' is not a tool of {PROVIDER_TYPE}", param="tool_name")

    async def _knowledge_search(self, args: dict[str, Any], kwargs: dict[str, Any]) -> ToolInvocationResult:
        query = kwargs.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadRequestError("kwargs.query must be a non-empty string", param="kwargs.query")
        store_ids = _store_ids(kwargs, "kwargs") or _store_ids(args, "args")
        if not store_ids:
            raise BadRequestError(
                "no vector store to search: pass kwargs.vector_store_ids or register the tool group with "
                "args.vector_store_ids",
                param="kwargs.vector_store_ids",
            )
        max_results = kwargs.get("max_results", args.get("max_results", self.config.default_max_results))
        if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 50:
            raise BadRequestError("kwargs.max_results must be an integer from 1 to 50", param="kwargs.max_results")
        mode = kwargs.get("search_mode", "vector")
        if mode not in ("vector", "keyword", "hybrid"):
            raise BadRequestError("kwargs.search_mode must be vector, keyword or hybrid", param="kwargs.search_mode")
        options = SearchOptions(max_results, mode, parse_filters(kwargs.get("filters"), "kwargs.filters"))
        hits = await search(self.vector_io, store_ids, query, options)
        return ToolInvocationResult(
            content=knowledge_content(query, hits),
            metadata={"query": query, "vector_store_ids": store_ids, "chunks": [h.provenance() for h in hits]},
        )

    async def _knowledge_insert(self, args: dict[str, Any], kwargs: dict[str, Any]) -> ToolInvocationResult:
        store_id = kwargs.get("vector_store_id") or next(iter(_store_ids(args, "args") or []), None)
        if not isinstance(store_id, str) or not store_id:
            raise BadRequestError(
                "no vector store to insert into: pass kwargs.vector_store_id or register the tool group with "
                "args.vector_store_ids",
                param="kwargs.vector_store_id",
            )
        raw = kwargs.get("documents")
        if not isinstance(raw, list) or not raw:
            raise BadRequestError("kwargs.documents must be a non-empty list", param="kwargs.documents")
        documents = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise BadRequestError(f"kwargs.documents[{i}] must be an object", param=f"kwargs.documents.{i}")
            given = [k for k in ("content", "file_id") if item.get(k) is not None]
            if len(given) != 1:
                raise BadRequestError(
                    f"kwargs.documents[{i}] needs exactly one of content and file_id", param=f"kwargs.documents.{i}"
                )
            content = item["content"] if given == ["content"] else {"uri": item["file_id"]}
            documents.append(_document({**item, "content": content}, f"kwargs.documents.{i}"))
        size = kwargs.get("chunk_size_in_tokens")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise BadRequestError("kwargs.chunk_size_in_tokens must be a positive integer", param="kwargs")
        inserted = await self.inserter.insert(store_id, documents, size)
        total = sum(v.get("chunks", 0) for v in inserted.values() if isinstance(v, dict))
        text = f"Inserted {len(documents)} documents into vector store {store_id} ({total} text chunks"
        text += f", {len(inserted) - sum('chunks' in v for v in inserted.values())} files)."
        return ToolInvocationResult(content=text, metadata={"vector_store_id": store_id, "documents": inserted})

    # -- the RAGToolProvider protocol ----------------------------------------------------------------------------

    async def rag_tool_insert(self, request: RAGInsertRequest) -> None:
        await self.inserter.insert(request.vector_db_id, request.documents, request.chunk_size_in_tokens)

    async def rag_tool_query(self, request: RAGQueryRequest) -> RAGQueryResult:
        config = request.query_config or RAGQueryConfig()
        if config.query_generator_config.type != "default":
            raise BadRequestError(
                "query_config.query_generator_config: only the default generator is served (query rewriting is off)",
                param="query_config.query_generator_config",
            )
        query = content_text(request.content).strip()
        if not query:
            raise BadRequestError("content must hold some text to search for", param="content")
        ranker = config.ranker
        options = SearchOptions(
            max_results=min(config.max_chunks, 50),
            mode=config.mode or "vector",
            ranker=ranker.type if ranker is not None else None,
            alpha=getattr(ranker, "alpha", None),
        )
        hits = await search(self.vector_io, request.vector_db_ids, query, options)
        items, kept, budget = [], [], config.max_tokens_in_context
        for i, hit in enumerate(hits, start=1):
            text = render_template(config.chunk_template, i, hit)
            cost = count_tokens(text)
            if kept and cost > budget:
                break
            budget -= cost
            items.append({"type": "text", "text": text})
            kept.append(hit)
        header = {"type": "text", "text": f"knowledge_search found {len(kept)} chunks:\n--- results begin ---\n"}
        footer = {"type": "text", "text": f"--- results end ---\nRetrieved for the query {query!r}.\n"}
        return RAGQueryResult(
            content=[header, *items, footer] if kept else None,
            metadata={
                "document_ids": [h.document_id for h in kept],
                "chunks": [h.text for h in kept],
                "scores": [h.score for h in kept],
                "sources": [h.provenance() for h in kept],
            },
        )

    async def health(self) -> dict[str, Any]:
        return {"status": "OK", "tool_groups": sorted(self.groups)}


def _store_ids(source: dict[str, Any], where: str) -> list[str] | None:
    for key in ("vector_store_ids", "vector_db_ids"):
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise BadRequestError(f"{where}.{key} must be a list of vector store ids", param=f"{where}.{key}")
        return value
    return None


def _document(item: dict[str, Any], where: str) -> RAGDocument:
    try:
        return RAGDocument.model_validate({k: v for k, v in item.items() if k != "file_id"})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequestError(
            f"{where}.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", param=where
        ) from None


async def create_provider(config: RAGRuntimeConfig, deps: dict[Api, Any]) -> RAGToolRuntime:
    return RAGToolRuntime(config, deps)
