"""Entry point of llama-stack-provider-localfs-files (group ``llama_stack``, see pyproject.toml).

Hook implementations only; cheap to import. The provider itself (provider.py) is imported through ``factory`` only
when a run config uses ``inline::localfs``.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, LocalFSFilesConfig


@hookimpl
def register_files_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.files,
            provider_type=PROVIDER_TYPE,
            config_class=LocalFSFilesConfig,
            factory="llama_stack_provider_localfs_files.provider:create_provider",
            description="OpenAI Files API: bytes in a local or shared directory, metadata in the stack's store.",
            core_api_version=">=1.0,<2",
        )
    ]
