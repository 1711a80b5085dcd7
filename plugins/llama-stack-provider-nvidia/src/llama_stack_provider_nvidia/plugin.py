"""Entry point of llama-stack-provider-nvidia (group ``llama_stack``): hook implementations only, cheap to import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, NVIDIAConfig


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=NVIDIAConfig,
            factory="llama_stack_provider_nvidia.provider:create_provider",
            description="NVIDIA NIM, hosted (integrate.api.nvidia.com) or self-hosted: chat, completions and "
            "retrieval embeddings (input_type/truncate added).",
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
                    "embeddings",
                    "embeddings_base64",
                }
            ),
        )
    ]
