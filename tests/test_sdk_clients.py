"""Real client SDKs, unchanged, against ``stack serve``: the ``openai`` SDK and ``llama-stack-client``."""

from __future__ import annotations

import openai
import pytest
from llama_stack_client import APIStatusError as StackStatusError
from llama_stack_client import LlamaStackClient
from llama_stack_client import NotFoundError as StackNotFound
from stack_test_plugin import echo_providers, recorder_providers

from llama_stack_core.testing.harness import make_run_config, served_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_url(tmp_path_factory, plugin_env):
    tmp = tmp_path_factory.mktemp("sdk")
    config = make_run_config(
        {"inference": echo_providers("alpha", "beta"), **recorder_providers()},
        tmp,
        models=[{"model_id": "chat-model", "provider_id": "alpha", "provider_model_id": "llm"}],
    )
    with served_stack(config, tmp, env=plugin_env) as url:
        yield url


def test_openai_sdk(server_url):
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused")
    ids = {m.id for m in client.models.list()}
    assert {"chat-model", "alpha-default-embedding"} <= ids
    completion = client.chat.completions.create(model="chat-model", messages=[{"role": "user", "content": "hey"}])
    assert completion.choices[0].message.content == "alpha:llm: hey"
    assert completion.usage.total_tokens > 0
    stream = client.chat.completions.create(
        model="beta/raw", messages=[{"role": "user", "content": "a b c"}], stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == "beta:raw: a b c"
    embeddings = client.embeddings.create(model="alpha-default-embedding", input=["x", "y"])
    assert [len(e.embedding) for e in embeddings.data] == [8, 8]
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="chat-model", messages=[{"role": "nobody", "content": "x"}])


def test_openai_sdk_stream_error_raises(server_url):
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused")
    stream = client.chat.completions.create(
        model="chat-model", stream=True, messages=[{"role": "user", "content": "ok FAIL"}]
    )
    with pytest.raises(openai.APIError, match="dropped"):
        for _ in stream:
            pass


def test_llama_stack_client(server_url):
    client = LlamaStackClient(base_url=server_url, provider_data={"echo_api_key": "from-client"})
    assert client.inspect.health().status == "OK"
    assert client.inspect.version().version
    registered = client.models.register(
        model_id="sdk-model", provider_id="beta", provider_model_id="beta-llm", metadata={"context_length": 4096}
    )
    assert registered.identifier == "sdk-model" and registered.provider_id == "beta"
    assert "sdk-model" in {m.identifier for m in client.models.list()}
    assert client.models.retrieve("sdk-model").provider_resource_id == "beta-llm"
    answer = client.chat.completions.create(model="sdk-model", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "beta[from-client]:beta-llm: hi"
    client.models.unregister("sdk-model")
    with pytest.raises(StackNotFound):
        client.models.retrieve("sdk-model")
    client.shields.register(shield_id="sdk-shield")
    assert [s.identifier for s in client.shields.list()] == ["sdk-shield"]
    providers = {p.provider_id: p for p in client.providers.list()}
    assert providers["alpha"].provider_type == "inline::echo"
    assert any(r.route == "/v1/chat/completions" for r in client.routes.list())


def test_agent_apis_without_a_provider_answer_501_naming_the_api(server_url):
    """Both SDKs' agent calls reach the route of their API, which answers 501 naming the config section to add."""
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused")
    stack = LlamaStackClient(base_url=server_url)
    calls = {
        "responses": [
            lambda: client.responses.create(model="chat-model", input="hi"),
            lambda: stack.responses.create(model="chat-model", input="hi"),
        ],
        "conversations": [
            lambda: client.conversations.create(items=[{"role": "user", "content": "hi"}]),
            lambda: client.conversations.items.list("conv_1"),
        ],
        "agents": [
            lambda: stack.agents.create(agent_config={"model": "chat-model", "instructions": "be brief"}),
            lambda: stack.agents.session.create("agent-1", session_name="s"),
        ],
    }
    for api, api_calls in calls.items():
        for call in api_calls:
            with pytest.raises((openai.APIStatusError, StackStatusError)) as failed:
                call()
            assert failed.value.status_code == 501
            assert f"providers.{api} " in failed.value.message
