"""inline::builtin responses: the engine end to end through the stack with the real ``openai`` SDK, against a scripted
model that streams the exact chat-completion wire format (tool calls included), so multi-step loops are deterministic.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import llama_stack_provider_agents.plugin as agents_plugin
import openai
import pytest

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import stack_client
from llama_stack_core.testing.scripted import ScriptedServer

sys.path.insert(0, str(Path(__file__).with_name("support")))

from scripted_turns import MODEL, call_turn, model_run_config, sent_messages, text_turn

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def model() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def run_config(tmp_path: Path, model: ScriptedServer, **extra: Any) -> dict[str, Any]:
    return model_run_config(tmp_path, model, **extra)


@pytest.fixture
async def client(tmp_path: Path, model: ScriptedServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with stack_client(run_config(tmp_path, model), PluginManager(extra_plugins=[agents_plugin])) as http:
        yield openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)


async def test_a_text_answer_is_returned_and_stored(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    model.reply(stream=text_turn("Hello", ", world"))
    response = await client.responses.create(model=MODEL, input="hi", instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == "Hello, world"
    assert response.usage.input_tokens == 7 and response.usage.output_tokens == 2
    assert sent_messages(model) == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert model.requests[-1].json["stream"] is True
    stored = await client.responses.retrieve(response.id)
    assert stored.output_text == "Hello, world" and stored.instructions == "Be brief."
    items = await client.responses.input_items.list(response.id)
    assert [(i.type, i.role) for i in items.data] == [("message", "user")]


async def test_stream_events_come_in_openais_order(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    model.reply(stream=text_turn("Hel", "lo"))
    events = [event async for event in await client.responses.create(model=MODEL, input="hi", stream=True)]
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "Hello"
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert item_ids == {events[2].item.id}


async def test_the_sdk_stream_helper_gives_the_final_response(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    model.reply(stream=text_turn("one ", "two"))
    async with client.responses.stream(model=MODEL, input="count") as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert deltas == ["one ", "two"]
    assert final.output_text == "one two" and final.status == "completed"


async def test_a_function_call_goes_to_the_caller_and_resumes(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    model.reply(stream=call_turn("get_weather", {"city": "Paris"}))
    first = await client.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert model.requests[-1].json["tools"][0]["function"]["name"] == "get_weather"
    model.reply(stream=text_turn("Sunny in Paris."))
    second = await client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"sky": "clear"}'}],
        tools=[WEATHER],
    )
    assert second.output_text == "Sunny in Paris."
    sent = sent_messages(model)
    assert sent[0] == {"role": "user", "content": "Weather in Paris?"}
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == calls[0].call_id
    assert sent[2] == {"role": "tool", "tool_call_id": calls[0].call_id, "content": '{"sky": "clear"}'}


async def test_streamed_function_call_arguments(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    model.reply(stream=call_turn("get_weather", {"city": "Rome"}))
    events = [e async for e in await client.responses.create(model=MODEL, input="Rome?", tools=[WEATHER], stream=True)]
    kinds = [e.type for e in events]
    assert kinds[2] == "response.output_item.added" and events[2].item.type == "function_call"
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert "".join(deltas) == done.arguments == json.dumps({"city": "Rome"})
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]


async def test_chaining_carries_the_transcript(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    model.reply(stream=text_turn("I am Ada."))
    first = await client.responses.create(model=MODEL, input="Who are you?", instructions="You are Ada.")
    model.reply(stream=text_turn("You asked who I am."))
    await client.responses.create(model=MODEL, input="What did I ask?", previous_response_id=first.id)
    assert sent_messages(model) == [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am Ada."},
        {"role": "user", "content": "What did I ask?"},
    ]


async def test_a_conversation_gets_the_input_and_output(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    conversation = await client.conversations.create(items=[{"type": "message", "role": "user", "content": "Earlier."}])
    model.reply(stream=text_turn("Noted."))
    await client.responses.create(model=MODEL, input="Now.", conversation=conversation.id)
    assert [m["content"] for m in sent_messages(model)] == ["Earlier.", "Now."]
    items = await client.conversations.items.list(conversation.id, order="asc")
    assert [(i.role, i.content[0].text) for i in items.data] == [
        ("user", "Earlier."),
        ("user", "Now."),
        ("assistant", "Noted."),
    ]


async def test_stored_responses_are_listed_and_deleted(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    ids = []
    for word in ("a", "b", "c"):
        model.reply(stream=text_turn(word))
        ids.append((await client.responses.create(model=MODEL, input=word)).id)
    model.reply(stream=text_turn("unstored"))
    unstored = await client.responses.create(model=MODEL, input="x", store=False)
    http = client._client
    page = (await http.get("http://stack/v1/responses", params={"limit": 2})).json()
    assert [r["id"] for r in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    rest = (await http.get("http://stack/v1/responses", params={"limit": 2, "after": ids[1]})).json()
    assert [r["id"] for r in rest["data"]] == [ids[0]] and rest["has_more"] is False
    assert rest["data"][0]["input"][0]["content"] == "a"
    await client.responses.delete(ids[0])
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(ids[0])
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(unstored.id)


async def test_bad_requests_name_what_is_wrong(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    with pytest.raises(openai.NotFoundError, match="no-such-model"):
        await client.responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.NotFoundError, match="resp_missing"):
        await client.responses.create(model=MODEL, input="hi", previous_response_id="resp_missing")
    with pytest.raises(openai.NotFoundError, match="conv_missing"):
        await client.responses.create(model=MODEL, input="hi", conversation="conv_missing")
    with pytest.raises(openai.UnprocessableEntityError, match="input"):
        await client.responses.create(model=MODEL)  # type: ignore[call-overload]
    assert model.requests == []  # nothing reached the model


async def test_an_upstream_failure_mid_run_fails_the_response(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    model.reply(status=500, json={"error": {"message": "boom"}})
    response = await client.responses.create(model=MODEL, input="hi")
    assert response.status == "failed"
    assert "boom" in response.error.message


async def test_a_callers_function_call_ends_the_response_within_max_infer_iters(
    tmp_path: Path, model: ScriptedServer
) -> None:
    """A call of the caller's function ends the response at once, whatever max_infer_iters allows (the served-tool
    loop that reaches max_infer_iters is in test_responses_tools.py)."""
    config = run_config(tmp_path, model)
    async with stack_client(config, PluginManager(extra_plugins=[agents_plugin])) as http:
        for _ in range(2):
            model.reply(stream=call_turn("get_weather", {"city": "Oslo"}))
        response = (
            await http.post(
                "/v1/responses",
                json={"model": MODEL, "input": "hi", "tools": [WEATHER], "max_infer_iters": 1},
            )
        ).json()
    assert response["status"] == "completed"  # a caller's function call ends the response
    assert [i["type"] for i in response["output"]] == ["function_call"]
