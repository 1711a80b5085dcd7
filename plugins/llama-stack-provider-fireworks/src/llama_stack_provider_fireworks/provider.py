"""``remote::fireworks`` on the core's OpenAI-compatible adapter. Only what differs from OpenAI is here.

Fireworks documents its API as a drop-in for OpenAI's (https://fireworks.ai/docs/tools-sdks/openai-compatibility):
chat completions, completions, embeddings and ``GET /models``, with ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.inference.openai_compat import OpenAICompatInference

from .config import FireworksConfig


class FireworksInference(OpenAICompatInference):
    provider_data_api_key = "fireworks_api_key"

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # Fireworks' GET /models adds kind, supports_chat and context_length to each OpenAI model entry
        metadata = {"context_length": entry["context_length"]} if isinstance(entry.get("context_length"), int) else {}
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm, metadata=metadata)


def create_provider(config: FireworksConfig, deps: dict[Api, Any]) -> FireworksInference:
    return FireworksInference(config, name="fireworks")
