"""Entry point of llama-stack-provider-rag (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import. The provider (provider.py) is imported through ``factory`` only when a
run config uses ``inline::rag-runtime``.
"""

from __future__ import annotations

from llama_stack_core.apis.resources import RegisterToolGroupRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import DEFAULT_TOOL_GROUP, PROVIDER_TYPE, RAGRuntimeConfig


@hookimpl
def register_tool_runtime_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.tool_runtime,
            provider_type=PROVIDER_TYPE,
            config_class=RAGRuntimeConfig,
            factory="llama_stack_provider_rag.provider:create_provider",
            description="The builtin::rag tool group: knowledge_search and knowledge_insert over vector stores.",
            core_api_version=">=1.0,<2",
            api_dependencies=(Api.vector_io,),
            optional_api_dependencies=(Api.inference,),
        )
    ]


@hookimpl
def register_tool_groups(
    provider_type: str, provider_id: str, config: RAGRuntimeConfig
) -> list[RegisterToolGroupRequest] | None:
    """``builtin::rag`` on this provider (unless the config turns it off)."""
    if provider_type != PROVIDER_TYPE or not config.default_tool_group:
        return None
    return [RegisterToolGroupRequest(toolgroup_id=DEFAULT_TOOL_GROUP)]
