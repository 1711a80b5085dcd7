"""Entry point of llama-stack-provider-llm-as-judge (group ``llama_stack``): hook implementations only, cheap to
import."""

from __future__ import annotations

from llama_stack_core.apis.resources import RegisterScoringFunctionRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, LlmAsJudgeConfig
from .functions import default_functions


@hookimpl
def register_scoring_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.scoring,
            provider_type=PROVIDER_TYPE,
            config_class=LlmAsJudgeConfig,
            factory="llama_stack_provider_llm_as_judge.provider:create_provider",
            api_dependencies=(Api.inference,),
            description="LLM-as-judge scoring: any model the stack serves grades each row from a prompt template; "
            "the score is read from its reply by regex or as JSON.",
        )
    ]


@hookimpl
def register_scoring_fns(
    provider_type: str, provider_id: str, config: LlmAsJudgeConfig
) -> list[RegisterScoringFunctionRequest] | None:
    """llm-as-judge::base and llm-as-judge::405b-simpleqa, judged by the config's default_judge_model if set."""
    if provider_type != PROVIDER_TYPE:
        return None
    return default_functions(config.default_judge_model)
