"""``remote::tgi``: the core's OpenAI-compatible adapter plus what TGI does differently.

TGI's Messages API (``/v1/chat/completions``, huggingface.co/docs/text-generation-inference/messages_api) follows
OpenAI's Chat Completions; its request type (router ``ChatRequest``) marks ``logit_bias`` and ``n`` as unused and
takes ``response_format`` as a TGI grammar. A TGI server runs exactly one model, which ``GET /info`` names.
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.inference import EmbeddingsRequest
from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import TGIConfig


class TGIInference(OpenAICompatInference):
    # Per-request key: X-LlamaStack-Provider-Data: {"tgi_api_key": "hf_..."} (e.g. for an HF Inference Endpoint).
    provider_data_api_key = "tgi_api_key"
    # A self-hosted TGI takes no key; Hugging Face Inference Endpoints take an HF token as a Bearer key.
    requires_api_key = False
    # The Messages API and completions live under /v1 of the server root; GET /info (at the root) names the model.
    paths = {
        "chat": "v1/chat/completions",
        "completion": "v1/completions",
        "embeddings": "v1/embeddings",
        "models": "info",
    }
    # ChatRequest: logit_bias is "UNUSED" and typed as a list of floats, so OpenAI's token->bias map is refused.
    unsupported_params = {"chat": frozenset({"logit_bias", "n"}), "completion": frozenset({"logit_bias", "n"})}

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        # n is "UNUSED": TGI generates one choice whatever it says.
        if (body.get("n") or 1) > 1:
            raise BadRequestError("TGI generates one choice per request: n must be 1", param="n")
        if operation == "chat" and "response_format" in body:
            grammar = _grammar(body.pop("response_format"))
            if grammar is not None:
                body["response_format"] = grammar
        return super().adapt(operation, body)

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        # TGI serves text generation only (embeddings are Hugging Face's separate text-embeddings-inference).
        raise BadRequestError(
            "TGI has no embeddings API; serve embedding models with text-embeddings-inference "
            "or another embeddings provider",
            param="model",
        )

    # -- the one model ---------------------------------------------------------------------------------------------

    async def list_vendor_models(self) -> list[dict[str, Any]]:
        # GET /info: {"model_id": "meta-llama/...", "max_total_tokens": 8192, "model_pipeline_tag": ..., ...}
        info = await self.client.get_json(self.paths["models"], headers=self.auth_headers())
        return [{**info, "id": info["model_id"]}]

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        length = entry.get("max_total_tokens")  # prompt plus generated tokens, per request
        metadata = {"context_length": length} if isinstance(length, int) else None
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm, metadata=metadata)


def _grammar(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's response_format as TGI's grammar ``{"type": "json", "value": <JSON schema>}`` (TGI requires "value",
    which OpenAI's json_object and json_schema shapes do not have); "text" is TGI's default, so it is left out."""
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json", "value": schema or {"type": "object"}}
    if kind == "json_object":
        return {"type": "json", "value": {"type": "object"}}
    return None


def create_provider(config: TGIConfig, deps: dict[Api, Any]) -> TGIInference:
    return TGIInference(config, name="tgi")
