"""Entry point of llama-stack-provider-mcp (group ``llama_stack``): hook implementations only, cheap to import (the
MCP SDK is imported by provider.py, only when a run config uses the provider)."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, MCPConfig


@hookimpl
def register_tool_runtime_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.tool_runtime,
            provider_type=PROVIDER_TYPE,
            config_class=MCPConfig,
            factory="llama_stack_provider_mcp.provider:create_provider",
            # The router's MCP_ENDPOINT_CAPABILITY: list-tools with an mcp_endpoint and no group comes here.
            capabilities=frozenset({"mcp_endpoint"}),
            description="Model Context Protocol servers (streamable HTTP or stdio) as tool groups (mcp::<name>).",
        )
    ]
