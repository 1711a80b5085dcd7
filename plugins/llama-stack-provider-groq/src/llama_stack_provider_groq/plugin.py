"""Entry point of llama-stack-provider-groq (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, GroqConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=GroqConfig,
            factory="llama_stack_provider_groq.provider:create_provider",
            description="Groq (OpenAI-compatible): chat completions; no completions or embeddings.",
        )
    ]
