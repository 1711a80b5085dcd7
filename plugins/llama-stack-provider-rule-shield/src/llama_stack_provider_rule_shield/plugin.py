"""Entry point of llama-stack-provider-rule-shield (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import (the detectors are compiled by provider.py when a run config uses it).
"""

from __future__ import annotations

from llama_stack_core.apis.resources import RegisterShieldRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import DEFAULT_SHIELD, PROVIDER_TYPE, RuleShieldConfig


@hookimpl
def register_safety_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.safety,
            provider_type=PROVIDER_TYPE,
            config_class=RuleShieldConfig,
            factory="llama_stack_provider_rule_shield.provider:create_provider",
            description="Offline rule shield: keyword and regex lists, PII and secret detectors (Luhn, IBAN mod-97, "
            "key prefixes, entropy), a prompt-injection heuristic, optional redaction. Needs no model.",
            core_api_version=">=1.0,<2",
        )
    ]


@hookimpl
def register_shields(
    provider_type: str, provider_id: str, config: RuleShieldConfig
) -> list[RegisterShieldRequest] | None:
    """One shield named like the provider id: the provider config as it is."""
    if provider_type != PROVIDER_TYPE or not config.register_default_shield:
        return None
    return [RegisterShieldRequest(shield_id=provider_id, provider_shield_id=DEFAULT_SHIELD)]
