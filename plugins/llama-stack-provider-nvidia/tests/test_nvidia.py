"""remote::nvidia: the core's Inference conformance class against a real llama-cpp-python server (standing in for a
NIM), then NVIDIA's own behaviour against the scripted server: the key the hosted catalog needs, embeddings with
input_type and truncate, and model listing."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from llama_stack_provider_nvidia import plugin

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import chat_completion

PROVIDER_TYPE = "remote::nvidia"


class TestNVIDIA(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "logprobs", "completions"}
    )
    live_env = {"api_key": "NVIDIA_API_KEY"}
    live_chat_model = "meta/llama-3.1-8b-instruct"


# -- NVIDIA specifics against the scripted server -----------------------------------------------------------------

pytestmark = pytest.mark.anyio
CHAT = {"model": "nvidia/meta/llama-3.1-8b-instruct", "messages": [{"role": "user", "content": "hi"}]}
EMBEDDINGS_ANSWER = {
    "object": "list",
    "model": "nvidia/nv-embedqa-e5-v5",
    "data": [{"index": 0, "embedding": [0.1, 0.2], "object": "embedding"}],
    "usage": {"prompt_tokens": 3, "total_tokens": 3},
}


def nvidia_config(tmp_path, base_url: str, **config: Any) -> dict[str, Any]:
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": base_url, **config}, provider_id="nvidia")


def provider_data(**data: str) -> dict[str, str]:
    return {"X-LlamaStack-Provider-Data": json.dumps(data)}


def test_the_hosted_catalog_is_the_default():
    from llama_stack_provider_nvidia.config import NVIDIAConfig

    assert NVIDIAConfig().base_url == "https://integrate.api.nvidia.com/v1"


async def test_the_hosted_catalog_needs_a_key_before_anything_is_sent(tmp_path):
    async with plugin_stack(plugin, nvidia_config(tmp_path, "https://integrate.api.nvidia.com/v1")) as client:
        response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401  # not 502: nothing was sent to the (unreachable) catalog
    assert "nvidia_api_key" in response.json()["error"]["message"]


async def test_configured_and_per_request_keys_and_a_keyless_self_hosted_nim(tmp_path, scripted):
    for _ in range(3):
        scripted.reply(json=chat_completion(model="meta/llama-3.1-8b-instruct"))
    async with plugin_stack(plugin, nvidia_config(tmp_path, scripted.base_url, api_key="nvapi-configured")) as client:
        await client.post("/v1/chat/completions", json=CHAT)
        await client.post("/v1/chat/completions", json=CHAT, headers=provider_data(nvidia_api_key="nvapi-request"))
    async with plugin_stack(plugin, nvidia_config(tmp_path, scripted.base_url)) as client:
        self_hosted = await client.post("/v1/chat/completions", json={**CHAT, "max_completion_tokens": 3})
    configured, per_request, keyless = scripted.requests
    assert configured.path == "/v1/chat/completions"
    assert configured.json == {**CHAT, "model": "meta/llama-3.1-8b-instruct"}
    assert configured.headers["authorization"] == "Bearer nvapi-configured"
    assert per_request.headers["authorization"] == "Bearer nvapi-request"
    assert self_hosted.status_code == 200 and "authorization" not in keyless.headers
    assert keyless.json["max_tokens"] == 3


async def test_embeddings_carry_input_type_and_truncate(tmp_path, scripted):
    for _ in range(3):
        scripted.reply(json=EMBEDDINGS_ANSWER)
    model = "nvidia/nvidia/nv-embedqa-e5-v5"
    async with plugin_stack(plugin, nvidia_config(tmp_path, scripted.base_url, api_key="k")) as client:
        sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key="x", http_client=client, max_retries=0)
        query = await sdk.embeddings.create(model=model, input="what is a NIM?")
        await sdk.embeddings.create(
            model=model, input=["a NIM is a container"], extra_body={"input_type": "passage", "truncate": "END"}
        )
    async with plugin_stack(
        plugin,
        nvidia_config(
            tmp_path, scripted.base_url, api_key="k", embedding_input_type="passage", embedding_truncate="START"
        ),
    ) as client:
        await client.post("/v1/embeddings", json={"model": model, "input": ["doc"], "encoding_format": "base64"})
    assert query.data[0].embedding == [0.1, 0.2]
    defaults, chosen, configured = (r.json for r in scripted.requests)
    assert scripted.requests[0].path == "/v1/embeddings"
    assert defaults == {
        "model": "nvidia/nv-embedqa-e5-v5",
        "input": "what is a NIM?",
        "encoding_format": "base64",
        "input_type": "query",
        "truncate": "NONE",
    }  # the openai SDK asks for base64 by default
    assert (chosen["input_type"], chosen["truncate"]) == ("passage", "END")
    assert (configured["input_type"], configured["truncate"]) == ("passage", "START")


async def test_token_id_embeddings_are_refused(tmp_path, scripted):
    async with plugin_stack(plugin, nvidia_config(tmp_path, scripted.base_url)) as client:
        response = await client.post("/v1/embeddings", json={"model": "nvidia/e", "input": [[1, 2, 3]]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"
    assert scripted.requests == []


async def test_listed_models_are_registered_by_kind(tmp_path, scripted):
    listed = [
        "meta/llama-3.1-8b-instruct",
        "nvidia/nv-embedqa-e5-v5",
        "nvidia/some-new-embed-v9",
        "nvidia/nv-rerankqa-mistral-4b-v3",
    ]
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {
                    "id": model_id,
                    "object": "model",
                    "created": 735790403,
                    "owned_by": model_id.split("/")[0],
                    "root": model_id,
                    "parent": None,
                }
                for model_id in listed
            ],
        }
    )
    async with plugin_stack(
        plugin, nvidia_config(tmp_path, scripted.base_url, api_key="k", refresh_models=True)
    ) as client:
        models = {m["identifier"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert scripted.requests[0].path == "/v1/models"
    assert scripted.requests[0].headers["authorization"] == "Bearer k"
    assert set(models) == {"nvidia/meta/llama-3.1-8b-instruct", "nvidia/nvidia/nv-embedqa-e5-v5"}
    assert models["nvidia/meta/llama-3.1-8b-instruct"]["model_type"] == "llm"
    embedder = models["nvidia/nvidia/nv-embedqa-e5-v5"]
    assert embedder["model_type"] == "embedding" and embedder["metadata"]["embedding_dimension"] == 1024
