"""``remote::bedrock``: the core's OpenAI-compatible adapter on Amazon Bedrock's OpenAI-compatible endpoint.

Bedrock Runtime serves OpenAI's "Create chat completion" at ``https://bedrock-runtime.<region>.amazonaws.com/openai/v1``
with an Amazon Bedrock API key as the Bearer token, and "doesn't support the other OpenAI Chat completion API
operations" (docs.aws.amazon.com/bedrock, "Invoke a model with the OpenAI Chat Completions API"): no legacy
completions, no embeddings, no model list on this endpoint.
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.inference import CompletionRequest, EmbeddingsRequest
from llama_stack_core.apis.resources import RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.openai_compat import OpenAICompatInference

from .config import BedrockConfig


class BedrockInference(OpenAICompatInference):
    # Per-request key: X-LlamaStack-Provider-Data: {"aws_bearer_token_bedrock": "..."} (an Amazon Bedrock API key,
    # the value of AWS_BEARER_TOKEN_BEDROCK). Calls without any key answer 401 before anything is sent.
    provider_data_api_key = "aws_bearer_token_bedrock"

    async def openai_completion(self, request: CompletionRequest) -> Any:
        # Only Create chat completion is served on bedrock-runtime's OpenAI-compatible endpoint.
        raise BadRequestError(
            "Bedrock's OpenAI-compatible endpoint serves chat completions only; use /v1/chat/completions", param="model"
        )

    async def openai_embeddings(self, request: EmbeddingsRequest) -> Any:
        # No embeddings on that endpoint either (Bedrock's own embedding models use InvokeModel, not OpenAI's API).
        raise BadRequestError("Bedrock's OpenAI-compatible endpoint has no embeddings API", param="model")

    async def discover_models(self) -> list[RegisterModelRequest]:
        return []  # no model list on this endpoint (the config refuses refresh_models: true)

    async def health(self) -> dict[str, Any]:
        # Nothing to probe without spending tokens: the endpoint lists no models.
        return {
            "status": "Not Implemented",
            "message": "bedrock-runtime's OpenAI-compatible endpoint has no model list to probe",
        }


def create_provider(config: BedrockConfig, deps: dict[Api, Any]) -> BedrockInference:
    return BedrockInference(config, name="bedrock")
