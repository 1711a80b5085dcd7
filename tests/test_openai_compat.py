"""The shared OpenAI-compatible adapter: conformance against a real llama-cpp-python server, and the failure modes
and quirks a real server can't show, against a scripted server speaking the same wire format."""

from __future__ import annotations

import json

import httpx
import pytest
import stack_test_plugin

from llama_stack_core.testing.harness import make_run_config, served_stack, stack_client
from llama_stack_core.testing.inference import InferenceProviderTests
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion


class TestAdapterOnLlamaCppServer(InferenceProviderTests):
    provider_type = "remote::openai-compat"
    chat_model = "gemma"
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "completions", "deterministic", "tools", "logprobs", "json_object"}
    )
    extra_plugins = [stack_test_plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, llama_cpp_base_url):
        return {"base_url": llama_cpp_base_url}


CHAT = {"model": "compat/m", "messages": [{"role": "user", "content": "hi"}]}


def compat_config(tmp_path, base_url: str, **config) -> dict:
    return make_run_config(
        {
            "inference": [
                {
                    "provider_id": "compat",
                    "provider_type": "remote::openai-compat",
                    "config": {"base_url": base_url, **config},
                }
            ]
        },
        tmp_path,
    )


pytestmark = pytest.mark.anyio


async def test_upstream_4xx_keeps_status_and_vendor_message(tmp_path, scripted, pm):
    scripted.reply(status=400, json={"error": {"message": "model 'm' does not support tools", "type": "bad"}})
    scripted.reply(status=429, json={"error": {"message": "rate limited"}})
    scripted.reply(status=503, raw=b"upstream overloaded")
    async with stack_client(compat_config(tmp_path, scripted.base_url), pm) as client:
        bad = await client.post("/v1/chat/completions", json=CHAT)
        limited = await client.post("/v1/chat/completions", json=CHAT)
        broken = await client.post("/v1/chat/completions", json=CHAT)
    assert bad.status_code == 400 and "does not support tools" in bad.json()["error"]["message"]
    assert limited.status_code == 429 and "rate limited" in limited.json()["error"]["message"]
    assert broken.status_code == 502 and "overloaded" in broken.json()["error"]["message"]


async def test_unreachable_upstream_is_502_and_timeout_is_504(tmp_path, scripted, pm):
    from llama_stack_core.testing.harness import free_port

    async with stack_client(compat_config(tmp_path, f"http://127.0.0.1:{free_port()}/v1"), pm) as client:
        down = await client.post("/v1/chat/completions", json=CHAT)
    scripted.reply(json=chat_completion(), delay=2)
    async with stack_client(compat_config(tmp_path, scripted.base_url, timeout=0.3), pm) as client:
        slow = await client.post("/v1/chat/completions", json=CHAT)
    assert down.status_code == 502 and "cannot reach" in down.json()["error"]["message"]
    assert slow.status_code == 504


async def test_answers_pass_through_and_requests_are_shaped_for_the_vendor(tmp_path, scripted, pm):
    scripted.reply(json=chat_completion("from upstream", model="vendor-model", vendor_field=42))
    async with stack_client(compat_config(tmp_path, scripted.base_url), pm) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "max_completion_tokens": 5,
                "logit_bias": {"1": 2},
                "temperature": 0.5,
                "vendor_extra": "kept",
            },
            headers={"X-LlamaStack-Provider-Data": json.dumps({"compat_api_key": "per-request-key"})},
        )
    assert response.json()["vendor_field"] == 42  # passed through untouched
    assert response.json()["choices"][0]["message"]["content"] == "from upstream"
    sent = scripted.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer per-request-key"
    assert sent.json == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.5,
        "vendor_extra": "kept",
    }


async def test_configured_key_is_sent_and_never_shown(tmp_path, scripted, pm):
    scripted.reply(json=chat_completion())
    config = compat_config(tmp_path, scripted.base_url, api_key="sk-configured-777")
    async with stack_client(config, pm) as client:
        await client.post("/v1/chat/completions", json=CHAT)
        providers = await client.get("/v1/providers")
    assert scripted.requests[-1].headers["authorization"] == "Bearer sk-configured-777"
    assert "sk-configured-777" not in providers.text


async def test_midstream_failure_ends_with_an_sse_error_event(tmp_path, scripted, pm):
    scripted.reply(stream=[chat_chunk("a"), chat_chunk("b"), chat_chunk("c")], drop_after=2)
    async with stack_client(compat_config(tmp_path, scripted.base_url), pm) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [json.loads(e[len("data: ") :]) for e in response.text.split("\n\n") if e]
    assert [e["choices"][0]["delta"]["content"] for e in events[:2]] == ["a", "b"]
    assert events[-1]["error"]["code"] == "502"


@pytest.mark.slow
def test_streaming_is_passed_through_chunk_by_chunk(tmp_path, plugin_env):
    with ScriptedServer() as scripted:
        scripted.reply(stream=[chat_chunk("first"), chat_chunk(" second", finish_reason="stop")], hold_after=1)
        with served_stack(compat_config(tmp_path, scripted.base_url), tmp_path, env=plugin_env) as url:
            received = []
            with httpx.stream("POST", f"{url}/v1/chat/completions", json={**CHAT, "stream": True}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
                        if len(received) == 1:
                            # the upstream is still holding the second event: the first arrived on its own
                            scripted.release()
    assert received == ["first", " second"]
