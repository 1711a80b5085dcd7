"""Entry point of llama-stack-provider-trace-store (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import. The provider (provider.py, and psycopg for a PostgreSQL backend) is
imported through ``factory`` only when a run config uses ``inline::trace-store``.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, TraceStoreConfig


@hookimpl
def register_telemetry_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.telemetry,
            provider_type=PROVIDER_TYPE,
            config_class=TraceStoreConfig,
            factory="llama_stack_provider_trace_store.provider:create_provider",
            optional_api_dependencies=(Api.datasetio,),
            description="Keeps the stack's request spans in SQL tables (SQLite or PostgreSQL): traces, span trees, "
            "span queries, token-usage metrics per model.",
            core_api_version=">=1.0,<2",
            capabilities=frozenset({"export", "query"}),
        )
    ]
