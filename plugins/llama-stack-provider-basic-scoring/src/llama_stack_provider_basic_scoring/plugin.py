"""Entry point of llama-stack-provider-basic-scoring (group ``llama_stack``): hook implementations only, cheap to
import."""

from __future__ import annotations

from llama_stack_core.apis.resources import RegisterScoringFunctionRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, BasicScoringConfig
from .functions import default_functions


@hookimpl
def register_scoring_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.scoring,
            provider_type=PROVIDER_TYPE,
            config_class=BasicScoringConfig,
            factory="llama_stack_provider_basic_scoring.provider:create_provider",
            description="Scoring without a model: exact match, subset, multiple-choice and math answer parsing, "
            "IFEval-style instruction checks.",
        )
    ]


@hookimpl
def register_scoring_fns(
    provider_type: str, provider_id: str, config: BasicScoringConfig
) -> list[RegisterScoringFunctionRequest] | None:
    """The five built-in functions, under their upstream ids (basic::equality, ...)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return default_functions()
