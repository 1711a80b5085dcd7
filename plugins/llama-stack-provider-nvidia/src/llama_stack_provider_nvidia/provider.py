"""``remote::nvidia``: the core's OpenAI-compatible adapter plus what NVIDIA NIM does differently.

NIM for LLMs serves OpenAI's chat completions, completions and models APIs (docs.nvidia.com/nim/large-language-models,
"API Reference"), so those pass through. NIM's retrieval embedding models take two more fields, ``input_type``
(``query`` or ``passage``) and ``truncate`` (``NONE``, ``START``, ``END``; docs.nvidia.com/nim/nemo-retriever,
"API Reference"), added here from the config when the request names none.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import NVIDIAConfig

log = logging.getLogger(__name__)

#: Embedding models of NVIDIA's catalog: GET /v1/models lists them without their dimension (NIM model cards).
EMBEDDING_MODELS: dict[str, dict[str, int]] = {
    "nvidia/llama-3.2-nv-embedqa-1b-v2": {"embedding_dimension": 2048, "context_length": 8192},
    "nvidia/nv-embedqa-e5-v5": {"embedding_dimension": 1024, "context_length": 512},
    "nvidia/nv-embedqa-mistral-7b-v2": {"embedding_dimension": 4096, "context_length": 512},
    "snowflake/arctic-embed-l": {"embedding_dimension": 1024, "context_length": 512},
}


class NVIDIAInference(OpenAICompatInference):
    # Per-request key: X-LlamaStack-Provider-Data: {"nvidia_api_key": "nvapi-..."}.
    provider_data_api_key = "nvidia_api_key"

    def __init__(self, config: NVIDIAConfig, name: str) -> None:
        super().__init__(config, name)
        self.config: NVIDIAConfig = config
        # The hosted API catalog needs an nvapi- key (Bearer); a self-hosted NIM container takes none.
        self.requires_api_key = (urlparse(config.base_url).hostname or "").endswith("api.nvidia.com")

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        if operation == "embeddings":
            if not _is_text(body["input"]):  # NIM embeds a string or a list of strings, not token ids
                raise BadRequestError(
                    "NVIDIA NIM embeds text: input must be a string or a list of strings, not token ids", param="input"
                )
            body.setdefault("input_type", self.config.embedding_input_type)  # asymmetric models require it
            body.setdefault("truncate", self.config.embedding_truncate)
        return super().adapt(operation, body)

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        model_id = entry["id"]
        if model_id in EMBEDDING_MODELS:
            return RegisterModelRequest(
                model_id=model_id, model_type=ModelType.embedding, metadata=EMBEDDING_MODELS[model_id]
            )
        if "embed" in model_id or "rerank" in model_id:  # an embedding model of unknown dimension, or a reranker
            log.debug("%s: not registering listed model %s (not a chat model of known shape)", self.name, model_id)
            return None
        return RegisterModelRequest(model_id=model_id, model_type=ModelType.llm)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def create_provider(config: NVIDIAConfig, deps: dict[Api, Any]) -> NVIDIAInference:
    return NVIDIAInference(config, name="nvidia")
