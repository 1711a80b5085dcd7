"""Entry point of llama-stack-provider-huggingface-datasets (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import. The provider (provider.py) and the ``datasets`` library are imported
only when a run config uses ``remote::huggingface`` for datasetio.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, HuggingFaceDatasetsConfig


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.datasetio,
            provider_type=PROVIDER_TYPE,
            config_class=HuggingFaceDatasetsConfig,
            factory="llama_stack_provider_huggingface_datasets.provider:create_provider",
            description="Hugging Face datasets (hf://datasets/<org>/<name>?split=...) from the Hub, its local caches "
            "or local dataset directories, read page by page from Arrow; read-only.",
            core_api_version=">=1.0,<2",
        )
    ]
