"""``remote::groq`` on the core's OpenAI-compatible adapter. Only what differs from OpenAI is here.

Source: https://console.groq.com/docs/openai ("Currently Unsupported OpenAI Features"): chat completions and
``GET /models`` at ``https://api.groq.com/openai/v1`` with ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from llama_stack_core.apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
from llama_stack_core.apis.resources import Model, ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import GroqConfig

#: Model ids (prefixes) in Groq's list that chat completions cannot serve: speech-to-text and text-to-speech.
AUDIO_MODELS = ("whisper", "distil-whisper", "playai-tts")


class GroqInference(OpenAICompatInference):
    provider_data_api_key = "groq_api_key"
    # Groq answers 400 to these fields: dropped (with a warning) so the rest of the request is served
    unsupported_params: ClassVar[dict[Operation, frozenset[str]]] = {
        "chat": frozenset({"logprobs", "top_logprobs", "logit_bias"})
    }

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        if operation == "chat":
            for message in body.get("messages", ()):
                # Groq answers 400 to messages[].name; it only labels a participant
                message.pop("name", None)
        return super().adapt(operation, body)

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> bytes | AsyncIterator[bytes]:
        if request.n is not None and request.n != 1:
            # Groq: "If N is supplied, it must be equal to 1"
            raise BadRequestError("groq returns one choice per request: n must be 1", param="n")
        return await super().openai_chat_completion(request)

    async def openai_completion(self, request: CompletionRequest) -> bytes:
        # Groq has no legacy text completions endpoint
        raise BadRequestError("groq does not serve /v1/completions; use /v1/chat/completions", param="prompt")

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        # Groq has no embeddings endpoint
        raise BadRequestError("groq does not serve embeddings; use an embedding provider", param="model")

    async def register_model(self, model: Model) -> None:
        if model.model_type != ModelType.llm:
            raise BadRequestError(f"groq serves chat models only, not {model.model_type} models")

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # Groq's GET /models lists speech models too, with `active` and `context_window` on each entry
        if entry["id"].startswith(AUDIO_MODELS) or entry.get("active") is False:
            return None
        window = entry.get("context_window")
        metadata = {"context_length": window} if isinstance(window, int) else {}
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm, metadata=metadata)


def create_provider(config: GroqConfig, deps: dict[Api, Any]) -> GroqInference:
    return GroqInference(config, name="groq")
