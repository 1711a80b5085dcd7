"""Entry point of llama-stack-provider-moderation (group ``llama_stack``): hook implementations only, cheap to
import."""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, ModerationConfig


@hookimpl
def register_safety_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.safety,
            provider_type=PROVIDER_TYPE,
            config_class=ModerationConfig,
            factory="llama_stack_provider_moderation.provider:create_provider",
            description="Shields and moderations backed by a hosted OpenAI-compatible /v1/moderations endpoint.",
        )
    ]
