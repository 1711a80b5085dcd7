"""Entry point of llama-stack-provider-llama-cpp (group ``llama_stack``, see pyproject.toml).

Cheap to import: it declares the provider and its default models; ``llama_cpp`` is imported only by ``provider.py``,
which the stack imports (through ``factory``) when a run config uses the provider.
"""

from __future__ import annotations

from pydantic import BaseModel

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import LlamaCppConfig

PROVIDER_TYPE = "inline::llama-cpp"


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=LlamaCppConfig,
            factory="llama_stack_provider_llama_cpp.provider:create_provider",
            description="Local text generation from GGUF models with llama-cpp-python (packaged: gemma-3-270m, SmolLM2-135M-Instruct).",
            core_api_version=">=1.0,<2",
        )
    ]


@hookimpl
def register_models(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterModelRequest] | None:
    if provider_type != PROVIDER_TYPE or not isinstance(config, LlamaCppConfig):
        return None
    return [
        RegisterModelRequest(
            model_id=model_id,
            provider_model_id=model_id,
            model_type=ModelType.llm,
            metadata={"context_length": config.n_ctx},
        )
        for model_id in config.models
    ]
