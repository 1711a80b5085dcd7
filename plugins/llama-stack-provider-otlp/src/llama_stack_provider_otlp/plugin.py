"""Entry point of llama-stack-provider-otlp (group ``llama_stack``, see pyproject.toml).

Hook implementations only. Cheap to import: the OpenTelemetry SDK is imported by provider.py, which the stack imports
(through ``factory``) only when a run config uses the provider.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, OTLPConfig


@hookimpl
def register_telemetry_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.telemetry,
            provider_type=PROVIDER_TYPE,
            config_class=OTLPConfig,
            factory="llama_stack_provider_otlp.provider:create_provider",
            description="Exports request spans and token-usage metrics to an OpenTelemetry collector (OTLP/HTTP); "
            "export only: trace and metric queries answer 501.",
            core_api_version=">=1.0,<2",
            capabilities=frozenset({"export"}),
        )
    ]
