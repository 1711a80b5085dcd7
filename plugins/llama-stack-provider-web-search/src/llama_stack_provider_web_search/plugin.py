"""Entry point of llama-stack-provider-web-search (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from pydantic import BaseModel

from llama_stack_core.apis.resources import RegisterToolGroupRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import BRAVE_PROVIDER_TYPE, TAVILY_PROVIDER_TYPE, BraveSearchConfig, TavilySearchConfig

#: The tool group each configured provider registers by default.
DEFAULT_TOOL_GROUP = "builtin::websearch"


@hookimpl
def register_tool_runtime_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.tool_runtime,
            provider_type=TAVILY_PROVIDER_TYPE,
            config_class=TavilySearchConfig,
            factory="llama_stack_provider_web_search.provider:create_tavily_provider",
            description="Web search through Tavily's search API (the web_search tool of builtin::websearch).",
        ),
        ProviderSpec(
            api=Api.tool_runtime,
            provider_type=BRAVE_PROVIDER_TYPE,
            config_class=BraveSearchConfig,
            factory="llama_stack_provider_web_search.provider:create_brave_provider",
            description="Web search through Brave's Web Search API (the web_search tool of builtin::websearch).",
        ),
    ]


@hookimpl
def register_tool_groups(
    provider_type: str, provider_id: str, config: BaseModel
) -> list[RegisterToolGroupRequest] | None:
    if provider_type not in (TAVILY_PROVIDER_TYPE, BRAVE_PROVIDER_TYPE):
        return None
    return [RegisterToolGroupRequest(toolgroup_id=DEFAULT_TOOL_GROUP, provider_id=provider_id)]
