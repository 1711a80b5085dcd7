"""Entry point of llama-stack-provider-agents (group ``llama_stack``). Hook implementations only: the engine is
imported by the factories, when a run config uses a provider."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, AgentsConfig, ConversationsConfig, ResponsesConfig


@hookimpl
def register_conversations_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.conversations,
            provider_type=PROVIDER_TYPE,
            config_class=ConversationsConfig,
            factory="llama_stack_provider_agents.conversations:create_provider",
            description="Conversations and their items in the stack's store.",
        )
    ]


@hookimpl
def register_responses_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.responses,
            provider_type=PROVIDER_TYPE,
            config_class=ResponsesConfig,
            factory="llama_stack_provider_agents.responses:create_provider",
            api_dependencies=(Api.inference,),
            optional_api_dependencies=(Api.conversations, Api.vector_io, Api.tool_runtime, Api.safety),
            description="OpenAI Responses: the model run with function, file_search, MCP and web_search tools; "
            "stored responses, chaining, streaming, background runs.",
        )
    ]


@hookimpl
def register_agents_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.agents,
            provider_type=PROVIDER_TYPE,
            config_class=AgentsConfig,
            factory="llama_stack_provider_agents.agents:create_provider",
            api_dependencies=(Api.inference,),
            optional_api_dependencies=(Api.tool_runtime, Api.vector_io, Api.safety),
            description="The older Agents API (llama-stack-client 0.2): agents, sessions, turns with tool groups, "
            "client tools and shields, run on the Responses engine; state in the stack's store.",
        )
    ]
