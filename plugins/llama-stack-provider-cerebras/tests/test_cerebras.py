"""remote::cerebras: the core's Inference conformance kit against a real llama-cpp-python server, and Cerebras'
limits (dropped fields, no embeddings), auth and model listing against a scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_cerebras import plugin
from llama_stack_provider_cerebras.config import DEFAULT_BASE_URL, CerebrasConfig

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests, chat_body
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::cerebras"


class TestCerebras(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "logprobs", "completions"}
    )
    live_env = {"api_key": "CEREBRAS_API_KEY"}
    live_chat_model = "llama3.1-8b"


# -- against a scripted Cerebras ---------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio
MODEL = "llama3.1-8b"


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict:
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": scripted.base_url, **config}, provider_id="cb")


def chat(**params: Any) -> dict[str, Any]:
    return chat_body(f"cb/{MODEL}", **params)


def test_sample_config_and_spec():
    assert CerebrasConfig().base_url == DEFAULT_BASE_URL
    assert CerebrasConfig.sample_config() == {
        "base_url": "${env.CEREBRAS_BASE_URL:=https://api.cerebras.ai/v1}",
        "api_key": "${env.CEREBRAS_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_fields_cerebras_refuses_are_dropped_from_chat_only(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    scripted.reply(
        json={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "text": " there", "finish_reason": "length"}],
        }
    )
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="csk-configured")) as client:
        whole = await client.post(
            "/v1/chat/completions",
            json=chat(
                frequency_penalty=0.5,
                presence_penalty=0.5,
                logit_bias={"1": 2},
                parallel_tool_calls=False,
                service_tier="auto",
                tools=[tool],
                logprobs=True,
                top_logprobs=1,
                max_completion_tokens=3,
            ),
        )
        text = await client.post(
            "/v1/completions",
            json={"model": f"cb/{MODEL}", "prompt": "Hello", "max_tokens": 2, "frequency_penalty": 0.5},
        )
    assert whole.status_code == text.status_code == 200
    chat_sent, completion_sent = scripted.requests
    assert chat_sent.path == "/v1/chat/completions"
    assert chat_sent.headers["authorization"] == "Bearer csk-configured"
    assert chat_sent.json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [tool],
        "logprobs": True,
        "top_logprobs": 1,
        "max_tokens": 3,
    }
    assert completion_sent.path == "/v1/completions"
    assert completion_sent.json == {"model": MODEL, "prompt": "Hello", "max_tokens": 2, "frequency_penalty": 0.5}


async def test_embeddings_are_400_without_calling_out(tmp_path, scripted):
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k")) as client:
        embeddings = await client.post("/v1/embeddings", json={"model": "cb/some-embedder", "input": "x"})
        register = await client.post(
            "/v1/models",
            json={
                "model_id": "emb",
                "provider_id": "cb",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 8},
            },
        )
    assert embeddings.status_code == 400
    assert register.status_code == 400 and "text generation models only" in register.json()["error"]["message"]
    assert scripted.requests == []


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/chat/completions", json=chat())
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/chat/completions",
            json=chat(),
            headers={"X-LlamaStack-Provider-Data": json.dumps({"cerebras_api_key": "csk-per-request"})},
        )
    assert missing.status_code == 401 and "cerebras_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200
    assert scripted.requests[-1].headers["authorization"] == "Bearer csk-per-request"


async def test_models_are_listed_at_startup(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "Meta"},
                {"id": "gpt-oss-120b", "object": "model", "created": 0, "owned_by": "OpenAI"},
            ],
        }
    )
    async with plugin_stack(
        plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True, allowed_models=["gpt-oss-120b"])
    ) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("GET", "/v1/models")
    assert scripted.requests[0].headers["authorization"] == "Bearer k"
    assert set(models) == {"cb/gpt-oss-120b"} and models["cb/gpt-oss-120b"]["model_type"] == "llm"
