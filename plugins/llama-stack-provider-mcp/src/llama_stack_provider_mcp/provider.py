"""``remote::model-context-protocol``: the tools of MCP servers (one server per tool group), listed and invoked
through the official ``mcp`` SDK, with a pool of open sessions per group."""

from __future__ import annotations

import logging
from typing import Any

from mcp import Client, MCPError

from llama_stack_core.apis.common import DataList, ToolDef
from llama_stack_core.apis.resources import ToolGroup
from llama_stack_core.apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolInvocationResult
from llama_stack_core.errors import BadRequestError, NotFoundError, UpstreamError

from .config import MCPConfig
from .content import invocation_result, tool_def
from .endpoints import HttpServer, checked_http_server, request_headers, server_of, shown_uri
from .sessions import SessionPool, one_shot

log = logging.getLogger(__name__)


async def create_provider(config: MCPConfig, deps: dict[Any, Any]) -> MCPToolRuntime:
    return MCPToolRuntime(config)


async def _list_tools(client: Client) -> list[ToolDef]:
    tools: list[ToolDef] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(tool_def(tool) for tool in page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


class MCPToolRuntime:
    """Tool groups backed by MCP servers (streamable HTTP or stdio)."""

    def __init__(self, config: MCPConfig) -> None:
        self.config = config
        self._pools: dict[str, SessionPool] = {}

    # -- groups ------------------------------------------------------------------------------------------------

    async def register_tool_group(self, tool_group: ToolGroup) -> None:
        server = server_of(tool_group)
        key = tool_group.provider_resource_id or tool_group.identifier
        old = self._pools.pop(key, None)
        if old is not None:
            await old.close()
        self._pools[key] = SessionPool(server, self.config, f"tool group '{tool_group.identifier}'")
        log.info("MCP tool group %s registered (%s)", tool_group.identifier, server.shown)

    async def unregister_tool_group(self, tool_group: ToolGroup) -> None:
        pool = self._pools.pop(tool_group.provider_resource_id or tool_group.identifier, None)
        if pool is not None:
            await pool.close()

    async def shutdown(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def health(self) -> dict[str, Any]:
        return {"status": "OK"}

    def _pool(self, group_id: str | None) -> SessionPool:
        if not group_id:
            raise BadRequestError("toolgroup_id is required to invoke an MCP tool", param="toolgroup_id")
        pool = self._pools.get(group_id)
        if pool is None:
            raise NotFoundError(f"MCP tool group '{group_id}' is not registered on this provider")
        return pool

    @staticmethod
    def _extra_headers(pool: SessionPool) -> dict[str, str]:
        return request_headers(pool.server.uri) if isinstance(pool.server, HttpServer) else {}

    # -- tools -------------------------------------------------------------------------------------------------

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        if request.tool_group_id is None:
            if request.mcp_endpoint is None:
                raise BadRequestError("give tool_group_id or mcp_endpoint", param="tool_group_id")
            server = await checked_http_server(request.mcp_endpoint.uri)
            label = f"endpoint {shown_uri(server.uri)}"
            tools = await self._upstream(
                label, one_shot(server, request_headers(server.uri), self.config, label, _list_tools)
            )
            return DataList[ToolDef](data=tools)
        pool = self._pool(request.tool_group_id)
        tools = await self._upstream(pool.label, pool.request(_list_tools, self._extra_headers(pool)))
        return DataList[ToolDef](data=tools)

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        async def call(client: Client) -> Any:
            return await client.call_tool(request.tool_name, request.kwargs)

        if request.toolgroup_id is None and request.mcp_endpoint is not None:
            server = await checked_http_server(request.mcp_endpoint.uri)
            label = f"endpoint {shown_uri(server.uri)}"
            result = await self._upstream(
                label, one_shot(server, request_headers(server.uri), self.config, label, call)
            )
            return invocation_result(result)
        pool = self._pool(request.toolgroup_id)
        result = await self._upstream(pool.label, pool.request(call, self._extra_headers(pool)))
        return invocation_result(result)

    @staticmethod
    async def _upstream(label: str, pending: Any) -> Any:
        """Await a request; a JSON-RPC error from the server -> ``UpstreamError`` naming the group."""
        try:
            return await pending
        except MCPError as exc:
            raise UpstreamError(f"MCP server of {label} answered an error ({exc.code}): {exc.message}") from None
