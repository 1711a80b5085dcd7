"""Entry point of llama-stack-provider-sentence-transformers (group ``llama_stack``, see pyproject.toml).

Hook implementations only. Cheap to import: torch and sentence-transformers are imported by provider.py, which the
stack imports (through ``factory``) only when a run config uses the provider, and even then in a background thread.
"""

from __future__ import annotations

import logging

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import PROVIDER_TYPE, SentenceTransformersConfig, model_metadata

log = logging.getLogger(__name__)


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type=PROVIDER_TYPE,
            config_class=SentenceTransformersConfig,
            factory="llama_stack_provider_sentence_transformers.provider:create_provider",
            description="Embeddings from local sentence-transformers models (all-MiniLM-L6-v2 by default), offline.",
            core_api_version=">=1.0,<2",
            capabilities=frozenset({"embeddings", "embeddings_base64"}),
        )
    ]


@hookimpl
def register_models(
    provider_type: str, provider_id: str, config: SentenceTransformersConfig
) -> list[RegisterModelRequest] | None:
    """Every configured model, as an embedding model named like its config key."""
    if provider_type != PROVIDER_TYPE:
        return None
    requests = []
    for name, source in config.models.items():
        metadata = model_metadata(source)
        if metadata is None:
            log.warning(
                "%s: cannot tell the embedding dimension of model '%s' (%s) without loading it; register it "
                "with metadata.embedding_dimension to use it",
                provider_id,
                name,
                source,
            )
            continue
        requests.append(
            RegisterModelRequest(
                model_id=name, provider_model_id=name, model_type=ModelType.embedding, metadata=metadata
            )
        )
    return requests
