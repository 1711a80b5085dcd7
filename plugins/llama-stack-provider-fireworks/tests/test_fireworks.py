"""remote::fireworks: the core's Inference conformance kit against a real llama-cpp-python server, and what the
adapter sends Fireworks (auth, renamed fields, model listing, embeddings) against a scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_fireworks import plugin
from llama_stack_provider_fireworks.config import DEFAULT_BASE_URL, FireworksConfig

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::fireworks"


class TestFireworks(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "logprobs", "completions"}
    )
    live_env = {"api_key": "FIREWORKS_API_KEY"}
    live_chat_model = "accounts/fireworks/models/llama-v3p1-8b-instruct"
    live_embedding_model = "nomic-ai/nomic-embed-text-v1.5"
    live_embedding_dimension = 768


# -- against a scripted Fireworks --------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def run_config(tmp_path, scripted: ScriptedServer, models: list[dict[str, Any]] | None = None, **config: Any) -> dict:
    # Fireworks serves its API under /inference/v1: keep that prefix to check paths are joined onto it
    base_url = scripted.base_url.replace("/v1", "/inference/v1")
    return provider_run_config(
        tmp_path, PROVIDER_TYPE, {"base_url": base_url, **config}, provider_id="fw", models=models or []
    )


def test_sample_config_and_spec():
    assert FireworksConfig().base_url == DEFAULT_BASE_URL
    assert FireworksConfig.sample_config() == {
        "base_url": "${env.FIREWORKS_BASE_URL:=https://api.fireworks.ai/inference/v1}",
        "api_key": "${env.FIREWORKS_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_chat_is_sent_with_the_configured_key_and_max_tokens(tmp_path, scripted):
    scripted.reply(json=chat_completion("from fireworks", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="fw-configured")) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": f"fw/{MODEL}",
                "messages": [{"role": "user", "content": "hi"}],
                "max_completion_tokens": 5,
                "temperature": 0.2,
                "logprobs": True,
                "top_logprobs": 2,
                "n": 2,
            },
        )
        providers = await client.get("/v1/providers")
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "from fireworks"
    sent = scripted.requests[0]  # then /v1/providers' health check lists models
    assert sent.method == "POST" and sent.path == "/inference/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer fw-configured"
    # Fireworks takes max_tokens; everything else goes through as OpenAI names it
    assert sent.json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.2,
        "logprobs": True,
        "top_logprobs": 2,
        "n": 2,
    }
    assert "fw-configured" not in providers.text


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(
        json={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "text": " Paris", "finish_reason": "stop"}],
        }
    )
    body = {"model": f"fw/{MODEL}", "prompt": "The capital of France is", "max_tokens": 3}
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/completions", json=body)
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/completions",
            json=body,
            headers={"X-LlamaStack-Provider-Data": json.dumps({"fireworks_api_key": "fw-per-request"})},
        )
    assert missing.status_code == 401 and "fireworks_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200 and keyed.json()["choices"][0]["text"] == " Paris"
    assert scripted.requests[-1].path == "/inference/v1/completions"
    assert scripted.requests[-1].headers["authorization"] == "Bearer fw-per-request"


async def test_models_are_listed_at_startup(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {
                    "id": MODEL,
                    "object": "model",
                    "owned_by": "fireworks",
                    "created": 1721692800,
                    "kind": "HF_BASE_MODEL",
                    "supports_chat": True,
                    "supports_image_input": False,
                    "supports_tools": True,
                    "context_length": 131072,
                },
                {"id": "accounts/fireworks/models/qwen3-8b", "object": "model", "owned_by": "fireworks", "created": 0},
            ],
        }
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True)) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    listing = scripted.requests[0]
    assert (listing.method, listing.path) == ("GET", "/inference/v1/models")
    assert listing.headers["authorization"] == "Bearer k"
    llama = models[f"fw/{MODEL}"]
    assert llama["origin"] == "listed_from_provider" and llama["provider_resource_id"] == MODEL
    assert llama["model_type"] == "llm" and llama["metadata"]["context_length"] == 131072
    assert models["fw/accounts/fireworks/models/qwen3-8b"]["model_type"] == "llm"


async def test_embeddings_keep_dimensions_and_pass_the_answer_through(tmp_path, scripted):
    embedder = "nomic-ai/nomic-embed-text-v1.5"
    scripted.reply(
        json={
            "object": "list",
            "model": embedder,
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.25, -0.5]},
                {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
            ],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
    )
    models = [
        {
            "model_id": "nomic",
            "provider_id": "fw",
            "provider_model_id": embedder,
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 2},
        }
    ]
    async with plugin_stack(plugin, run_config(tmp_path, scripted, models, api_key="k")) as client:
        response = await client.post("/v1/embeddings", json={"model": "nomic", "input": ["a", "b"], "dimensions": 2})
    sent = scripted.requests[-1]
    assert sent.path == "/inference/v1/embeddings"
    assert sent.json == {"model": embedder, "input": ["a", "b"], "encoding_format": "float", "dimensions": 2}
    assert [d["embedding"] for d in response.json()["data"]] == [[0.25, -0.5], [1.0, 0.0]]
    assert response.json()["usage"]["prompt_tokens"] == 4
