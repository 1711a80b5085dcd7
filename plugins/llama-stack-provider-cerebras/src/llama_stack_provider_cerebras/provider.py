"""``remote::cerebras`` on the core's OpenAI-compatible adapter. Only what differs from OpenAI is here.

Source: https://inference-docs.cerebras.ai/resources/openai ("Currently Unsupported OpenAI Features"): chat
completions, completions and ``GET /models`` at ``https://api.cerebras.ai/v1`` with ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llama_stack_core.apis.inference import EmbeddingsRequest
from llama_stack_core.apis.resources import Model, ModelType
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import CerebrasConfig


class CerebrasInference(OpenAICompatInference):
    provider_data_api_key = "cerebras_api_key"
    # Cerebras answers 400 to these chat fields: dropped (with a warning) so the rest of the request is served
    unsupported_params: ClassVar[dict[Operation, frozenset[str]]] = {
        "chat": frozenset(
            {"frequency_penalty", "presence_penalty", "logit_bias", "parallel_tool_calls", "service_tier"}
        )
    }

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        # Cerebras has no embeddings endpoint
        raise BadRequestError("cerebras does not serve embeddings; use an embedding provider", param="model")

    async def register_model(self, model: Model) -> None:
        if model.model_type != ModelType.llm:
            raise BadRequestError(f"cerebras serves text generation models only, not {model.model_type} models")


def create_provider(config: CerebrasConfig, deps: dict[Api, Any]) -> CerebrasInference:
    return CerebrasInference(config, name="cerebras")
