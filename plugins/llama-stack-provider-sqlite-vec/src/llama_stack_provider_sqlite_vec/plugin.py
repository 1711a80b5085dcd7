"""Entry point of llama-stack-provider-sqlite-vec (group ``llama_stack``, see pyproject.toml).

Hook implementations only. Cheap to import: the SQLite binding and sqlite-vec are imported by provider.py, which the
stack imports (through ``factory``) only when a run config uses the provider.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, SqliteVecConfig


@hookimpl
def register_vector_io_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.vector_io,
            provider_type=PROVIDER_TYPE,
            config_class=SqliteVecConfig,
            factory="llama_stack_provider_sqlite_vec.provider:create_provider",
            api_dependencies=(Api.inference,),
            optional_api_dependencies=(Api.files,),
            description="Embedded vector stores in one SQLite file: sqlite-vec (cosine KNN), FTS5 keyword search "
            "(bm25), hybrid, attribute filters.",
            core_api_version=">=1.0,<2",
        )
    ]
