"""Entry point of llama-stack-provider-llama-guard (group ``llama_stack``): hook implementations only, cheap to
import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, LlamaGuardConfig


@hookimpl
def register_safety_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.safety,
            provider_type=PROVIDER_TYPE,
            config_class=LlamaGuardConfig,
            factory="llama_stack_provider_llama_guard.provider:create_provider",
            api_dependencies=(Api.inference,),
            description="Llama Guard 3 shields and moderations, classified by any registered model through the "
            "Inference API.",
        )
    ]
