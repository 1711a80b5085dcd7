"""Entry point of llama-stack-provider-bedrock (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, BedrockConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=BedrockConfig,
            factory="llama_stack_provider_bedrock.provider:create_provider",
            description="Amazon Bedrock's OpenAI-compatible Chat Completions (bedrock-runtime, Bedrock API key); "
            "chat only.",
            capabilities=frozenset({"chat", "streaming", "max_tokens", "tools"}),
        )
    ]
