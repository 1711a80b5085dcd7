"""Entry point of llama-stack-provider-ollama (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, OllamaConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=OllamaConfig,
            factory="llama_stack_provider_ollama.provider:create_provider",
            description="A local Ollama server: chat, completions and embeddings through its OpenAI-compatible API; "
            "models listed through its native API.",
            # No "tools": Ollama calls tools when the model decides to, but cannot be forced (no tool_choice).
            capabilities=frozenset(
                {
                    "chat",
                    "streaming",
                    "stream_usage",
                    "max_tokens",
                    "completions",
                    "json_object",
                    "json_schema",
                    "logprobs",
                    "embeddings",
                    "embeddings_base64",
                }
            ),
        )
    ]
