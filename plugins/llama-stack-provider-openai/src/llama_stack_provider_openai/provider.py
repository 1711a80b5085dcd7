"""``remote::openai`` on the core's OpenAI-compatible adapter: the reference API, so almost nothing to adapt.

Source: https://platform.openai.com/docs/api-reference (chat, completions, embeddings, models;
``Authorization: Bearer <key>``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import OpenAIConfig

#: OpenAI's embedding models and their default vector sizes (``dimensions`` can shorten the text-embedding-3 ones).
EMBEDDING_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
#: Parts of model ids that chat completions cannot serve (audio, image, moderation, realtime, video models).
NOT_FOR_CHAT = ("whisper", "tts", "transcribe", "realtime", "dall-e", "gpt-image", "moderation", "sora", "embedding")


class OpenAIInference(OpenAICompatInference):
    provider_data_api_key = "openai_api_key"
    # OpenAI defines max_completion_tokens itself (reasoning models refuse max_tokens): send it unchanged
    renamed_params: ClassVar[dict[Operation, dict[str, str]]] = {}

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # OpenAI's GET /models has no model type and lists every model the key may use, chat or not
        model_id = entry["id"]
        if model_id in EMBEDDING_DIMENSIONS:
            return RegisterModelRequest(
                model_id=model_id,
                model_type=ModelType.embedding,
                metadata={"embedding_dimension": EMBEDDING_DIMENSIONS[model_id]},
            )
        if any(part in model_id for part in NOT_FOR_CHAT):
            return None
        return RegisterModelRequest(model_id=model_id, model_type=ModelType.llm)


def create_provider(config: OpenAIConfig, deps: dict[Api, Any]) -> OpenAIInference:
    return OpenAIInference(config, name="openai")
