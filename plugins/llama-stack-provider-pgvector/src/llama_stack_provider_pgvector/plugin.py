"""Entry point of llama-stack-provider-pgvector (group ``llama_stack``, see pyproject.toml).

Hook implementations only. Cheap to import: psycopg and pgvector are imported by provider.py, which the stack
imports (through ``factory``) only when a run config uses the provider.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, PGVectorConfig


@hookimpl
def register_vector_io_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.vector_io,
            provider_type=PROVIDER_TYPE,
            config_class=PGVectorConfig,
            factory="llama_stack_provider_pgvector.provider:create_provider",
            api_dependencies=(Api.inference,),
            optional_api_dependencies=(Api.files,),
            description="Vector stores in PostgreSQL with pgvector: HNSW (cosine) vector search, full-text keyword "
            "search, hybrid, attribute filters in SQL; shared by any number of server processes.",
            core_api_version=">=1.0,<2",
        )
    ]
