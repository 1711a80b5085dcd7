"""remote::vllm: the core's Inference conformance class against a real llama-cpp-python server, then what is vLLM's
own (per-request token, model listing with max_model_len, pass-through of n / json_schema / extras, embeddings, its
error shape) against the scripted server, and the entry point through a real ``stack serve``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from llama_stack_provider_vllm import plugin

from llama_stack_core.testing import served_stack
from llama_stack_core.testing.harness import free_port, plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion

PROVIDER_TYPE = "remote::vllm"


class TestVLLM(OpenAICompatVendorTests):
    """The representative vendor: vLLM is a generic OpenAI-compatible server, like the local llama.cpp one, so it
    runs every conformance test there; the other vendors run the smoke subset."""

    plugin = plugin
    provider_type = PROVIDER_TYPE
    full_conformance = True
    # What vLLM supports and the llama.cpp server can show (it has no n, stream usage, json_schema or embeddings).
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "tools", "json_object", "logprobs", "completions"}
    )
    local_config = {}  # no key; refresh_models stays on: the server's list is registered
    live_env = {"base_url": "VLLM_URL"}  # a vLLM server of yours; it serves the model it was started with

    @pytest.mark.anyio
    async def test_listed_models_are_registered(self, http: Any) -> None:
        models = {m["identifier"]: m for m in (await http.get("/v1/models")).json()["data"]}
        assert models["under-test/gemma"]["provider_resource_id"] == "gemma"
        assert models["under-test/gemma"]["model_type"] == "llm"


# -- vLLM specifics against the scripted server -------------------------------------------------------------------

pytestmark = pytest.mark.anyio
CHAT = {"model": "vllm/m", "messages": [{"role": "user", "content": "hi"}]}


def vllm_config(tmp_path, base_url: str, **config: Any) -> dict[str, Any]:
    config = {"base_url": base_url, "refresh_models": False, **config}
    return provider_run_config(tmp_path, PROVIDER_TYPE, config, provider_id="vllm")


def sdk(client: httpx.AsyncClient, **headers: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://stack/v1", api_key="x", http_client=client, max_retries=0, default_headers=headers or None
    )


async def test_vllm_parameters_and_extras_pass_through(tmp_path, scripted):
    scripted.reply(
        json=chat_completion(
            "a",
            model="m",
            choices=[
                {"index": 0, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"},
                {"index": 1, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "stop"},
            ],
        )
    )
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url, api_key="cfg-token")) as client:
        completion = await sdk(client).chat.completions.create(
            **CHAT,
            n=2,
            max_completion_tokens=5,
            logprobs=True,
            top_logprobs=2,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            extra_body={"top_k": 20, "guided_decoding_backend": "xgrammar"},
        )
    assert [c.index for c in completion.choices] == [0, 1]
    sent = scripted.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer cfg-token"
    assert sent.json == {
        **CHAT,
        "model": "m",
        "n": 2,
        "max_tokens": 5,
        "logprobs": True,
        "top_logprobs": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        "top_k": 20,
        "guided_decoding_backend": "xgrammar",
    }


async def test_per_request_token_wins_and_no_token_is_needed(tmp_path, scripted):
    scripted.reply(json=chat_completion())
    scripted.reply(json=chat_completion())
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url, api_key="cfg-token")) as client:
        header = {"X-LlamaStack-Provider-Data": json.dumps({"vllm_api_token": "request-token"})}
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=header)).status_code == 200
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url)) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    with_request_token, without_any = scripted.requests[-2:]
    assert with_request_token.headers["authorization"] == "Bearer request-token"
    assert "authorization" not in without_any.headers  # vLLM started without --api-key takes no key


async def test_start_up_registers_the_listed_models_with_their_context_length(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "data": [
                {
                    "id": "meta-llama/Llama-3.1-8B-Instruct",
                    "object": "model",
                    "created": 1,
                    "owned_by": "vllm",
                    "root": "meta-llama/Llama-3.1-8B-Instruct",
                    "parent": None,
                    "max_model_len": 8192,
                    "permission": [],
                },
                {
                    "id": "my-lora",
                    "object": "model",
                    "created": 1,
                    "owned_by": "vllm",
                    "root": "/adapters/my-lora",
                    "parent": "meta-llama/Llama-3.1-8B-Instruct",
                    "max_model_len": None,
                },
            ],
        }
    )
    scripted.reply(json=chat_completion())
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url, refresh_models=True)) as client:
        models = {m["identifier"]: m for m in (await client.get("/v1/models")).json()["data"]}
        await client.post("/v1/chat/completions", json={**CHAT, "model": "vllm/meta-llama/Llama-3.1-8B-Instruct"})
    listing, chat = scripted.requests
    assert (listing.method, listing.path) == ("GET", "/v1/models")
    assert models["vllm/meta-llama/Llama-3.1-8B-Instruct"]["metadata"] == {"context_length": 8192}
    assert models["vllm/my-lora"]["model_type"] == "llm" and models["vllm/my-lora"]["metadata"] == {}
    assert chat.json["model"] == "meta-llama/Llama-3.1-8B-Instruct"


async def test_a_server_down_at_start_up_does_not_stop_the_stack(tmp_path):
    config = vllm_config(tmp_path, f"http://127.0.0.1:{free_port()}/v1", refresh_models=True)
    async with plugin_stack(plugin, config) as client:
        models = (await client.get("/v1/models")).json()["data"]
        providers = (await client.get("/v1/providers")).json()["data"]
        chat = await client.post("/v1/chat/completions", json=CHAT)
    assert models == []
    assert providers[0]["health"]["status"] == "Error"
    assert chat.status_code == 502 and "cannot reach vllm" in chat.json()["error"]["message"]


async def test_embeddings_request_and_answer(tmp_path, scripted):
    answer = {
        "id": "embd-1",
        "object": "list",
        "created": 1,
        "model": "intfloat/e5-small-v2",
        "data": [
            {"index": 0, "object": "embedding", "embedding": [0.1, 0.2, 0.3]},
            {"index": 1, "object": "embedding", "embedding": [0.3, 0.2, 0.1]},
        ],
        "usage": {"prompt_tokens": 6, "total_tokens": 6, "completion_tokens": 0},
    }
    scripted.reply(json=answer)
    models = [
        {
            "model_id": "e5",
            "provider_id": "vllm",
            "provider_model_id": "intfloat/e5-small-v2",
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 3},
        }
    ]
    async with plugin_stack(plugin, {**vllm_config(tmp_path, scripted.base_url), "models": models}) as client:
        batch = await sdk(client).embeddings.create(model="e5", input=["a cat", "a dog"], encoding_format="float")
    assert [d.embedding for d in batch.data] == [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]
    assert batch.usage.prompt_tokens == 6
    sent = scripted.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.json == {"model": "intfloat/e5-small-v2", "input": ["a cat", "a dog"], "encoding_format": "float"}


async def test_vllm_error_body_keeps_its_status_and_message(tmp_path, scripted):
    # vLLM's ErrorResponse: {"object": "error", "message", "type", "param", "code"}
    scripted.reply(
        status=400,
        json={
            "object": "error",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
            "message": '"auto" tool choice requires --enable-auto-tool-choice',
        },
    )
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "tool_choice": "auto",
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            },
        )
    assert response.status_code == 400
    assert "--enable-auto-tool-choice" in response.json()["error"]["message"]


async def test_streamed_choices_pass_through(tmp_path, scripted):
    first, second = chat_chunk("a"), chat_chunk("b", finish_reason="stop")
    second["choices"][0]["index"] = 1
    usage = {**chat_chunk(""), "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    scripted.reply(stream=[first, second, usage])
    async with plugin_stack(plugin, vllm_config(tmp_path, scripted.base_url)) as client:
        stream = await sdk(client).chat.completions.create(
            **CHAT, n=2, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert [(c.choices[0].index, c.choices[0].delta.content) for c in chunks[:2]] == [(0, "a"), (1, "b")]
    assert chunks[-1].usage.total_tokens == 5
    assert scripted.requests[-1].json["stream_options"] == {"include_usage": True}


@pytest.mark.slow
def test_stack_serve_finds_the_provider_by_its_entry_point(tmp_path):
    with ScriptedServer() as scripted:
        scripted.reply(
            json={
                "object": "list",
                "data": [
                    {"id": "served-model", "object": "model", "created": 1, "owned_by": "vllm", "max_model_len": 4096}
                ],
            }
        )
        scripted.reply(json=chat_completion("served", model="served-model"))
        config = vllm_config(tmp_path, scripted.base_url, refresh_models=True)
        with served_stack(config, tmp_path) as url:
            chat = httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": "vllm/served-model"})
            providers = httpx.get(f"{url}/v1/providers").json()["data"]  # its health check lists models again
    assert providers[0]["provider_type"] == PROVIDER_TYPE and providers[0]["package"] == "llama-stack-provider-vllm"
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"] == "served"
