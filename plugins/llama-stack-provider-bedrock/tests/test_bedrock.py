"""remote::bedrock: the core's Inference conformance class against a real llama-cpp-python server (standing in for
bedrock-runtime's OpenAI-compatible endpoint), then Bedrock's own behaviour against the scripted server: the regional
endpoint, the Bedrock API key (configured or per request), chat only, no model list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_bedrock import plugin
from llama_stack_provider_bedrock.config import BedrockConfig
from pydantic import ValidationError

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion

PROVIDER_TYPE = "remote::bedrock"
MODEL = "openai.gpt-oss-20b-1:0"


class TestBedrock(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    capabilities = frozenset({"chat", "streaming", "max_tokens", "deterministic", "tools"})  # chat only
    live_env = {"api_key": "AWS_BEARER_TOKEN_BEDROCK"}  # a Bedrock API key; the region defaults to us-west-2
    live_chat_model = MODEL
    live_lists_models = False  # bedrock-runtime's OpenAI-compatible endpoint has no model list
    live_max_tokens = 512  # gpt-oss reasons before it answers


# -- Bedrock specifics against the scripted server ----------------------------------------------------------------

pytestmark = pytest.mark.anyio
CHAT = {
    "model": f"bedrock/{MODEL}",
    "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
}


def bedrock_config(tmp_path, **config: Any) -> dict[str, Any]:
    return provider_run_config(tmp_path, PROVIDER_TYPE, config, provider_id="bedrock")


def endpoint(server: ScriptedServer) -> str:
    return f"http://127.0.0.1:{server.port}/openai/v1"  # the same path layout as bedrock-runtime


def test_the_endpoint_follows_the_region_and_has_no_model_list():
    assert BedrockConfig().base_url == "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"
    assert BedrockConfig(region="eu-central-1").base_url == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com/openai/v1"
    )
    assert BedrockConfig(base_url="https://vpce-1.example/openai/v1").base_url == "https://vpce-1.example/openai/v1"
    with pytest.raises(ValidationError, match="no model list"):
        BedrockConfig(refresh_models=True)
    with pytest.raises(ValidationError, match="region"):
        BedrockConfig(region="bedrock.example.com")


async def test_no_key_is_401_before_anything_is_sent(tmp_path):
    async with plugin_stack(plugin, bedrock_config(tmp_path, region="us-east-1")) as client:
        response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401  # not 502: the (unreachable) AWS endpoint was not called
    assert "aws_bearer_token_bedrock" in response.json()["error"]["message"]


async def test_the_bedrock_api_key_is_the_bearer_token(tmp_path, scripted):
    scripted.reply(json=chat_completion("hello", model=MODEL))
    scripted.reply(stream=[chat_chunk("hel", model=MODEL), chat_chunk("lo", model=MODEL, finish_reason="stop")])
    async with plugin_stack(
        plugin, bedrock_config(tmp_path, base_url=endpoint(scripted), api_key="ABSK-configured")
    ) as client:
        whole = await client.post("/v1/chat/completions", json={**CHAT, "max_completion_tokens": 16})
        streamed = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"X-LlamaStack-Provider-Data": json.dumps({"aws_bearer_token_bedrock": "ABSK-per-request"})},
        )
    assert whole.json()["choices"][0]["message"]["content"] == "hello"
    events = [json.loads(e[len("data: ") :]) for e in streamed.text.split("\n\n") if e.startswith("data: {")]
    assert [e["choices"][0]["delta"]["content"] for e in events] == ["hel", "lo"]
    configured, per_request = scripted.requests
    assert configured.path == "/openai/v1/chat/completions"
    assert configured.headers["authorization"] == "Bearer ABSK-configured"
    assert configured.json == {**CHAT, "model": MODEL, "max_tokens": 16}
    assert per_request.headers["authorization"] == "Bearer ABSK-per-request"


async def test_completions_and_embeddings_are_refused_without_calling_aws(tmp_path, scripted):
    async with plugin_stack(plugin, bedrock_config(tmp_path, base_url=endpoint(scripted), api_key="k")) as client:
        completion = await client.post("/v1/completions", json={"model": CHAT["model"], "prompt": "Once"})
        embeddings = await client.post(
            "/v1/embeddings", json={"model": "bedrock/amazon.titan-embed-text-v2:0", "input": "hello"}
        )
        providers = (await client.get("/v1/providers")).json()["data"]
    assert completion.status_code == 400 and "chat completions only" in completion.json()["error"]["message"]
    assert embeddings.status_code == 400 and "no embeddings" in embeddings.json()["error"]["message"]
    assert providers[0]["health"]["status"] == "Not Implemented"
    assert scripted.requests == []  # not even a model-list probe for health


async def test_refresh_models_is_refused_at_start_up(tmp_path):
    from llama_stack_core.errors import ConfigError

    with pytest.raises(ConfigError, match="no model list"):
        async with plugin_stack(plugin, bedrock_config(tmp_path, api_key="k", refresh_models=True)):
            pass
