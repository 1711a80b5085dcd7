"""remote::together: the core's Inference conformance kit against a real llama-cpp-python server, and what the
adapter sends Together (auth, logprobs as an integer, model listing, embeddings) against a scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_together import plugin
from llama_stack_provider_together.config import DEFAULT_BASE_URL, TogetherConfig

from llama_stack_core.inference.embeddings import decode_base64
from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests, chat_body
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::together"


class TestTogether(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # no "logprobs": Together takes an integer `logprobs` and answers in its own shape (tokens/token_logprobs)
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "completions"}
    )
    live_env = {"api_key": "TOGETHER_API_KEY"}
    live_chat_model = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    live_embedding_model = "BAAI/bge-base-en-v1.5"
    live_embedding_dimension = 768


# -- against a scripted Together ---------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBEDDER = "BAAI/bge-base-en-v1.5"


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict:
    models = [
        {
            "model_id": "bge",
            "provider_id": "tg",
            "provider_model_id": EMBEDDER,
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 2},
        }
    ]
    config = {"base_url": scripted.base_url, **config}
    return provider_run_config(tmp_path, PROVIDER_TYPE, config, provider_id="tg", models=models)


def chat(**params: Any) -> dict[str, Any]:
    return chat_body(f"tg/{MODEL}", **params)


def test_sample_config_and_spec():
    assert TogetherConfig().base_url == DEFAULT_BASE_URL
    assert TogetherConfig.sample_config() == {
        "base_url": "${env.TOGETHER_BASE_URL:=https://api.together.ai/v1}",
        "api_key": "${env.TOGETHER_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_chat_sends_logprobs_as_together_counts_them(tmp_path, scripted):
    for _ in range(3):
        scripted.reply(json=chat_completion("ok", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="tg-configured")) as client:
        top = await client.post(
            "/v1/chat/completions", json=chat(logprobs=True, top_logprobs=3, max_completion_tokens=4, n=2)
        )
        sampled = await client.post("/v1/chat/completions", json=chat(logprobs=True))
        off = await client.post("/v1/chat/completions", json=chat(logprobs=False, top_logprobs=2))
    assert top.status_code == sampled.status_code == off.status_code == 200
    first, second, third = (r.json for r in scripted.requests)
    assert first == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "logprobs": 3,
        "max_tokens": 4,
        "n": 2,
    }
    assert second["logprobs"] == 1 and "top_logprobs" not in second
    assert "logprobs" not in third and "top_logprobs" not in third
    assert scripted.requests[0].path == "/v1/chat/completions"
    assert scripted.requests[0].headers["authorization"] == "Bearer tg-configured"


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/chat/completions", json=chat())
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/chat/completions",
            json=chat(),
            headers={"X-LlamaStack-Provider-Data": json.dumps({"together_api_key": "tg-per-request"})},
        )
    assert missing.status_code == 401 and "together_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200
    assert scripted.requests[-1].headers["authorization"] == "Bearer tg-per-request"


async def test_text_models_are_listed_at_startup_from_a_bare_array(tmp_path, scripted):
    scripted.reply(
        json=[
            {
                "id": MODEL,
                "object": "model",
                "created": 0,
                "type": "chat",
                "display_name": "Llama 3.3 70B",
                "organization": "Meta",
                "context_length": 131072,
            },
            {"id": "Qwen/Qwen2.5-Coder-32B", "object": "model", "created": 0, "type": "language"},
            {"id": EMBEDDER, "object": "model", "created": 0, "type": "embedding", "context_length": 512},
            {"id": "black-forest-labs/FLUX.1-schnell", "object": "model", "created": 0, "type": "image"},
        ]
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True)) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("GET", "/v1/models")
    listed = {i for i, m in models.items() if m["origin"] == "listed_from_provider"}
    assert listed == {f"tg/{MODEL}", "tg/Qwen/Qwen2.5-Coder-32B"}
    assert models[f"tg/{MODEL}"]["metadata"]["context_length"] == 131072
    assert models[f"tg/{MODEL}"]["provider_resource_id"] == MODEL


async def test_embeddings_send_only_model_and_input_and_base64_is_encoded_here(tmp_path, scripted):
    answer = {
        "object": "list",
        "model": EMBEDDER,
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -1.5]}],
    }
    scripted.reply(json=answer)
    scripted.reply(json=answer)
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k")) as client:
        floats = await client.post("/v1/embeddings", json={"model": "bge", "input": ["a"]})
        encoded = await client.post("/v1/embeddings", json={"model": "bge", "input": "a", "encoding_format": "base64"})
        sized = await client.post("/v1/embeddings", json={"model": "bge", "input": "a", "dimensions": 1})
    assert [r.json for r in scripted.requests] == [
        {"model": EMBEDDER, "input": ["a"]},
        {"model": EMBEDDER, "input": "a"},
    ]
    assert scripted.requests[0].path == "/v1/embeddings"
    assert floats.json()["data"][0]["embedding"] == [0.25, -1.5]
    assert decode_base64(encoded.json()["data"][0]["embedding"]) == [0.25, -1.5]
    assert encoded.json()["model"] == EMBEDDER
    assert sized.status_code == 400 and sized.json()["error"]["param"] == "dimensions"
    assert len(scripted.requests) == 2  # the refused request never reached Together
