"""``remote::sambanova`` on the core's OpenAI-compatible adapter. Only what differs from OpenAI is here.

Sources: https://docs.sambanova.ai/docs/en/features/openai-compatibility ("Currently unsupported OpenAI features",
"Feature differences") and the API reference (chat, completions, embeddings, models at
``https://api.sambanova.ai/v1`` with ``Authorization: Bearer <key>``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from llama_stack_core.apis.inference import ChatCompletionRequest, EmbeddingsRequest
from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.embeddings import floats_to_base64
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import SambaNovaConfig

MAX_CHOICES = 8
#: SambaNova's embedding models and their vector sizes (its model list does not say).
EMBEDDING_DIMENSIONS = {"E5-Mistral-7B-Instruct": 4096}


class SambaNovaInference(OpenAICompatInference):
    provider_data_api_key = "sambanova_api_key"
    # SambaNova accepts and ignores these chat fields: dropped, so the log says they had no effect
    unsupported_params: ClassVar[dict[Operation, frozenset[str]]] = {
        "chat": frozenset({"presence_penalty", "frequency_penalty", "logit_bias"})
    }

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        if operation == "embeddings":
            # SambaNova's embeddings take only `model` and `input`: floats come back, base64 is encoded here
            body.pop("encoding_format", None)
        return super().adapt(operation, body)

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> bytes | AsyncIterator[bytes]:
        choices = request.n or 1
        if choices > MAX_CHOICES:
            # SambaNova: n is 1 to 8
            raise BadRequestError(
                f"sambanova returns at most {MAX_CHOICES} choices: n must be 1 to {MAX_CHOICES}", param="n"
            )
        if choices > 1 and request.tools:
            # SambaNova answers 400 to n > 1 with tools
            raise BadRequestError("sambanova cannot return several choices with tools: use n=1", param="n")
        return await super().openai_chat_completion(request)

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        if request.dimensions is not None:
            raise BadRequestError(
                "sambanova: embedding models return their native size; 'dimensions' is not supported",
                param="dimensions",
            )
        answer = await super().openai_embeddings(request)
        return floats_to_base64(answer) if request.encoding_format == "base64" else answer

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # SambaNova's GET /models lists its embedding and speech-to-text (Whisper) models with the chat ones
        model_id = entry["id"]
        if model_id in EMBEDDING_DIMENSIONS:
            return RegisterModelRequest(
                model_id=model_id,
                model_type=ModelType.embedding,
                metadata={"embedding_dimension": EMBEDDING_DIMENSIONS[model_id]},
            )
        if "whisper" in model_id.lower():
            return None
        metadata = {"context_length": entry["context_length"]} if isinstance(entry.get("context_length"), int) else {}
        return RegisterModelRequest(model_id=model_id, model_type=ModelType.llm, metadata=metadata)


def create_provider(config: SambaNovaConfig, deps: dict[Api, Any]) -> SambaNovaInference:
    return SambaNovaInference(config, name="sambanova")
