"""Model turns as a chat-completion stream, in the exact wire format, for a ``ScriptedServer`` behind ``remote::vllm``:
a text answer, a tool call with its arguments in pieces, and the stack's run config around such a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llama_stack_core.testing.harness import make_run_config
from llama_stack_core.testing.scripted import ScriptedServer

MODEL = "scripted-llm"


def chunk(delta: dict[str, Any], finish_reason: str | None = None, usage: dict[str, int] | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "upstream",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **({"usage": usage} if usage else {}),
    }


def text_turn(*pieces: str, finish_reason: str = "stop") -> list[dict]:
    """A streamed text answer, usage in the last chunk."""
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    usage = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 7 + len(pieces)}
    chunks.append(chunk({}, finish_reason, usage))
    return chunks


def call_turn(name: str, arguments: dict[str, Any] | str, call_id: str = "call_1") -> list[dict]:
    """A streamed tool call: id and name first, then the arguments (JSON, or this raw string) in two pieces."""
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    half = len(encoded) // 2
    return [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": encoded[:half]}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": encoded[half:]}}]}),
        chunk({}, "tool_calls", {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    ]


def model_providers(model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
    """The scripted model behind ``remote::vllm``, and the builtin responses and conversations providers."""
    return {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": model.base_url, "refresh_models": False},
            }
        ],
        "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
        "conversations": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }


def model_run_config(
    tmp_path: Path, model: ScriptedServer, providers: dict[str, list[dict[str, Any]]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A run config with the scripted model registered as ``MODEL`` (plus these providers, merged by API)."""
    merged = model_providers(model)
    for api, entries in (providers or {}).items():
        merged[api] = [*merged.get(api, []), *entries]
    models = [{"model_id": MODEL, "provider_id": "vllm", "provider_model_id": "upstream"}, *extra.pop("models", [])]
    return make_run_config(merged, tmp_path, models=models, **extra)


def sent_messages(model: ScriptedServer, index: int = -1) -> list[dict[str, Any]]:
    return model.requests[index].json["messages"]
