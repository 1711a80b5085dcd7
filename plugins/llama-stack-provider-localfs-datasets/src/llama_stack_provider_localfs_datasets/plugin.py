"""Entry point of llama-stack-provider-localfs-datasets (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import. The provider (provider.py) and pyarrow are imported only when a run
config uses ``inline::localfs`` for datasetio (pyarrow only when a CSV or Parquet file is read).
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, LocalFSDatasetsConfig


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.datasetio,
            provider_type=PROVIDER_TYPE,
            config_class=LocalFSDatasetsConfig,
            factory="llama_stack_provider_localfs_datasets.provider:create_provider",
            optional_api_dependencies=(Api.files,),
            description="Datasets from inline rows, local files and Files API uploads (CSV, JSONL, JSON, Parquet); "
            "appended rows in the stack's store.",
            core_api_version=">=1.0,<2",
        )
    ]
