"""The stack's run config around a ``ScriptedServer`` model behind ``remote::vllm`` (its turns, ``text_turn`` and
``call_turn``, come from :mod:`llama_stack_core.testing.scripted`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_stack_core.testing.harness import make_run_config
from llama_stack_core.testing.scripted import ScriptedServer, call_turn, text_turn

MODEL = "scripted-llm"


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


__all__ = ["MODEL", "call_turn", "model_providers", "model_run_config", "sent_messages", "text_turn"]
