"""remote::openai: the core's Inference conformance kit against a real llama-cpp-python server, and what the adapter
sends OpenAI (auth, max_completion_tokens unchanged, model listing, embeddings) against a scripted server."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from llama_stack_provider_openai import plugin
from llama_stack_provider_openai.config import DEFAULT_BASE_URL, OpenAIConfig

from llama_stack_core.inference.embeddings import decode_base64
from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests, chat_body
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::openai"


class TestOpenAI(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # no "max_tokens": the kit also limits with max_completion_tokens, which this provider sends unchanged (as OpenAI
    # wants) and llama.cpp's server ignores; test_max_completion_tokens_is_sent_unchanged covers it
    capabilities = frozenset({"chat", "streaming", "deterministic", "tools", "json_object", "logprobs", "completions"})
    live_env = {"api_key": "OPENAI_API_KEY"}
    live_chat_model = "gpt-4o-mini"
    live_embedding_model = "text-embedding-3-small"
    live_embedding_dimension = 1536


# -- against a scripted OpenAI -----------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict:
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": scripted.base_url, **config}, provider_id="oai")


def chat(**params: Any) -> dict[str, Any]:
    return chat_body("oai/gpt-4o-mini", **params)


def test_sample_config_and_spec():
    assert OpenAIConfig().base_url == DEFAULT_BASE_URL
    assert OpenAIConfig.sample_config() == {
        "base_url": "${env.OPENAI_BASE_URL:=https://api.openai.com/v1}",
        "api_key": "${env.OPENAI_API_KEY:=}",
    }
    [spec] = plugin.register_inference_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.factory.endswith(".provider:create_provider")


async def test_max_completion_tokens_is_sent_unchanged(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model="gpt-4o-mini"))
    scripted.reply(json=chat_completion("ok", model="gpt-4o-mini"))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="sk-configured")) as client:
        new = await client.post(
            "/v1/chat/completions",
            json=chat(max_completion_tokens=7, logit_bias={"50256": -100}, reasoning_effort="low"),
        )
        old = await client.post("/v1/chat/completions", json=chat(max_tokens=7, n=2))
    assert new.status_code == old.status_code == 200
    assert scripted.requests[0].json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 7,
        "logit_bias": {"50256": -100},
        "reasoning_effort": "low",
    }
    assert scripted.requests[1].json["max_tokens"] == 7 and "max_completion_tokens" not in scripted.requests[1].json
    assert scripted.requests[0].path == "/v1/chat/completions"
    assert scripted.requests[0].headers["authorization"] == "Bearer sk-configured"


async def test_per_request_key_wins_and_a_missing_key_is_401_without_calling_out(tmp_path, scripted):
    scripted.reply(json=chat_completion("ok", model="gpt-4o-mini"))
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        missing = await client.post("/v1/chat/completions", json=chat())
        assert scripted.requests == []
        keyed = await client.post(
            "/v1/chat/completions",
            json=chat(),
            headers={"X-LlamaStack-Provider-Data": json.dumps({"openai_api_key": "sk-per-request"})},
        )
    assert missing.status_code == 401 and "openai_api_key" in missing.json()["error"]["message"]
    assert keyed.status_code == 200
    assert scripted.requests[-1].headers["authorization"] == "Bearer sk-per-request"


async def test_chat_and_embedding_models_are_listed_at_startup(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "system"}
                for model_id in (
                    "gpt-4o-mini",
                    "o3-mini",
                    "text-embedding-3-small",
                    "text-embedding-3-large",
                    "whisper-1",
                    "tts-1-hd",
                    "dall-e-3",
                    "gpt-image-1",
                    "omni-moderation-latest",
                    "gpt-4o-realtime-preview",
                    "gpt-4o-mini-transcribe",
                    "babbage-002",
                )
            ],
        }
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=True)) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("GET", "/v1/models")
    assert scripted.requests[0].headers["authorization"] == "Bearer k"
    assert {i: m["model_type"] for i, m in models.items()} == {
        "oai/gpt-4o-mini": "llm",
        "oai/o3-mini": "llm",
        "oai/babbage-002": "llm",
        "oai/text-embedding-3-small": "embedding",
        "oai/text-embedding-3-large": "embedding",
    }
    assert models["oai/text-embedding-3-large"]["metadata"]["embedding_dimension"] == 3072


async def test_embeddings_pass_dimensions_and_base64_through(tmp_path, scripted):
    vector = [0.5, -0.25, 0.125]
    packed = base64.b64encode(struct.pack("<3f", *vector)).decode()
    scripted.reply(
        json={
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": packed}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key="k", refresh_models=False)) as client:
        await client.post(
            "/v1/models",
            json={
                "model_id": "small",
                "provider_id": "oai",
                "model_type": "embedding",
                "provider_model_id": "text-embedding-3-small",
                "metadata": {"embedding_dimension": 3},
            },
        )
        response = await client.post(
            "/v1/embeddings",
            json={"model": "small", "input": ["hello"], "dimensions": 3, "encoding_format": "base64", "user": "u1"},
        )
    sent = scripted.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.json == {
        "model": "text-embedding-3-small",
        "input": ["hello"],
        "encoding_format": "base64",
        "dimensions": 3,
        "user": "u1",
    }
    assert decode_base64(response.json()["data"][0]["embedding"]) == vector
