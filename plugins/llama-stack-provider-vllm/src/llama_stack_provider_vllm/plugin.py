"""Entry point of llama-stack-provider-vllm (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, VLLMConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=VLLMConfig,
            factory="llama_stack_provider_vllm.provider:create_provider",
            description="A vLLM server's OpenAI-compatible API (chat, completions, embeddings); lists its models.",
            capabilities=frozenset(
                {
                    "chat",
                    "streaming",
                    "stream_usage",
                    "max_tokens",
                    "completions",
                    "tools",
                    "json_schema",
                    "json_object",
                    "n",
                    "logprobs",
                    "embeddings",
                    "embeddings_base64",
                }
            ),
        )
    ]
