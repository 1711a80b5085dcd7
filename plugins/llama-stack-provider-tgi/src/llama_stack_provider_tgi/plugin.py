"""Entry point of llama-stack-provider-tgi (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, TGIConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=TGIConfig,
            factory="llama_stack_provider_tgi.provider:create_provider",
            description="Hugging Face Text Generation Inference: chat (Messages API) and completions for the one "
            "model the server runs; no embeddings.",
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
                    "logprobs",
                }
            ),
        )
    ]
