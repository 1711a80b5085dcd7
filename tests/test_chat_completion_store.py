"""Stored chat completions (the inference store) through the ``openai`` SDK: every answer the stack gives, streamed or
not, is listed by ``GET /v1/chat/completions`` and returned with its input messages; writes are batched off the
request path, flushed at a clean stop, shared by servers on one store, and cost nothing when switched off."""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import stack_test_plugin
from stack_test_plugin import echo_providers

from llama_stack_core.apis.inference import ChatCompletionRequest, ListChatCompletionsRequest
from llama_stack_core.config.model import InferenceStoreSettings
from llama_stack_core.errors import ConfigError
from llama_stack_core.inference.chat_store import ChatCompletionStore
from llama_stack_core.plugins import PluginManager
from llama_stack_core.routing import Operation
from llama_stack_core.storage import StorageBackend, open_kvstore
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import chat_completion
from llama_stack_core.testing.waiting import eventually

pytestmark = pytest.mark.anyio

USER = {"role": "user", "content": "hello there"}


def config(directory: Path, storage: dict[str, Any] | None = None, **store: Any) -> dict[str, Any]:
    providers = {"inference": echo_providers("alpha", "beta")}
    run_config = make_run_config(
        providers, directory, models=[{"model_id": "chat-model", "provider_id": "alpha", "provider_model_id": "llm"}]
    )
    if storage is not None:
        run_config["storage"] = storage
    if store:
        run_config["inference_store"] = store
    return run_config


@asynccontextmanager
async def sdk(run_config: dict[str, Any]):
    async with stack_client(run_config, PluginManager(extra_plugins=[stack_test_plugin])) as http:
        client = openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)
        client.http = http  # type: ignore[attr-defined]
        client.stack = http.app.state.stack  # type: ignore[attr-defined]
        yield client


async def test_answers_are_stored_with_their_input_messages(tmp_path):
    async with sdk(config(tmp_path)) as client:
        messages = [{"role": "system", "content": "be brief"}, USER]
        plain = await client.chat.completions.create(model="chat-model", messages=messages)
        stream = await client.chat.completions.create(
            model="beta/raw", messages=[{"role": "user", "content": "a b c"}], stream=True
        )
        streamed_id = None
        async for chunk in stream:
            streamed_id = chunk.id

        page = await client.chat.completions.list()
        assert [c.id for c in page.data] == [streamed_id, plain.id]  # newest first
        assert page.has_more is False

        stored = await client.chat.completions.retrieve(plain.id)
        assert stored.choices[0].message.content == "alpha:llm: hello there"
        assert stored.model == "chat-model"  # the model id the client asked for
        assert stored.usage.total_tokens == plain.usage.total_tokens
        assert stored.input_messages == messages  # type: ignore[attr-defined]

        whole = await client.chat.completions.retrieve(streamed_id)
        assert whole.object == "chat.completion"
        assert whole.choices[0].message.content == "beta:raw: a b c"
        assert whole.choices[0].finish_reason == "stop"

        listed = [m async for m in client.chat.completions.messages.list(plain.id, limit=1)]
        assert [(m.id, m.role, m.content) for m in listed] == [
            (f"{plain.id}-0", "system", "be brief"),
            (f"{plain.id}-1", "user", "hello there"),
        ]


async def test_tool_calls_are_kept_streamed_or_not(tmp_path, scripted):
    run_config = config(tmp_path)
    run_config["providers"]["inference"].append(
        {"provider_id": "compat", "provider_type": "remote::openai-compat", "config": {"base_url": scripted.base_url}}
    )
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
    scripted.reply(
        json=chat_completion(
            id="chatcmpl-tools",
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    "finish_reason": "tool_calls",
                }
            ],
        )
    )

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        head = {"id": "chatcmpl-streamed-tools", "object": "chat.completion.chunk", "created": 7, "model": "m"}
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    scripted.reply(
        stream=[
            chunk({"role": "assistant", "tool_calls": [{"index": 0, **call, "function": {"name": "weather"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            chunk({}, "tool_calls"),
            {**chunk({}), "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        ]
    )
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    history = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    async with sdk(run_config) as client:
        await client.chat.completions.create(model="compat/m", messages=history, tools=tools)
        stream = await client.chat.completions.create(model="compat/m", messages=[USER], tools=tools, stream=True)
        async for _ in stream:
            pass
        plain = await client.chat.completions.retrieve("chatcmpl-tools")
        streamed = await client.chat.completions.retrieve("chatcmpl-streamed-tools")
    assert plain.choices[0].message.tool_calls[0].model_dump() == call
    assert plain.input_messages == history  # type: ignore[attr-defined]
    assert streamed.choices[0].message.tool_calls[0].model_dump() == call
    assert streamed.choices[0].finish_reason == "tool_calls"
    assert streamed.usage.total_tokens == 8
    assert streamed.created == 7


async def test_cursor_pages_order_and_model_filter(tmp_path):
    async with sdk(config(tmp_path)) as client:
        made = []
        for i in range(5):
            model = "alpha/x" if i % 2 == 0 else "beta/y"
            made.append((await client.chat.completions.create(model=model, messages=[USER])).id)

        oldest_first = [c.id async for c in client.chat.completions.list(limit=2, order="asc")]
        assert oldest_first == made  # three pages of 2, 2, 1, followed with `after`
        first = await client.chat.completions.list(limit=2)
        assert [c.id for c in first.data] == made[:2:-1] and first.has_more is True
        following = await client.chat.completions.list(limit=2, after=first.data[-1].id)
        assert [c.id for c in following.data] == [made[2], made[1]]
        last = (await client.http.get("/v1/chat/completions", params={"after": made[1], "limit": 2})).json()
        assert [c["id"] for c in last["data"]] == [made[0]] and last["has_more"] is False
        assert (last["first_id"], last["last_id"]) == (made[0], made[0])

        alpha = [c.id async for c in client.chat.completions.list(model="alpha/x", limit=1, order="asc")]
        assert alpha == made[::2]
        beta = await client.chat.completions.list(model="beta/y")
        assert [c.id for c in beta.data] == [made[3], made[1]]
        assert {c.model for c in beta.data} == {"beta/y"}
        assert (await client.chat.completions.list(model="nobody")).data == []

        with pytest.raises(openai.BadRequestError, match="chatcmpl-missing"):
            await client.chat.completions.list(after="chatcmpl-missing")


async def test_unknown_id_and_bad_queries_answer_json_errors(tmp_path):
    async with sdk(config(tmp_path)) as client:
        with pytest.raises(openai.NotFoundError, match="chatcmpl-nope"):
            await client.chat.completions.retrieve("chatcmpl-nope")
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.messages.list("chatcmpl-nope")
        for params in ({"limit": 0}, {"limit": "many"}, {"order": "sideways"}, {"colour": "red"}):
            response = await client.http.get("/v1/chat/completions", params=params)
            assert response.status_code == 422, params
            assert response.json()["error"]["message"]


async def test_streams_that_fail_or_are_refused_storage_are_not_stored(tmp_path):
    async with sdk(config(tmp_path)) as client:
        stream = await client.chat.completions.create(
            model="chat-model", stream=True, messages=[{"role": "user", "content": "ok FAIL"}]
        )
        with pytest.raises(openai.APIError, match="dropped"):
            async for _ in stream:
                pass
        await client.chat.completions.create(model="chat-model", messages=[USER], store=False)
        kept = await client.chat.completions.create(model="chat-model", messages=[USER])
        assert [c.id for c in (await client.chat.completions.list()).data] == [kept.id]


async def test_switched_off_nothing_is_written_and_the_list_is_empty(tmp_path):
    async with sdk(config(tmp_path, enabled=False)) as client:
        await client.chat.completions.create(model="chat-model", messages=[USER])
        assert client.stack.chat_completions is None
        router = client.stack.routers[next(a for a in client.stack.routers if a.value == "inference")]
        assert type(router.operations["openai_chat_completion"]) is Operation  # the plain call path
        page = await client.chat.completions.list()
        assert page.data == [] and page.has_more is False
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.retrieve("anything")
    with sqlite3.connect(tmp_path / "registry.db") as db:
        assert db.execute("SELECT count(*) FROM kvstore WHERE key LIKE 'inference_store:%'").fetchone() == (0,)


async def test_a_clean_stop_writes_what_is_queued(tmp_path):
    run_config = config(tmp_path, flush_interval_seconds=3600, batch_size=1000)
    async with sdk(run_config) as client:
        made = [(await client.chat.completions.create(model="chat-model", messages=[USER])).id for _ in range(30)]
        assert client.stack.chat_completions.written == 0  # all still queued
    async with sdk(config(tmp_path)) as client:
        assert [c.id async for c in client.chat.completions.list(order="asc")] == made


async def test_two_servers_on_one_store_see_each_others_completions(tmp_path):
    run_config = config(tmp_path, flush_interval_seconds=0.05)
    async with sdk(run_config) as first, sdk(run_config) as second:
        made = await first.chat.completions.create(model="chat-model", messages=[USER])

        async def listed_on_second() -> bool:
            return [c.id for c in (await second.chat.completions.list()).data] == [made.id]

        await eventually(listed_on_second, what="the first server's completion, listed on the second")
        assert (await second.chat.completions.retrieve(made.id)).input_messages == [USER]  # type: ignore[attr-defined]


async def test_store_section_is_checked(tmp_path):
    with pytest.raises((ConfigError, ValueError), match="colour"):
        async with sdk(config(tmp_path, colour="red")):
            pass


@pytest.mark.postgres
async def test_two_servers_share_completions_on_postgres(tmp_path, postgres_storage):
    run_config = config(tmp_path, storage=postgres_storage, flush_interval_seconds=0.05)
    async with sdk(run_config) as first, sdk(run_config) as second:
        made = [(await first.chat.completions.create(model="alpha/x", messages=[USER])).id for _ in range(3)]
        made.append((await second.chat.completions.create(model="beta/y", messages=[USER])).id)

        async def listed_on_second() -> bool:
            return [c.id async for c in second.chat.completions.list(order="asc", limit=2)] == made

        await eventually(listed_on_second, what="both servers' completions, in order, on the second")
        assert [c.id for c in (await first.chat.completions.list(model="alpha/x")).data] == made[2::-1]


async def test_a_full_queue_drops_and_a_bad_answer_spoils_only_itself(tmp_path):
    kv = await open_kvstore(StorageBackend(type="kv_sqlite", db_path=str(tmp_path / "kv.db")), "inference_store")
    store = ChatCompletionStore(kv, InferenceStoreSettings(max_write_queue=2, flush_interval_seconds=3600))
    store.start()
    request = ChatCompletionRequest(model="m", messages=[USER])
    try:
        store.add(request, {"object": "chat.completion", "choices": []})  # no id: cannot be stored
        store.add(request, chat_completion(id="chatcmpl-good"))
        store.add(request, chat_completion(id="chatcmpl-over"))  # the queue holds two
        await store.drain(5)
        assert (store.written, store.failed, store.dropped) == (1, 1, 1)
        page = orjson.loads(await store.list(ListChatCompletionsRequest()))
        assert [c["id"] for c in page["data"]] == ["chatcmpl-good"]
        store.add(request, chat_completion(id="chatcmpl-late"))  # after the stop: not queued
        assert store.dropped == 2
    finally:
        await kv.close()
