"""``remote::together`` on the core's OpenAI-compatible adapter. Only what differs from OpenAI is here.

Sources: https://docs.together.ai/docs/inference/openai-compatibility (chat, completions, embeddings, models at
``https://api.together.ai/v1`` with ``Authorization: Bearer <key>``) and Together's API reference (request fields).
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.inference import EmbeddingsRequest
from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.embeddings import floats_to_base64
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import TogetherConfig

#: ``type`` values of Together's model list that chat and completions serve.
TEXT_MODEL_TYPES = frozenset({"chat", "language", "code"})


class TogetherInference(OpenAICompatInference):
    provider_data_api_key = "together_api_key"

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        if operation == "chat" and ("logprobs" in body or "top_logprobs" in body):
            # Together's chat `logprobs` is an integer (how many top tokens to return); it has no `top_logprobs`
            top, wanted = body.pop("top_logprobs", None), body.pop("logprobs", None)
            if wanted:
                body["logprobs"] = max(top or 0, 1)
        if operation == "embeddings":
            # Together's embeddings take only `model` and `input`: floats come back, base64 is encoded here
            body.pop("encoding_format", None)
        return super().adapt(operation, body)

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        if request.dimensions is not None:
            raise BadRequestError(
                "together: embedding models return their native size; 'dimensions' is not supported", param="dimensions"
            )
        answer = await super().openai_embeddings(request)
        return floats_to_base64(answer) if request.encoding_format == "base64" else answer

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # Together's GET /models answers a bare array; each entry has a `type` (chat, language, code, embedding,
        # image, audio, moderation, rerank) and `context_length`, but no embedding dimension
        if entry.get("type") not in TEXT_MODEL_TYPES:
            return None
        metadata = {"context_length": entry["context_length"]} if isinstance(entry.get("context_length"), int) else {}
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm, metadata=metadata)


def create_provider(config: TogetherConfig, deps: dict[Api, Any]) -> TogetherInference:
    return TogetherInference(config, name="together")
