"""remote::tgi: the core's Inference conformance class against a real llama-cpp-python server (standing in for TGI's
Messages API), then TGI's own behaviour against the scripted server: the one model from GET /info, response_format
as a TGI grammar, unused n / logit_bias, no embeddings, HF-token auth and TGI's error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_stack_provider_tgi import plugin

from llama_stack_core.testing.harness import free_port, plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import chat_completion

PROVIDER_TYPE = "remote::tgi"
MODEL_ID = "meta-llama/Llama-3.1-8B-Instruct"


class TestTGI(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # No json_object here: TGI's grammar form of response_format is not what the llama.cpp server reads.
    capabilities = frozenset({"chat", "streaming", "max_tokens", "deterministic", "tools", "logprobs", "completions"})
    local_config = {"refresh_models": False}  # llama.cpp has no GET /info
    live_env = {"base_url": "TGI_URL"}  # a TGI server of yours; it serves the one model it was started with


# -- TGI specifics against the scripted server --------------------------------------------------------------------

pytestmark = pytest.mark.anyio
CHAT = {"model": f"tgi/{MODEL_ID}", "messages": [{"role": "user", "content": "hi"}]}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
INFO = {
    "model_id": MODEL_ID,
    "model_sha": "0e9e39f249a16976918f6564b8830bc894c89659",
    "model_pipeline_tag": "text-generation",
    "max_concurrent_requests": 128,
    "max_best_of": 2,
    "max_stop_sequences": 4,
    "max_input_tokens": 8191,
    "max_total_tokens": 8192,
    "validation_workers": 2,
    "max_client_batch_size": 4,
    "router": "text-generation-router",
    "version": "3.3.4",
    "sha": None,
    "docker_label": None,
}


def tgi_config(tmp_path, base_url: str, **config: Any) -> dict[str, Any]:
    config = {"base_url": base_url, "refresh_models": False, **config}
    return provider_run_config(tmp_path, PROVIDER_TYPE, config, provider_id="tgi")


async def test_the_served_model_is_registered_from_info(tmp_path, scripted):
    scripted.reply(json=INFO)
    scripted.reply(json=chat_completion(model=MODEL_ID))
    async with plugin_stack(
        plugin, tgi_config(tmp_path, f"http://127.0.0.1:{scripted.port}", refresh_models=True)
    ) as client:
        models = (await client.get("/v1/models")).json()["data"]
        chat = await client.post("/v1/chat/completions", json=CHAT)
    info, sent = scripted.requests
    assert (info.method, info.path) == ("GET", "/info")
    assert [(m["identifier"], m["model_type"], m["metadata"]) for m in models] == [
        (f"tgi/{MODEL_ID}", "llm", {"context_length": 8192})
    ]
    assert chat.status_code == 200 and sent.path == "/v1/chat/completions" and sent.json["model"] == MODEL_ID


async def test_response_format_becomes_a_tgi_grammar(tmp_path, scripted):
    for _ in range(3):
        scripted.reply(json=chat_completion(model=MODEL_ID))
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url)) as client:
        for response_format in (
            {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}},
            {"type": "json_object"},
            {"type": "text"},
        ):
            response = await client.post("/v1/chat/completions", json={**CHAT, "response_format": response_format})
            assert response.status_code == 200
    schema, any_object, text = (r.json for r in scripted.requests)
    assert schema["response_format"] == {"type": "json", "value": SCHEMA}
    assert any_object["response_format"] == {"type": "json", "value": {"type": "object"}}
    assert "response_format" not in text


async def test_unused_fields_are_dropped_and_n_above_one_is_refused(tmp_path, scripted):
    scripted.reply(json=chat_completion(model=MODEL_ID))
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url)) as client:
        several = await client.post("/v1/chat/completions", json={**CHAT, "n": 3})
        ok = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "n": 1,
                "logit_bias": {"42": 5},
                "max_completion_tokens": 7,
                "logprobs": True,
                "top_logprobs": 2,
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            },
        )
    assert several.status_code == 400 and several.json()["error"]["param"] == "n"
    assert ok.status_code == 200 and len(scripted.requests) == 1
    sent = scripted.requests[0].json
    assert "n" not in sent and "logit_bias" not in sent
    assert (sent["max_tokens"], sent["logprobs"], sent["top_logprobs"]) == (7, True, 2)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "f"}}


async def test_embeddings_are_refused_without_calling_tgi(tmp_path, scripted):
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url)) as client:
        response = await client.post("/v1/embeddings", json={"model": "tgi/bge", "input": "hello"})
    assert response.status_code == 400 and "no embeddings" in response.json()["error"]["message"]
    assert scripted.requests == []


async def test_hf_token_from_config_or_request_and_none_for_a_local_server(tmp_path, scripted):
    for _ in range(3):
        scripted.reply(
            json={
                "id": "c",
                "object": "text_completion",
                "created": 1,
                "model": MODEL_ID,
                "choices": [{"index": 0, "text": "x", "finish_reason": "length"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )
    body = {"model": CHAT["model"], "prompt": "Once", "max_tokens": 1}
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url, api_key="hf_configured")) as client:
        await client.post("/v1/completions", json=body)
        await client.post(
            "/v1/completions",
            json=body,
            headers={"X-LlamaStack-Provider-Data": json.dumps({"tgi_api_key": "hf_per_request"})},
        )
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url)) as client:
        await client.post("/v1/completions", json=body)
    configured, per_request, local = scripted.requests
    assert configured.path == "/v1/completions"
    assert configured.headers["authorization"] == "Bearer hf_configured"
    assert per_request.headers["authorization"] == "Bearer hf_per_request"
    assert "authorization" not in local.headers


async def test_tgi_error_body_keeps_its_status_and_message(tmp_path, scripted):
    # TGI's ErrorResponse: {"error": "...", "error_type": "validation"} with 422
    scripted.reply(
        status=422,
        json={
            "error": "Input validation error: `stop` supports up to 4 stop sequences. Given: 5",
            "error_type": "validation",
        },
    )
    async with plugin_stack(plugin, tgi_config(tmp_path, scripted.base_url)) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stop": list("abcde")})
    assert response.status_code == 422
    assert "up to 4 stop sequences" in response.json()["error"]["message"]


async def test_a_server_down_at_start_up_does_not_stop_the_stack(tmp_path):
    config = tgi_config(tmp_path, f"http://127.0.0.1:{free_port()}", refresh_models=True)
    async with plugin_stack(plugin, config) as client:
        models = (await client.get("/v1/models")).json()["data"]
    assert models == []
