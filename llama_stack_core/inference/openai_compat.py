"""The shared adapter for OpenAI-compatible inference services.

A vendor package is a config class (its default ``base_url``) and, where the vendor differs from OpenAI, a subclass
of :class:`OpenAICompatInference` that sets ``unsupported_params``/``renamed_params`` or overrides ``adapt``.
Requests are re-serialised once; answers and stream events are passed through as the vendor's bytes, unparsed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ..apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
from ..apis.resources import ModelType, RegisterModelRequest
from ..errors import AuthenticationError
from ..request_context import provider_data
from ..upstream import UpstreamClient

log = logging.getLogger(__name__)

Operation = Literal["chat", "completion", "embeddings"]


class OpenAICompatConfig(BaseModel):
    """Config shared by OpenAI-compatible vendors. Vendor packages subclass it to set their default ``base_url``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The vendor's OpenAI-compatible base URL, ending in /v1 (or its equivalent).")
    api_key: SecretStr | None = Field(default=None, description="API key; per-request keys may override it.")
    timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for an answer (between stream events).")
    refresh_models: bool = Field(default=False, description="Register the vendor's model list at start-up.")
    allowed_models: list[str] | None = Field(default=None, description="Only register these listed models.")
    max_connections: int = Field(default=512, ge=1, description="Connection pool size.")

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class OpenAICompatInference:
    """An InferenceProvider that forwards to an OpenAI-compatible HTTP API."""

    #: Key of ``X-LlamaStack-Provider-Data`` that carries a per-request API key (e.g. ``fireworks_api_key``).
    provider_data_api_key: ClassVar[str | None] = None
    #: Whether calls need a key; without one a call fails with 401 before reaching the vendor.
    requires_api_key: ClassVar[bool] = True
    #: Request fields the vendor rejects, per operation: dropped with a warning (once per field).
    unsupported_params: ClassVar[dict[Operation, frozenset[str]]] = {}
    #: Request fields the vendor names differently, per operation: ``{ours: theirs}``. Most OpenAI-compatible
    #: servers predate ``max_completion_tokens``; vendors that know it (OpenAI) override this.
    renamed_params: ClassVar[dict[Operation, dict[str, str]]] = {"chat": {"max_completion_tokens": "max_tokens"}}
    paths: ClassVar[dict[str, str]] = {
        "chat": "chat/completions",
        "completion": "completions",
        "embeddings": "embeddings",
        "models": "models",
    }

    def __init__(self, config: OpenAICompatConfig, name: str) -> None:
        self.config = config
        self.name = name
        headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
        self.client = UpstreamClient(
            config.base_url, name=name, timeout=config.timeout, headers=headers, max_connections=config.max_connections
        )
        self._warned: set[str] = set()

    # -- request shaping -----------------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str] | None:
        """Headers for this call: a per-request key from the provider-data header wins over the configured one."""
        if self.provider_data_api_key:
            key = provider_data().get(self.provider_data_api_key)
            if key:
                return {"Authorization": f"Bearer {key}"}
        if self.requires_api_key and self.config.api_key is None:
            hint = (
                f' or send X-LlamaStack-Provider-Data: {{"{self.provider_data_api_key}": "..."}}'
                if self.provider_data_api_key
                else ""
            )
            raise AuthenticationError(f"{self.name}: no API key configured; set api_key in the provider config{hint}")
        return None

    def adapt(self, operation: Operation, body: dict[str, Any]) -> dict[str, Any]:
        """Make a request body acceptable to the vendor. Override for quirks beyond drop and rename."""
        for field in self.unsupported_params.get(operation, ()):
            if field in body:
                del body[field]
                if field not in self._warned:
                    self._warned.add(field)
                    log.warning("%s does not support '%s' on %s; dropping it", self.name, field, operation)
        for ours, theirs in self.renamed_params.get(operation, {}).items():
            if ours in body:
                body[theirs] = body.pop(ours)
        return body

    def encode(self, operation: Operation, request: BaseModel) -> bytes:
        body = request.model_dump(exclude_none=True, by_alias=True)
        for message in body.get("messages", ()):
            if message["role"] == "assistant" and "content" not in message:
                message["content"] = ""  # a tool-calling turn; several servers (llama.cpp) need the key
        return orjson.dumps(self.adapt(operation, body))

    async def _call(self, operation: Operation, request: BaseModel, stream: bool) -> bytes | AsyncIterator[bytes]:
        headers = self.auth_headers()
        body = self.encode(operation, request)
        path = self.paths[operation]
        if stream:
            return await self.client.stream_events(path, body=body, headers=headers)
        return await self.client.request("POST", path, body=body, headers=headers)

    # -- the InferenceProvider protocol --------------------------------------------------------------------------

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> bytes | AsyncIterator[bytes]:
        return await self._call("chat", request, bool(request.stream))

    async def openai_completion(self, request: CompletionRequest) -> bytes | AsyncIterator[bytes]:
        return await self._call("completion", request, bool(request.stream))

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        return await self._call("embeddings", request, False)  # type: ignore[return-value]

    # -- resources and lifecycle ---------------------------------------------------------------------------------

    async def list_vendor_models(self) -> list[dict[str, Any]]:
        """The vendor's model list (``GET /models``, OpenAI shape)."""
        data = await self.client.get_json(self.paths["models"], headers=self.auth_headers())
        return list(data.get("data", [])) if isinstance(data, dict) else list(data)

    def model_request(self, entry: dict[str, Any]) -> RegisterModelRequest | None:
        """How one vendor model is registered; None skips it. Override to recognise embedding models."""
        return RegisterModelRequest(model_id=entry["id"], model_type=ModelType.llm)

    async def discover_models(self) -> list[RegisterModelRequest]:
        if not self.config.refresh_models:
            return []
        allowed = set(self.config.allowed_models or ())
        requests = [
            self.model_request(entry)
            for entry in await self.list_vendor_models()
            if not allowed or entry.get("id") in allowed
        ]
        return [r for r in requests if r is not None]

    async def health(self) -> dict[str, Any]:
        await self.list_vendor_models()
        return {"status": "OK"}

    async def shutdown(self) -> None:
        await self.client.close()
