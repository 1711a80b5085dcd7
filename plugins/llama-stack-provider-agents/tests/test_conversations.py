"""inline::builtin conversations: the core's conformance kit on SQLite and PostgreSQL, plus what only a store shared
by server processes shows (a restart keeps everything, two stacks appending at once lose nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_agents import plugin

from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.conversations import ConversationsProviderTests, texts, user
from llama_stack_core.testing.fixtures import create_postgres_database
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light

PROVIDER_TYPE = "inline::builtin"


class TestBuiltinConversations(ConversationsProviderTests):
    provider_type = PROVIDER_TYPE
    extra_plugins = [plugin]


@pytest.mark.postgres
class TestBuiltinConversationsOnPostgres(TestBuiltinConversations):
    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path, postgres_uri: str) -> dict[str, Any]:
        backend = {"type": "kv_postgres", "dsn": create_postgres_database(postgres_uri, "conv")}
        return {"persistence": {"backend": backend, "namespace": "conversations"}}


def test_plugin_import_is_cheap_and_registers_the_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_agents.plugin",
        ["llama_stack_provider_agents.conversations", "llama_stack_core.agents"],
        call=["register_conversations_providers"],
    )
    spec = PluginManager(extra_plugins=[plugin]).provider_spec(Api.conversations, PROVIDER_TYPE)
    assert spec.spec.factory == "llama_stack_provider_agents.conversations:create_provider"


# -- a store shared across processes and restarts -------------------------------------------------------------------


def conversations_config(directory: Path, persistence: dict[str, Any] | None = None) -> dict[str, Any]:
    config = {} if persistence is None else {"persistence": persistence}
    entry = {"provider_id": "builtin", "provider_type": PROVIDER_TYPE, "config": config}
    return make_run_config({"conversations": [entry]}, directory)


def sdk(http: Any) -> Any:
    openai = pytest.importorskip("openai")
    return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)


def stack(config: dict[str, Any]) -> Any:
    return stack_client(config, PluginManager(extra_plugins=[plugin]))


@pytest.mark.anyio
async def test_a_restart_keeps_conversations_items_and_order(tmp_path: Path) -> None:
    config = conversations_config(tmp_path)
    async with stack(config) as http:
        client = sdk(http)
        conversation = await client.conversations.create(items=[user("one")], metadata={"k": "v"})
        await client.conversations.items.create(conversation.id, items=[user("two"), user("three")])
        gone = await client.conversations.create(items=[user("deleted")])
        await client.conversations.delete(gone.id)
    async with stack(config) as http:
        client = sdk(http)
        again = await client.conversations.retrieve(conversation.id)
        assert again.model_dump() == conversation.model_dump()
        assert texts((await client.conversations.items.list(conversation.id, order="asc")).data) == [
            "one",
            "two",
            "three",
        ]
        await client.conversations.items.create(conversation.id, items=[user("four")])
        assert texts((await client.conversations.items.list(conversation.id, limit=1)).data) == ["four"]
        assert (await http.get(f"/v1/conversations/{gone.id}")).status_code == 404


async def appends_from_two_stacks(config: dict[str, Any]) -> None:
    """Two stacks (two connections to one store) append to one conversation at once: nothing lost, each append's
    items contiguous and in order, and both stacks list the same."""
    async with stack(config) as http_a, stack(config) as http_b:
        a, b = sdk(http_a), sdk(http_b)
        conversation = await a.conversations.create()

        async def append(client: Any, name: str, rounds: int) -> None:
            for n in range(rounds):
                batch = [user(f"{name}{n}-{part}") for part in range(2)]
                await client.conversations.items.create(conversation.id, items=batch)

        await asyncio.gather(append(a, "a", 10), append(b, "b", 10), append(a, "c", 10), append(b, "d", 10))
        listed = texts((await b.conversations.items.list(conversation.id, order="asc", limit=1000)).data)
        assert len(listed) == 80
        assert sorted(listed) == sorted(f"{w}{n}-{p}" for w in "abcd" for n in range(10) for p in range(2))
        for start in range(0, 80, 2):
            round_name = listed[start].split("-")[0]
            assert listed[start : start + 2] == [f"{round_name}-0", f"{round_name}-1"]
        for writer in "abcd":  # one writer's rounds keep their order
            mine = [t for t in listed if t.startswith(writer) and t.endswith("-0")]
            assert mine == [f"{writer}{n}-0" for n in range(10)]
        from_a = (await a.conversations.items.list(conversation.id, order="asc", limit=1000)).data
        assert texts(from_a) == listed


@pytest.mark.anyio
async def test_two_stacks_on_one_sqlite_store_append_concurrently(tmp_path: Path) -> None:
    await appends_from_two_stacks(conversations_config(tmp_path))


@pytest.mark.anyio
@pytest.mark.postgres
async def test_two_stacks_on_one_postgres_store_append_concurrently(tmp_path: Path, postgres_dsn: str) -> None:
    persistence = {"backend": {"type": "kv_postgres", "dsn": postgres_dsn}, "namespace": "conversations"}
    await appends_from_two_stacks(conversations_config(tmp_path, persistence))
