"""Test providers for the core's own tests, registered exactly like a third-party plugin (load it with
``LLAMA_STACK_PLUGINS=stack_test_plugin``).

- ``inline::echo`` (inference): answers a chat with the last user message, streams it word by word, embeds text
  deterministically, lists the models named in its config, refuses models whose provider id starts with ``bad``;
  with ``completions: true`` it answers text completions with the prompt (otherwise they are a 501).
- ``inline::recorder`` (safety, tool_runtime, datasetio, vector_io, scoring, eval): records the resources it is told
  about, so tests can check the register/unregister hooks ran.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from llama_stack_core.apis.resources import RegisterModelRequest, Resource
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.inference.openai_compat import OpenAICompatConfig, OpenAICompatInference
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.request_context import provider_data


class EchoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: str = "echo"
    api_key: SecretStr | None = None
    listed_models: list[str] = []
    shutdown_marker: str | None = None  # a file written when the provider shuts down
    completions: bool = False  # answer text completions (echo the prompt); off: they are a 501

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"prefix": "echo", "api_key": "${env.ECHO_API_KEY:=}"}


class RecorderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return (
                message.content
                if isinstance(message.content, str)
                else " ".join(part.text for part in message.content if part.type == "text")
            )
    return ""


class EchoInference:
    def __init__(self, config: EchoConfig) -> None:
        self.config = config
        self.models: dict[str, Resource] = {}

    async def register_model(self, model: Resource) -> None:
        if (model.provider_resource_id or "").startswith("bad"):
            raise ValueError(f"echo cannot serve {model.provider_resource_id}")
        self.models[model.identifier] = model

    async def unregister_model(self, model: Resource) -> None:
        self.models.pop(model.identifier, None)

    async def shutdown(self) -> None:
        if self.config.shutdown_marker:
            Path(self.config.shutdown_marker).write_text("stopped")

    async def health(self) -> dict[str, Any]:
        if self.config.prefix == "unhealthy":
            raise ConnectionError("cannot reach upstream")
        return {"status": "OK"}

    async def discover_models(self) -> list[RegisterModelRequest]:
        return [RegisterModelRequest(model_id=name) for name in self.config.listed_models]

    def _answer(self, request: Any) -> str:
        key = provider_data().get("echo_api_key")
        tag = f"[{key}]" if key else ""
        return f"{self.config.prefix}{tag}:{request.model}: {_last_user_text(request.messages)}"

    async def openai_chat_completion(self, request: Any) -> Any:
        text = self._answer(request)
        if request.stream:
            return self._stream(request, text)
        tokens = len(text.split())
        return {
            "id": f"chatcmpl-{uuid.uuid4()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1},
        }

    async def _stream(self, request: Any, text: str) -> AsyncIterator[dict[str, Any]]:
        chunk_id = f"chatcmpl-{uuid.uuid4()}"
        words = text.split(" ")
        for i, word in enumerate(words):
            if "FAIL" in word:
                raise ConnectionError("upstream dropped the stream")
            yield {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": request.model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": word if i == 0 else " " + word},
                        "finish_reason": "stop" if i == len(words) - 1 else None,
                    }
                ],
            }

    async def openai_completion(self, request: Any) -> Any:
        if not self.config.completions:
            raise NotImplementedError("echo does not do text completions")
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        text = " ".join(str(p) for p in prompts)
        answer = {
            "id": f"cmpl-{uuid.uuid4()}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "text": f"{self.config.prefix}:{request.model}: {text}", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompts), "completion_tokens": 1, "total_tokens": len(prompts) + 1},
        }
        if request.stream:
            return _one(answer)
        return answer

    async def openai_embeddings(self, request: Any) -> Any:
        texts = [request.input] if isinstance(request.input, str) else request.input
        data = [{"object": "embedding", "index": i, "embedding": _embed(str(t))} for i, t in enumerate(texts)]
        return {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
        }


async def _one(chunk: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield chunk


def _embed(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


class Recorder:
    """Accepts every resource type and remembers what it holds."""

    def __init__(self) -> None:
        self.held: dict[str, Resource] = {}

    async def _hold(self, resource: Resource) -> None:
        self.held[f"{resource.type}:{resource.identifier}"] = resource

    async def _drop(self, resource: Resource) -> None:
        self.held.pop(f"{resource.type}:{resource.identifier}", None)

    register_shield = register_tool_group = register_dataset = register_vector_db = _hold
    register_scoring_function = register_benchmark = _hold
    unregister_shield = unregister_tool_group = unregister_dataset = unregister_vector_db = _drop
    unregister_scoring_function = unregister_benchmark = _drop

    async def run_shield(self, request: Any) -> dict[str, Any]:
        return {"violation": None, "shield": request.shield_id}


def create_echo(config: EchoConfig, deps: dict[Api, Any]) -> EchoInference:
    return EchoInference(config)


def create_recorder(config: RecorderConfig, deps: dict[Api, Any]) -> Recorder:
    return Recorder()


def _recorder(api: Api) -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=api,
            provider_type="inline::recorder",
            config_class=RecorderConfig,
            factory="stack_test_plugin:create_recorder",
            description="Test: records resources.",
            operations=(),  # it holds resources; any operation of its API is the core's 501
        )
    ]


class OpenAICompatTestConfig(OpenAICompatConfig):
    base_url: str = "http://127.0.0.1:1/v1"


class OpenAICompatTest(OpenAICompatInference):
    """The core's OpenAI-compatible adapter with one quirk: ``logit_bias`` is dropped."""

    provider_data_api_key = "compat_api_key"
    requires_api_key = False
    unsupported_params = {"chat": frozenset({"logit_bias"})}


def create_openai_compat(config: OpenAICompatTestConfig, deps: dict[Api, Any]) -> OpenAICompatTest:
    return OpenAICompatTest(config, name="compat-test")


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type="inline::echo",
            config_class=EchoConfig,
            factory="stack_test_plugin:create_echo",
            description="Test: echoes the last user message.",
        ),
        ProviderSpec(
            api=Api.inference,
            provider_type="remote::openai-compat",
            config_class=OpenAICompatTestConfig,
            factory="stack_test_plugin:create_openai_compat",
            description="Test: the shared adapter.",
        ),
    ]


class SpanRecorder:
    """A telemetry provider that keeps exported spans in memory."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.usage: list[Any] = []

    async def export_spans(self, spans: list[Any]) -> None:
        self.spans.extend(spans)

    async def export_usage(self, points: list[Any]) -> None:
        self.usage.extend(points)


def create_span_recorder(config: RecorderConfig, deps: dict[Api, Any]) -> SpanRecorder:
    return SpanRecorder()


@hookimpl
def register_telemetry_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.telemetry,
            provider_type="inline::span-recorder",
            config_class=RecorderConfig,
            factory="stack_test_plugin:create_span_recorder",
            description="Test: keeps spans.",
            operations=(),  # an exporter: the trace queries go to a provider that stores traces
        )
    ]


@hookimpl
def register_safety_providers() -> list[ProviderSpec]:
    return _recorder(Api.safety)


@hookimpl
def register_tool_runtime_providers() -> list[ProviderSpec]:
    return _recorder(Api.tool_runtime)


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return _recorder(Api.datasetio)


@hookimpl
def register_vector_io_providers() -> list[ProviderSpec]:
    return _recorder(Api.vector_io)


@hookimpl
def register_scoring_providers() -> list[ProviderSpec]:
    return _recorder(Api.scoring)


@hookimpl
def register_eval_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.eval,
            provider_type="inline::recorder",
            config_class=RecorderConfig,
            factory="stack_test_plugin:create_recorder",
            api_dependencies=(Api.datasetio, Api.scoring),
            operations=(),
        )
    ]


@hookimpl
def register_models(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterModelRequest] | None:
    if provider_type != "inline::echo":
        return None
    return [
        RegisterModelRequest(
            model_id=f"{provider_id}-default-embedding", model_type="embedding", metadata={"embedding_dimension": 8}
        )
    ]


# -- run-config builders for these providers ---------------------------------------------------------------------

RESOURCE_APIS = ["safety", "tool_runtime", "datasetio", "vector_io", "scoring", "eval"]


def echo_providers(*ids: str, **config: Any) -> list[dict[str, Any]]:
    """``providers.inference`` entries: one echo provider per id, its prefix set to the id."""
    return [{"provider_id": i, "provider_type": "inline::echo", "config": {"prefix": i, **config}} for i in ids]


def recorder_providers() -> dict[str, list[dict[str, Any]]]:
    """A recorder provider for every other API that owns a resource type."""
    return {
        api: [{"provider_id": f"{api}-rec", "provider_type": "inline::recorder", "config": {}}] for api in RESOURCE_APIS
    }
