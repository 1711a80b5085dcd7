"""The tools of one response: what the model is offered, and how the engine runs the ones it serves itself
(``file_search`` over vector stores, ``web_search`` through the search tool group, ``mcp`` servers through the tool
runtime). ``function`` tools are the caller's: a call to one ends the response for the caller to answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..access import check_url
from ..apis.common import DataList, ToolDef
from ..apis.resources import URL
from ..apis.responses import FileSearchTool, FunctionTool, McpTool, ResponseTool, WebSearchTool
from ..apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolInvocationResult
from ..apis.vector_io import VectorStoreSearchPage, VectorStoreSearchRequest
from ..errors import BadRequestError, NotConfiguredError, StackError
from ..request_context import PROVIDER_DATA
from ..routing import ApiRouter
from .items import new_id

WEB_SEARCH_GROUP = "builtin::websearch"

_QUERY_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to search for."}},
    "required": ["query"],
}


def _function(name: str, description: str | None, parameters: dict[str, Any] | None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": parameters or {"type": "object", "properties": {}}}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


@dataclass
class ServedTool:
    """A tool the engine runs: which kind, and the response tool that declared it."""

    kind: str  # file_search | web_search | mcp
    name: str
    spec: FileSearchTool | WebSearchTool | McpTool


@dataclass
class ToolOutcome:
    """A served tool's result: the output item, and the text the model reads as the tool's answer."""

    item: dict[str, Any]
    text: str
    failed: bool = False


@dataclass
class ToolSet:
    chat_tools: list[dict[str, Any]] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    served: dict[str, ServedTool] = field(default_factory=dict)
    #: items the response starts with (an ``mcp_list_tools`` per MCP server)
    listings: list[dict[str, Any]] = field(default_factory=list)

    def _offer(self, definition: dict[str, Any]) -> None:
        name = definition["function"]["name"]
        if name in self.functions or name in self.served:
            raise BadRequestError(f"tools: two tools are named '{name}'", param="tools")
        self.chat_tools.append(definition)


@contextlib.contextmanager
def mcp_headers(spec: McpTool) -> Iterator[None]:
    """The MCP server's headers (and ``authorization``) as per-request provider data for the tool runtime."""
    headers = {str(k): str(v) for k, v in (spec.headers or {}).items()}
    if spec.authorization:
        headers["Authorization"] = f"Bearer {spec.authorization}"
    if not headers or not spec.server_url:
        yield
        return
    current = dict(PROVIDER_DATA.get() or {})
    merged = {**(current.get("mcp_headers") or {}), spec.server_url: headers}
    token = PROVIDER_DATA.set({**current, "mcp_headers": merged})
    try:
        yield
    finally:
        PROVIDER_DATA.reset(token)


def _allowed(spec: McpTool, name: str) -> bool:
    allowed = spec.allowed_tools
    if allowed is None:
        return True
    names = allowed if isinstance(allowed, list) else allowed.get("tool_names")
    return names is None or name in names


def needs_approval(spec: McpTool, name: str) -> bool:
    rule = spec.require_approval
    if rule == "never":
        return False
    if rule == "always":
        return True
    never = (rule.get("never") or {}).get("tool_names") or []
    always = (rule.get("always") or {}).get("tool_names")
    if name in never:
        return False
    return always is None or name in always


class Tools:
    """Builds a response's :class:`ToolSet` and runs its served tools through the stack's routers."""

    def __init__(self, tool_runtime: ApiRouter | None, vector_io: ApiRouter | None) -> None:
        self._tool_runtime = tool_runtime
        self._vector_io = vector_io

    def _runtime(self, what: str) -> ApiRouter:
        if self._tool_runtime is None:
            raise NotConfiguredError(f"{what} tools need the tool_runtime API, which this stack does not serve")
        return self._tool_runtime

    async def toolset(self, tools: list[ResponseTool] | None) -> ToolSet:
        toolset = ToolSet()
        for tool in tools or ():
            if isinstance(tool, FunctionTool):
                toolset._offer(_function(tool.name, tool.description, tool.parameters))
                toolset.functions.add(tool.name)
            elif isinstance(tool, FileSearchTool):
                if self._vector_io is None:
                    raise NotConfiguredError("file_search needs the vector_io API, which this stack does not serve")
                for store in tool.vector_store_ids:
                    await self._vector_io.resolve("vector_db", store)  # an unknown store is a 404 now
                toolset._offer(_function("file_search", "Search the attached files.", _QUERY_SCHEMA))
                toolset.served["file_search"] = ServedTool("file_search", "file_search", tool)
            elif isinstance(tool, WebSearchTool):
                self._runtime("web_search")
                toolset._offer(_function("web_search", "Search the web.", _QUERY_SCHEMA))
                toolset.served["web_search"] = ServedTool("web_search", "web_search", tool)
            elif isinstance(tool, McpTool):
                await self._add_mcp(toolset, tool)
        return toolset

    async def _add_mcp(self, toolset: ToolSet, spec: McpTool) -> None:
        if not spec.server_url:
            raise BadRequestError("tools: an mcp tool needs server_url here (connectors are not served)", param="tools")
        runtime = self._runtime("mcp")
        await check_url(spec.server_url, "tools: server_url", "tools")
        request = ListRuntimeToolsRequest(mcp_endpoint=URL(uri=spec.server_url))
        with mcp_headers(spec):
            listed = await runtime.call_as("list_runtime_tools", request, DataList[ToolDef])
        tools = [t for t in listed.data if _allowed(spec, t.name)]
        for tool in tools:
            toolset._offer(_function(tool.name, tool.description, tool.input_schema))
            toolset.served[tool.name] = ServedTool("mcp", tool.name, spec)
        toolset.listings.append(
            {
                "type": "mcp_list_tools",
                "id": new_id("mcpl"),
                "server_label": spec.server_label,
                "tools": [
                    {"name": t.name, "description": t.description, "input_schema": t.input_schema or {}} for t in tools
                ],
            }
        )

    # -- running ---------------------------------------------------------------------------------------------------

    async def run(
        self, served: ServedTool, arguments: str, include: set[str], sources: list[dict[str, Any]]
    ) -> ToolOutcome:
        """Run a served tool; a failure becomes a failed item and an error text the model reads. ``file_search``
        numbers its results after the response's earlier ``sources`` and adds them there (the model cites [n])."""
        try:
            kwargs = orjson.loads(arguments or "{}")
            if not isinstance(kwargs, dict):
                raise ValueError("the arguments are not a JSON object")
        except ValueError as exc:
            message = f"invalid arguments: {exc}"
            return self._failed(served, arguments, message, _execution_error(message))
        try:
            if served.kind == "file_search":
                return await self._file_search(served.spec, kwargs, include, sources)  # type: ignore[arg-type]
            if served.kind == "web_search":
                return await self._web_search(kwargs)
            return await self._mcp(served, arguments, kwargs)
        except StackError as exc:
            error = {"type": "http_error", "code": exc.status_code, "message": exc.message}
            return self._failed(served, arguments, exc.message, error)

    def _failed(self, served: ServedTool, arguments: str, message: str, error: dict[str, Any]) -> ToolOutcome:
        item = pending_item(served, arguments)
        item["status"] = "failed"
        if served.kind == "mcp":
            item["error"] = error
        return ToolOutcome(item, f"error: {message}", failed=True)

    async def _mcp(self, served: ServedTool, arguments: str, kwargs: dict[str, Any]) -> ToolOutcome:
        spec = served.spec
        assert isinstance(spec, McpTool) and spec.server_url
        request = InvokeToolRequest(tool_name=served.name, kwargs=kwargs, mcp_endpoint=URL(uri=spec.server_url))
        with mcp_headers(spec):
            result = await self._runtime("mcp").call_as("invoke_tool", request, ToolInvocationResult)
        item = pending_item(served, arguments)
        text = content_text(result.content)
        if result.error_message:
            item["error"], item["status"] = _execution_error(result.error_message), "failed"
            return ToolOutcome(item, f"error: {result.error_message}", failed=True)
        item["output"], item["status"] = text, "completed"
        return ToolOutcome(item, text)

    async def _web_search(self, kwargs: dict[str, Any]) -> ToolOutcome:
        query = str(kwargs.get("query", ""))
        request = InvokeToolRequest(tool_name="web_search", kwargs={"query": query}, toolgroup_id=WEB_SEARCH_GROUP)
        result = await self._runtime("web_search").call_as("invoke_tool", request, ToolInvocationResult)
        item = {
            "type": "web_search_call",
            "id": new_id("ws"),
            "status": "failed" if result.error_message else "completed",
            "action": {"type": "search", "query": query},
        }
        if result.error_message:
            return ToolOutcome(item, f"error: {result.error_message}", failed=True)
        return ToolOutcome(item, content_text(result.content))

    async def _file_search(
        self, spec: FileSearchTool, kwargs: dict[str, Any], include: set[str], sources: list[dict[str, Any]]
    ) -> ToolOutcome:
        assert self._vector_io is not None
        query = str(kwargs.get("query", ""))
        limit = spec.max_num_results or 10
        hits = []
        for store in spec.vector_store_ids:
            request = VectorStoreSearchRequest.model_validate(
                {
                    "vector_store_id": store,
                    "query": query,
                    "filters": spec.filters,
                    "max_num_results": limit,
                    "ranking_options": spec.ranking_options,
                }
            )
            page = await self._vector_io.call_as("openai_search_vector_store", request, VectorStoreSearchPage)
            hits.extend(page.data)
        hits.sort(key=lambda hit: hit.score, reverse=True)
        hits = hits[:limit]
        results = [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "attributes": hit.attributes or {},
                "text": "".join(part.text for part in hit.content),
            }
            for hit in hits
        ]
        item = {
            "type": "file_search_call",
            "id": new_id("fs"),
            "status": "completed",
            "queries": [query],
            "results": results if "file_search_call.results" in include else None,
        }
        lines = [f"file_search found {len(results)} results for {query!r}. Cite a result as [n]."]
        for result in results:
            sources.append({"file_id": result["file_id"], "filename": result["filename"]})
            lines.append(f"[{len(sources)}] (file {result['filename']})\n{result['text']}")
        return ToolOutcome(item, "\n\n".join(lines))


def _execution_error(message: str) -> dict[str, Any]:
    """An ``mcp_call``'s ``error`` for a tool that ran and failed (OpenAI's ``mcp_tool_execution_error``)."""
    return {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": message}]}


def _query(arguments: str) -> str:
    """The ``query`` argument of a search call, best effort (the arguments may not be JSON at all)."""
    try:
        kwargs = orjson.loads(arguments or "{}")
    except ValueError:
        return ""
    return str(kwargs.get("query", "")) if isinstance(kwargs, dict) else ""


def pending_item(served: ServedTool, arguments: str) -> dict[str, Any]:
    """The output item of a served call before it has run, complete in OpenAI's shape (status ``in_progress``)."""
    if served.kind == "mcp":
        assert isinstance(served.spec, McpTool)
        return {
            "type": "mcp_call",
            "id": new_id("mcp"),
            "name": served.name,
            "arguments": arguments,
            "server_label": served.spec.server_label,
            "output": None,
            "error": None,
            "status": "in_progress",
        }
    if served.kind == "file_search":
        return {"type": "file_search_call", "id": new_id("fs"), "status": "in_progress", "queries": [_query(arguments)]}
    action = {"type": "search", "query": _query(arguments)}
    return {"type": "web_search_call", "id": new_id("ws"), "status": "in_progress", "action": action}


def content_text(content: Any) -> str:
    """A tool result's content as text for the model (text items joined; an image is named, not inlined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        content = [content]
    texts = []
    for part in content:
        data = part.model_dump() if hasattr(part, "model_dump") else part
        texts.append(data.get("text") or f"[{data.get('type', 'content')}]")
    return "\n".join(texts)
