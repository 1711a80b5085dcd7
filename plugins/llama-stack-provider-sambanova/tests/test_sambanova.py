"""remote::sambanova: the core's Inference conformance kit against a real llama-cpp-python server, and SambaNova's
differences (ignored fields, n limits, embeddings), auth and model listing against a scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_sambanova import plugin
from llama_stack_provider_sambanova.config import DEFAULT_BASE_URL, SambaNovaConfig

from llama_stack_core.inference.embeddings import decode_base64
from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests, chat_body
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::sambanova"


class TestSambaNova(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # no "logprobs": SambaNova does not document them
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "completions"}
    )
    live_env = {"api_key": "SAMBANOVA_API_KEY"}
    live_chat_model = "Meta-Llama-3.1-8B-Instruct"
    live_embedding_model = "E5-Mistral-7B-Instruct"
    live_embedding_dimension = 4096


# -- against a scripted SambaNova --------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio
MODEL = "Meta-Llama-3.3-70B-Instruct"
EMBEDDER = "E5-Mistral-7B-Instruct"
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict:
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": scripted.base_url, **config}, provider_id="sn")


def chat(**params: Any) -> dict[str, Any]:
    return chat_body(f"sn/{MODEL}", **params)


def test_sample_config_and_spec():
    assert SambaNovaConfig().base_url == DEFAULT_BASE_URL
    assert SambaNovaConfig.sample_config() == {
        "base_url": "${env.SAMBANOVA_BASE_URL:=https://api.sambanova.ai/v1}",
        "api_key": "${env.SAMBANOVA_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_ignored_fields_are_dropped_and_n_is_checked_before_calling_out(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="sn-configured")) as client:
        whole = await client.post(
            "/v1/chat/completions",
            json=chat(
                presence_penalty=1, frequency_penalty=1, logit_bias={"1": 1}, n=8, seed=-4, max_completion_tokens=5
            ),
        )
        too_many = await client.post("/v1/chat/completions", json=chat(n=9))
        with_tools = await client.post("/v1/chat/completions", json=chat(n=2, tools=[TOOL]))
    assert whole.status_code == 200
    [sent] = scripted.requests
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == "Bearer sn-configured"
    assert sent.json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "n": 8,
        "seed": -4,
        "max_tokens": 5,
    }
    assert too_many.status_code == 400 and "1 to 8" in too_many.json()["error"]["message"]
    assert with_tools.status_code == 400 and "tools" in with_tools.json()["error"]["message"]


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(
        json={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "text": " there", "finish_reason": "length"}],
        }
    )
    body = {"model": f"sn/{MODEL}", "prompt": "Hello", "max_tokens": 2}
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/completions", json=body)
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/completions",
            json=body,
            headers={"X-LlamaStack-Provider-Data": json.dumps({"sambanova_api_key": "sn-per-request"})},
        )
    assert missing.status_code == 401 and "sambanova_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200 and keyed.json()["choices"][0]["text"] == " there"
    assert scripted.requests[-1].path == "/v1/completions"
    assert scripted.requests[-1].headers["authorization"] == "Bearer sn-per-request"


async def test_chat_and_embedding_models_are_listed_at_startup(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {
                    "id": MODEL,
                    "object": "model",
                    "owned_by": "meta",
                    "context_length": 131072,
                    "max_completion_tokens": 3072,
                    "pricing": {"prompt": "0.6", "completion": "1.2"},
                },
                {"id": EMBEDDER, "object": "model", "owned_by": "intfloat", "context_length": 4096},
                {"id": "Whisper-Large-v3", "object": "model", "owned_by": "openai", "context_length": 4096},
            ],
        }
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True)) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("GET", "/v1/models")
    assert {i: m["model_type"] for i, m in models.items()} == {f"sn/{MODEL}": "llm", f"sn/{EMBEDDER}": "embedding"}
    assert models[f"sn/{MODEL}"]["metadata"]["context_length"] == 131072
    assert models[f"sn/{EMBEDDER}"]["metadata"]["embedding_dimension"] == 4096


async def test_embeddings_send_only_model_and_input_and_base64_is_encoded_here(tmp_path, scripted):
    answer = {
        "object": "list",
        "model": EMBEDDER,
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, 2.0]},
            {"object": "embedding", "index": 1, "embedding": [-1.0, 0.0]},
        ],
    }
    scripted.reply(json=answer)
    scripted.reply(json=answer)
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k")) as client:
        target = f"sn/{EMBEDDER}"
        await client.post(
            "/v1/models",
            json={
                "model_id": target,
                "provider_id": "sn",
                "model_type": "embedding",
                "provider_model_id": EMBEDDER,
                "metadata": {"embedding_dimension": 2},
            },
        )
        floats = await client.post("/v1/embeddings", json={"model": target, "input": ["a", "b"]})
        encoded = await client.post(
            "/v1/embeddings", json={"model": target, "input": ["a", "b"], "encoding_format": "base64"}
        )
        sized = await client.post("/v1/embeddings", json={"model": target, "input": "a", "dimensions": 2})
    assert [r.json for r in scripted.requests] == [{"model": EMBEDDER, "input": ["a", "b"]}] * 2
    assert scripted.requests[0].path == "/v1/embeddings"
    assert [d["embedding"] for d in floats.json()["data"]] == [[0.5, 2.0], [-1.0, 0.0]]
    assert [decode_base64(d["embedding"]) for d in encoded.json()["data"]] == [[0.5, 2.0], [-1.0, 0.0]]
    assert encoded.json()["usage"]["prompt_tokens"] == 3
    assert sized.status_code == 400 and sized.json()["error"]["param"] == "dimensions"
