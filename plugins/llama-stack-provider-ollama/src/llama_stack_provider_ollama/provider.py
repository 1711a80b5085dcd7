"""``remote::ollama``: the core's OpenAI-compatible adapter plus what Ollama does differently.

Chat, completions and embeddings go to Ollama's OpenAI-compatible API under ``/v1``; its documented limits
(docs.ollama.com/api/openai-compatibility) are applied before calling out, because Ollama silently ignores the fields
it does not support. Models are listed through Ollama's native API (``GET /api/tags``, ``POST /api/show``,
docs.ollama.com/api), which tells embedding models and their dimension apart.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from llama_stack_core.apis.resources import ModelType, RegisterModelRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError, StackError
from llama_stack_core.inference.openai_compat import OpenAICompatInference, Operation

from .config import OllamaConfig

log = logging.getLogger(__name__)


class OllamaInference(OpenAICompatInference):
    # Ollama takes no key (its OpenAI layer: "required but ignored"); a configured api_key is still sent (proxies).
    requires_api_key = False
    # The OpenAI-compatible API lives under /v1 of the server root; the model list is the native GET /api/tags.
    paths = {
        "chat": "v1/chat/completions",
        "completion": "v1/completions",
        "embeddings": "v1/embeddings",
        "models": "api/tags",
    }
    unsupported_params = {
        # /v1/chat/completions: tool_choice, logit_bias, user and n are not supported (ignored by Ollama).
        "chat": frozenset({"tool_choice", "logit_bias", "user", "n"}),
        # /v1/completions: best_of, echo, logit_bias, user and n are not supported.
        "completion": frozenset({"best_of", "echo", "logit_bias", "user", "n"}),
        # /v1/embeddings: user is not supported.
        "embeddings": frozenset({"user"}),
    }

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        # Ollama answers with one choice whatever n says: more than one cannot be served.
        if (body.get("n") or 1) > 1 or (body.get("best_of") or 1) > 1:
            raise BadRequestError("Ollama returns one choice per request: n and best_of must be 1", param="n")
        if operation == "chat" and body.get("tool_choice") == "none":
            body.pop("tools", None)  # no tool_choice in Ollama: "none" is honoured by not offering the tools
        elif operation == "completion":
            if body.get("echo"):
                raise BadRequestError("Ollama's completions cannot echo the prompt", param="echo")
            body["prompt"] = _one_prompt(body["prompt"])  # "prompt currently only accepts a string"
        elif operation == "embeddings" and not _is_text(body["input"]):
            # /v1/embeddings takes a string or an array of strings, not token arrays.
            raise BadRequestError(
                "Ollama embeds text: input must be a string or a list of strings, not token ids", param="input"
            )
        return super().adapt(operation, body)

    # -- models, through the native API ----------------------------------------------------------------------------

    async def list_vendor_models(self) -> list[dict[str, Any]]:
        # GET /api/tags: {"models": [{"name": "llama3.2:3b", "model": ..., "details": {"family": ...}}, ...]}
        data = await self.client.get_json(self.paths["models"], headers=self.auth_headers())
        return [{"id": m["name"], **m} for m in data.get("models", []) if m.get("name")]

    async def show(self, name: str) -> dict[str, Any] | None:
        """POST /api/show: capabilities, and model_info with ``<arch>.context_length`` / ``.embedding_length``."""
        try:
            answer = await self.client.request(
                "POST", "api/show", body=json.dumps({"model": name}).encode(), headers=self.auth_headers()
            )
            return json.loads(answer)
        except (StackError, ValueError) as exc:
            log.warning("%s: cannot show model '%s' (%s)", self.name, name, exc)
            return None

    async def discover_models(self) -> list[RegisterModelRequest]:
        if not self.config.refresh_models:
            return []
        allowed = set(self.config.allowed_models or ())
        entries = [e for e in await self.list_vendor_models() if not allowed or e["id"] in allowed]
        requests = [_model_request(entry, await self.show(entry["id"])) for entry in entries]  # one at a time
        return [r for r in requests if r is not None]


def _model_request(entry: dict[str, Any], show: dict[str, Any] | None) -> RegisterModelRequest | None:
    name = entry["id"]
    info = (show or {}).get("model_info") or {}
    arch = info.get("general.architecture")
    context = info.get(f"{arch}.context_length")
    metadata: dict[str, Any] = {"context_length": context} if isinstance(context, int) else {}
    capabilities = (show or {}).get("capabilities")
    if capabilities is None:  # servers before "capabilities" (or no /api/show): BERT-family models embed
        details = entry.get("details") or {}
        embedding = any("bert" in str(family) for family in details.get("families") or [details.get("family")])
    else:
        embedding = "embedding" in capabilities
    if not embedding:
        return RegisterModelRequest(model_id=name, model_type=ModelType.llm, metadata=metadata or None)
    dimension = info.get(f"{arch}.embedding_length")
    if not isinstance(dimension, int):
        log.warning(
            "ollama: embedding model '%s' has no <arch>.embedding_length in /api/show; not registered "
            "(register it with metadata.embedding_dimension)",
            name,
        )
        return None
    return RegisterModelRequest(
        model_id=name, model_type=ModelType.embedding, metadata={"embedding_dimension": dimension, **metadata}
    )


def _one_prompt(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    raise BadRequestError("Ollama's completions take one prompt string (no batches, no token ids)", param="prompt")


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def create_provider(config: OllamaConfig, deps: dict[Api, Any]) -> OllamaInference:
    return OllamaInference(config, name="ollama")
