"""remote::ollama: the core's Inference conformance class against a real llama-cpp-python server (standing in for
Ollama's OpenAI-compatible /v1 API), then Ollama's own behaviour against the scripted server: model listing through
the native /api/tags and /api/show, the request fields Ollama does not support, and embeddings."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from llama_stack_provider_ollama import plugin

from llama_stack_core.testing.harness import free_port, plugin_stack, provider_run_config
from llama_stack_core.testing.inference import OpenAICompatVendorTests
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

PROVIDER_TYPE = "remote::ollama"


class TestOllama(OpenAICompatVendorTests):
    plugin = plugin
    provider_type = PROVIDER_TYPE
    # Ollama's documented features that the llama.cpp server can show; no "tools": Ollama cannot force a tool call.
    capabilities = frozenset(
        {"chat", "streaming", "max_tokens", "deterministic", "json_object", "logprobs", "completions"}
    )
    local_config = {}  # base_url ".../v1": the server root is kept, /v1 is added per call
    live_env = {"base_url": "OLLAMA_URL"}  # an Ollama server of yours, with a model pulled


# -- Ollama specifics against the scripted server -----------------------------------------------------------------

pytestmark = pytest.mark.anyio
CHAT = {"model": "ollama/llama3.2:3b", "messages": [{"role": "user", "content": "hi"}]}
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def ollama_config(tmp_path, server: ScriptedServer | str, **config: Any) -> dict[str, Any]:
    root = server if isinstance(server, str) else f"http://127.0.0.1:{server.port}"
    return provider_run_config(tmp_path, PROVIDER_TYPE, {"base_url": root, **config}, provider_id="ollama")


def tag(name: str, family: str) -> dict[str, Any]:
    """One entry of GET /api/tags, as Ollama documents it."""
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    }


def show(arch: str, capabilities: list[str] | None, **model_info: Any) -> dict[str, Any]:
    """A POST /api/show answer (capabilities is None for servers that predate the field)."""
    answer = {
        "modelfile": "FROM ...",
        "parameters": "num_ctx 4096",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": arch},
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "model_info": {
            "general.architecture": arch,
            "general.parameter_count": 3212749888,
            **{f"{arch}.{key}": value for key, value in model_info.items()},
        },
    }
    if capabilities is not None:
        answer["capabilities"] = capabilities
    return answer


def test_base_url_is_the_server_root():
    from llama_stack_provider_ollama.config import OllamaConfig

    assert OllamaConfig().base_url == "http://localhost:11434"
    assert OllamaConfig(base_url="http://gpu-box:11434/v1/").base_url == "http://gpu-box:11434"


async def test_start_up_lists_models_through_the_native_api(tmp_path, scripted):
    scripted.reply(
        json={
            "models": [
                tag("llama3.2:3b", "llama"),
                tag("nomic-embed-text:latest", "nomic-bert"),
                tag("all-minilm:l6-v2", "bert"),
                tag("odd-embed:latest", "odd"),
            ]
        }
    )
    scripted.reply(json=show("llama", ["completion", "tools"], context_length=131072, embedding_length=3072))
    scripted.reply(json=show("nomic-bert", ["embedding"], context_length=2048, embedding_length=768))
    scripted.reply(json=show("bert", None, context_length=512, embedding_length=384))  # an older server
    scripted.reply(json=show("odd", ["embedding"]))  # no embedding_length: cannot be registered
    async with plugin_stack(plugin, ollama_config(tmp_path, scripted, refresh_models=True)) as client:
        models = {m["identifier"]: m for m in (await client.get("/v1/models")).json()["data"]}
    listing, *shows = scripted.requests
    assert (listing.method, listing.path) == ("GET", "/api/tags")
    assert [(r.method, r.path, r.json) for r in shows] == [
        ("POST", "/api/show", {"model": name})
        for name in ("llama3.2:3b", "nomic-embed-text:latest", "all-minilm:l6-v2", "odd-embed:latest")
    ]
    assert set(models) == {"ollama/llama3.2:3b", "ollama/nomic-embed-text:latest", "ollama/all-minilm:l6-v2"}
    llm, nomic, minilm = (models[f"ollama/{n}"] for n in ("llama3.2:3b", "nomic-embed-text:latest", "all-minilm:l6-v2"))
    assert (llm["model_type"], llm["metadata"]) == ("llm", {"context_length": 131072})
    assert llm["provider_resource_id"] == "llama3.2:3b"
    assert (nomic["model_type"], nomic["metadata"]) == (
        "embedding",
        {"embedding_dimension": 768, "context_length": 2048},
    )
    assert (minilm["model_type"], minilm["metadata"]) == (
        "embedding",
        {"embedding_dimension": 384, "context_length": 512},
    )


async def test_unsupported_chat_fields_are_dropped_and_no_key_is_sent(tmp_path, scripted):
    scripted.reply(json=chat_completion(model="llama3.2:3b"))
    scripted.reply(json=chat_completion(model="llama3.2:3b"))
    async with plugin_stack(plugin, ollama_config(tmp_path, scripted)) as client:
        forced = await client.post(
            "/v1/chat/completions",
            json={
                **CHAT,
                "tools": TOOLS,
                "tool_choice": "required",
                "logit_bias": {"1": 2},
                "user": "u",
                "n": 1,
                "max_completion_tokens": 9,
                "seed": 3,
                "response_format": {"type": "json_object"},
            },
        )
        none = await client.post("/v1/chat/completions", json={**CHAT, "tools": TOOLS, "tool_choice": "none"})
    assert forced.status_code == none.status_code == 200
    forced_sent, none_sent = scripted.requests
    assert forced_sent.path == "/v1/chat/completions" and "authorization" not in forced_sent.headers
    assert forced_sent.json == {
        **CHAT,
        "model": "llama3.2:3b",
        "tools": TOOLS,
        "max_tokens": 9,
        "seed": 3,
        "response_format": {"type": "json_object"},
    }
    assert none_sent.json == {**CHAT, "model": "llama3.2:3b"}  # "none" honoured by not offering the tools


async def test_what_ollama_cannot_serve_is_refused_before_calling_it(tmp_path, scripted):
    async with plugin_stack(plugin, ollama_config(tmp_path, scripted)) as client:
        several = await client.post("/v1/chat/completions", json={**CHAT, "n": 2})
        batch = await client.post("/v1/completions", json={"model": CHAT["model"], "prompt": ["a", "b"]})
        echo = await client.post("/v1/completions", json={"model": CHAT["model"], "prompt": "a", "echo": True})
        tokens = await client.post("/v1/embeddings", json={"model": "ollama/all-minilm", "input": [[1, 2, 3]]})
    for response, param in ((several, "n"), (batch, "prompt"), (echo, "echo"), (tokens, "input")):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
    assert scripted.requests == []


async def test_completions_take_one_prompt_string(tmp_path, scripted):
    scripted.reply(
        json={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "llama3.2:3b",
            "choices": [{"index": 0, "text": " Paris.", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
    )
    async with plugin_stack(plugin, ollama_config(tmp_path, scripted)) as client:
        response = await client.post(
            "/v1/completions",
            json={"model": CHAT["model"], "prompt": ["The capital is"], "suffix": "!", "best_of": 1, "max_tokens": 4},
        )
    assert response.json()["choices"][0]["text"] == " Paris."
    sent = scripted.requests[-1]
    assert sent.path == "/v1/completions"
    assert sent.json == {"model": "llama3.2:3b", "prompt": "The capital is", "suffix": "!", "max_tokens": 4}


async def test_embeddings_request_and_answer(tmp_path, scripted):
    scripted.reply(
        json={
            "object": "list",
            "model": "nomic-embed-text",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -0.5]},
                {"object": "embedding", "index": 1, "embedding": [0.25, 0.75]},
            ],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
    )
    models = [
        {
            "model_id": "nomic",
            "provider_id": "ollama",
            "provider_model_id": "nomic-embed-text",
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 2},
        }
    ]
    async with plugin_stack(plugin, {**ollama_config(tmp_path, scripted), "models": models}) as client:
        sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key="x", http_client=client, max_retries=0)
        batch = await sdk.embeddings.create(
            model="nomic",
            input=["why is the sky blue?", "why is the grass green?"],
            dimensions=2,
            user="someone",
            encoding_format="float",
        )
    assert [d.embedding for d in batch.data] == [[0.5, -0.5], [0.25, 0.75]]
    sent = scripted.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.json == {
        "model": "nomic-embed-text",
        "input": ["why is the sky blue?", "why is the grass green?"],
        "dimensions": 2,
        "encoding_format": "float",
    }


async def test_health_and_a_server_down_at_start_up(tmp_path, scripted):
    scripted.reply(json={"models": []})
    async with plugin_stack(plugin, ollama_config(tmp_path, scripted)) as client:
        healthy = (await client.get("/v1/providers")).json()["data"][0]["health"]
    down = ollama_config(tmp_path, f"http://127.0.0.1:{free_port()}", refresh_models=True)
    async with plugin_stack(plugin, down) as client:
        models = (await client.get("/v1/models")).json()["data"]
        chat = await client.post("/v1/chat/completions", json=CHAT)
    assert healthy == {"status": "OK"} and scripted.requests[-1].path == "/api/tags"
    assert models == []
    assert chat.status_code == 502
