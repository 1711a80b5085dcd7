"""``remote::vllm``: the core's OpenAI-compatible adapter plus what vLLM does differently.

vLLM implements OpenAI's Chat Completions, Completions, Embeddings and Models APIs (docs.vllm.ai,
"OpenAI-Compatible Server"), including ``n``, ``logprobs``, tools and ``response_format`` json_schema, so requests
pass through as they are.
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.inference.openai_compat import OpenAICompatInference

from .config import VLLMConfig


class VLLMInference(OpenAICompatInference):
    # Per-request key: X-LlamaStack-Provider-Data: {"vllm_api_token": "..."} (the server's --api-key).
    provider_data_api_key = "vllm_api_token"
    # vLLM checks a bearer key only when started with --api-key; without one any request is accepted.
    requires_api_key = False

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        # vLLM's model cards add max_model_len: the context window the server runs the model with.
        length = entry.get("max_model_len")
        metadata = {"context_length": length} if isinstance(length, int) else None
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm, metadata=metadata)


def create_provider(config: VLLMConfig, deps: dict[Api, Any]) -> VLLMInference:
    return VLLMInference(config, name="vllm")
