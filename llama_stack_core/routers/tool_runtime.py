"""Tool runtime routing: the core lists each group's tools (``/v1/tools``), finds the group of an invoked tool,
checks the arguments against the tool's schema and bounds the call; providers only list and run their groups' tools.
"""

from __future__ import annotations

import logging
from typing import Any

from ..apis.common import DataList, ToolDef
from ..apis.resources import ToolGroup
from ..apis.tool_runtime import (
    GetToolRequest,
    InvokeToolRequest,
    ListRuntimeToolsRequest,
    ListToolsRequest,
    RAGInsertRequest,
    RAGQueryRequest,
    RAGQueryResult,
    RAGToolProvider,
    RegisteredTool,
    ToolInvocationResult,
)
from ..config.model import ToolRuntimeSettings
from ..errors import NotConfiguredError, ServiceUnavailableError, StackError
from ..owners import readable
from ..routing import ApiRouter, ProviderInstance, as_model, provider_method, serving
from ..tools.catalog import ToolCatalog
from ..tools.limits import InvocationGate

log = logging.getLogger(__name__)

RAG_TOOL_GROUP = "builtin::rag"
#: The capability a provider declares (ProviderSpec.capabilities) to list an MCP endpoint no group names.
MCP_ENDPOINT_CAPABILITY = "mcp_endpoint"


class ToolRuntimeRouter(ApiRouter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings if isinstance(self.settings, ToolRuntimeSettings) else ToolRuntimeSettings()
        self.catalog = ToolCatalog(self._list_group, settings.tool_list_ttl_seconds)
        self.gate = InvocationGate(settings)

    # -- groups and their tools ----------------------------------------------------------------------------------

    def _provider_of(self, group: ToolGroup) -> ProviderInstance:
        provider = self.providers.get(group.provider_id)
        if provider is None:
            raise ServiceUnavailableError(
                f"tool group '{group.identifier}' is served by provider '{group.provider_id}', which is not "
                "configured here"
            )
        return provider

    async def _list_group(self, group: ToolGroup) -> list[ToolDef]:
        list_tools = provider_method(self._provider_of(group), "list_runtime_tools")
        request = ListRuntimeToolsRequest(tool_group_id=group.provider_resource_id or group.identifier)
        return as_model(await list_tools(request), DataList[ToolDef]).data

    async def _group(self, identifier: str) -> ToolGroup:
        _, _, group = await self.resolve("tool_group", identifier)
        assert isinstance(group, ToolGroup)
        return group

    def _groups(self) -> list[ToolGroup]:
        groups = [g for g in self._resources.registry.cached_all("tool_group") if isinstance(g, ToolGroup)]
        self.catalog.forget({g.identifier for g in groups})
        return sorted(readable(groups, "tool_group", lambda g: (g.identifier, g.owner)), key=lambda g: g.identifier)

    async def _tools(self, toolgroup_id: str | None) -> list[RegisteredTool]:
        if toolgroup_id is not None:
            return [t.tool for t in await self.catalog.tools(await self._group(toolgroup_id))]
        tools = []
        for group in self._groups():
            try:
                tools.extend(t.tool for t in await self.catalog.tools(group))
            except StackError as exc:  # one unreachable server must not hide every other group's tools
                log.warning("tool group '%s' could not be listed: %s", group.identifier, exc.message)
        return tools

    # -- operations ----------------------------------------------------------------------------------------------

    async def list_tools(self, request: ListToolsRequest) -> DataList[RegisteredTool]:
        return DataList[RegisteredTool](data=await self._tools(request.toolgroup_id))

    async def get_tool(self, request: GetToolRequest) -> RegisteredTool:
        _, found = await self.catalog.find(request.tool_name, self._groups())
        return found.tool

    def _mcp_endpoint_provider(self) -> ProviderInstance:
        """The provider that reaches MCP servers no tool group names (it declares ``MCP_ENDPOINT_CAPABILITY``)."""
        for provider in self.providers.values():
            if MCP_ENDPOINT_CAPABILITY in provider.registered.spec.capabilities:
                return serving(provider)
        raise NotConfiguredError("no tool_runtime provider here can reach an MCP endpoint")

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        if request.tool_group_id is None and request.mcp_endpoint is not None:
            list_tools = provider_method(self._mcp_endpoint_provider(), "list_runtime_tools")
            return as_model(await list_tools(request), DataList[ToolDef])
        tools = await self._tools(request.tool_group_id)
        return DataList[ToolDef](data=[ToolDef.model_validate(t.model_dump(exclude={"identifier"})) for t in tools])

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        if request.toolgroup_id is None and request.mcp_endpoint is not None:
            return await self._invoke_on_endpoint(request)
        groups = [await self._group(request.toolgroup_id)] if request.toolgroup_id else self._groups()
        group, found = await self.catalog.find(request.tool_name, groups)
        found.arguments.check(request.kwargs)
        invoke = provider_method(serving(self._provider_of(group)), "invoke_tool")
        routed = request.model_copy(update={"toolgroup_id": group.provider_resource_id or group.identifier})

        async def call() -> ToolInvocationResult:
            return as_model(await invoke(routed), ToolInvocationResult)

        return await self.gate.run(group, request.tool_name, call)

    async def _invoke_on_endpoint(self, request: InvokeToolRequest) -> ToolInvocationResult:
        """A tool of an MCP server no group names: the server checks the arguments; the default bounds apply."""
        invoke = provider_method(self._mcp_endpoint_provider(), "invoke_tool")
        endpoint = request.mcp_endpoint.uri if request.mcp_endpoint else ""
        group = ToolGroup(identifier=f"mcp endpoint {endpoint}", provider_id="", provider_resource_id=None)

        async def call() -> ToolInvocationResult:
            return as_model(await invoke(request), ToolInvocationResult)

        return await self.gate.run(group, request.tool_name, call)

    # -- the RAG tool --------------------------------------------------------------------------------------------

    async def _rag_provider(self) -> ProviderInstance:
        group = self._resources.registry.cached("tool_group", RAG_TOOL_GROUP)
        if group is not None and group.provider_id in self.providers:
            return serving(self.providers[group.provider_id])
        for provider in self.providers.values():
            if isinstance(provider.impl, RAGToolProvider):
                return serving(provider)
        raise NotConfiguredError("no tool_runtime provider here serves the RAG tool (builtin::rag)")

    async def rag_tool_insert(self, request: RAGInsertRequest) -> None:
        await provider_method(await self._rag_provider(), "rag_tool_insert")(request)

    async def rag_tool_query(self, request: RAGQueryRequest) -> RAGQueryResult:
        answer = await provider_method(await self._rag_provider(), "rag_tool_query")(request)
        return as_model(answer, RAGQueryResult)
