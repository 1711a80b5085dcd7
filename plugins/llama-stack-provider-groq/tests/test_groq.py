"""remote::groq: the core's Inference conformance kit against a real llama-cpp-python server, and Groq's limits
(dropped fields, n, no completions or embeddings), auth and model listing against a scripted server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_groq import plugin
from llama_stack_provider_groq.config import DEFAULT_BASE_URL, GroqConfig

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests, chat_body
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion

PROVIDER_TYPE = "remote::groq"


class TestGroq(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # Groq has no logprobs and no legacy completions
    capabilities = frozenset({"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object"})
    live_env = {"api_key": "GROQ_API_KEY"}
    live_chat_model = "llama-3.1-8b-instant"


# -- against a scripted Groq -------------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio
MODEL = "llama-3.3-70b-versatile"


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict:
    # Groq serves its OpenAI API under /openai/v1: keep that prefix to check paths are joined onto it
    base_url = scripted.base_url.replace("/v1", "/openai/v1")
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": base_url, **config}, provider_id="groq")


def chat(**params: Any) -> dict[str, Any]:
    return chat_body(f"groq/{MODEL}", **params)


def test_sample_config_and_spec():
    assert GroqConfig().base_url == DEFAULT_BASE_URL == "https://api.groq.com/openai/v1"
    assert GroqConfig.sample_config() == {
        "base_url": "${env.GROQ_BASE_URL:=https://api.groq.com/openai/v1}",
        "api_key": "${env.GROQ_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_unsupported_fields_and_message_names_are_dropped(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    scripted.reply(stream=[chat_chunk("o", model=MODEL), chat_chunk("k", model=MODEL, finish_reason="stop")])
    messages = [
        {"role": "system", "content": "be brief", "name": "rules"},
        {"role": "user", "content": "hi", "name": "alice"},
    ]
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="gsk-configured")) as client:
        whole = await client.post(
            "/v1/chat/completions",
            json=chat(
                messages=messages,
                logprobs=True,
                top_logprobs=2,
                logit_bias={"1": 5},
                n=1,
                max_completion_tokens=9,
                temperature=0,
                seed=3,
            ),
        )
        streamed = await client.post("/v1/chat/completions", json=chat(stream=True, logprobs=True))
    assert whole.status_code == 200 and whole.json()["choices"][0]["message"]["content"] == "ok"
    sent = scripted.requests[0]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer gsk-configured"
    assert sent.json == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "n": 1,
        "temperature": 0,
        "seed": 3,
        "max_tokens": 9,
    }
    assert scripted.requests[1].json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    assert streamed.status_code == 200 and streamed.text.count("data: ") == 2


async def test_what_groq_cannot_serve_is_400_without_calling_out(tmp_path, scripted):
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k")) as client:
        several = await client.post("/v1/chat/completions", json=chat(n=2))
        completion = await client.post("/v1/completions", json={"model": f"groq/{MODEL}", "prompt": "Once"})
        embeddings = await client.post("/v1/embeddings", json={"model": "groq/nomic-embed", "input": "x"})
        register = await client.post(
            "/v1/models",
            json={
                "model_id": "emb",
                "provider_id": "groq",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 8},
            },
        )
    assert several.status_code == 400 and several.json()["error"]["param"] == "n"
    assert completion.status_code == 400 and "/v1/chat/completions" in completion.json()["error"]["message"]
    assert embeddings.status_code == 400
    assert register.status_code == 400 and "chat models only" in register.json()["error"]["message"]
    assert scripted.requests == []


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model=MODEL))
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/chat/completions", json=chat())
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/chat/completions",
            json=chat(),
            headers={"X-LlamaStack-Provider-Data": json.dumps({"groq_api_key": "gsk-per-request"})},
        )
    assert missing.status_code == 401 and "groq_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200
    assert scripted.requests[-1].headers["authorization"] == "Bearer gsk-per-request"


async def test_chat_models_are_listed_at_startup(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {
                    "id": MODEL,
                    "object": "model",
                    "created": 1733447754,
                    "owned_by": "Meta",
                    "active": True,
                    "context_window": 131072,
                    "public_apps": None,
                    "max_completion_tokens": 32768,
                },
                {"id": "retired-model", "object": "model", "created": 0, "owned_by": "Meta", "active": False},
                {"id": "whisper-large-v3", "object": "model", "created": 0, "owned_by": "OpenAI", "active": True},
                {"id": "playai-tts", "object": "model", "created": 0, "owned_by": "PlayAI", "active": True},
            ],
        }
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True)) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("GET", "/openai/v1/models")
    assert set(models) == {f"groq/{MODEL}"}
    assert models[f"groq/{MODEL}"]["metadata"]["context_length"] == 131072
