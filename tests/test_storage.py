"""The KV stores (SQLite and a real PostgreSQL) behave the same, and the registry persists on both."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stack_test_plugin
from stack_test_plugin import echo_providers

from llama_stack_core.plugins import PluginManager
from llama_stack_core.storage import StorageBackend, open_kvstore
from llama_stack_core.testing.harness import make_run_config, served_stack, stack_client

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> StorageBackend:
    if request.param == "sqlite":
        return StorageBackend(type="kv_sqlite", db_path=str(tmp_path / "kv.db"))
    storage = request.getfixturevalue("postgres_storage")
    return StorageBackend.model_validate(storage["backends"]["pg"])


async def test_kvstore_contract(backend):
    store = await open_kvstore(backend, "ns")
    other = await open_kvstore(backend, "other")
    try:
        assert await store.get("a") is None
        await store.set("a", '{"v": 1}')
        await store.set("a", '{"v": 2}')
        assert await store.get("a") == '{"v": 2}'
        assert await store.insert("b", "first") is True
        assert await store.insert("b", "second") is False
        assert await store.get("b") == "first"
        await store.set("c:1", "x")
        await store.set("c:2", "y")
        await store.set("d", "z")
        assert await store.items("c:") == [("c:1", "x"), ("c:2", "y")]
        assert [k for k, _ in await store.items()] == ["a", "b", "c:1", "c:2", "d"]
        assert await other.items() == []  # namespaces are isolated
        await other.set("a", "other")
        assert await store.get("a") == '{"v": 2}'
        assert await store.delete("a") is True
        assert await store.delete("a") is False
        assert await store.get("a") is None
    finally:
        await store.close()
        await other.close()


async def test_set_many_and_scan_page_in_key_order(backend):
    store = await open_kvstore(backend, "scan")
    other = await open_kvstore(backend, "scan2")
    try:
        await store.set_many([(f"t:{i:03d}", str(i)) for i in (3, 1, 2, 5, 4)] + [("u:1", "other prefix")])
        await other.set("t:000", "other namespace")
        assert await store.scan("t:") == [(f"t:{i:03d}", str(i)) for i in range(1, 6)]
        assert await store.scan("t:", limit=2) == [("t:001", "1"), ("t:002", "2")]
        assert await store.scan("t:", after="t:002", limit=2) == [("t:003", "3"), ("t:004", "4")]
        assert await store.scan("t:", reverse=True, limit=2) == [("t:005", "5"), ("t:004", "4")]
        assert await store.scan("t:", after="t:002", reverse=True) == [("t:001", "1")]
        assert await store.scan("t:", after="t:005") == []
        await store.set_many([("t:001", "one")])  # replaces
        assert await store.get("t:001") == "one"
        await store.set_many([])
    finally:
        await store.close()
        await other.close()


async def test_concurrent_inserts_have_one_winner(backend):
    stores = [await open_kvstore(backend, "race") for _ in range(4)]
    try:
        results = await asyncio.gather(*(s.insert("key", f"writer-{i}") for i, s in enumerate(stores)))
        assert sorted(results) == [False, False, False, True]
        assert await stores[0].get("key") == f"writer-{results.index(True)}"
    finally:
        for s in stores:
            await s.close()


async def test_compare_and_set_loses_no_concurrent_update(backend):
    stores = [await open_kvstore(backend, "cas") for _ in range(4)]
    try:
        assert await stores[0].compare_and_set("n", "0", "1") is False  # an absent key is never set
        assert await stores[0].get("n") is None
        await stores[0].set("n", "0")

        async def increment(store, times: int) -> None:
            for _ in range(times):
                while True:
                    current = await store.get("n")
                    if await store.compare_and_set("n", current, str(int(current) + 1)):
                        break

        await asyncio.gather(*(increment(s, 25) for s in stores))
        assert await stores[0].get("n") == "100"
    finally:
        for s in stores:
            await s.close()


async def test_registry_on_postgres_survives_restart(tmp_path, postgres_storage):
    config = make_run_config({"inference": echo_providers("alpha")}, tmp_path)
    config["storage"] = postgres_storage
    async with stack_client(config, PluginManager(extra_plugins=[stack_test_plugin])) as client:
        created = (await client.post("/v1/models", json={"model_id": "pg-model"})).json()
    async with stack_client(config, PluginManager(extra_plugins=[stack_test_plugin])) as client:
        assert (await client.get("/v1/models/pg-model")).json() == created


@pytest.mark.slow
def test_two_servers_on_one_postgres_share_registrations(tmp_path, postgres_storage, plugin_env):
    config = make_run_config({"inference": echo_providers("alpha")}, tmp_path)
    config["storage"] = postgres_storage
    chat = {"model": "shared", "messages": [{"role": "user", "content": "hi"}]}
    with served_stack(config, tmp_path, env=plugin_env) as one, served_stack(config, tmp_path, env=plugin_env) as two:
        assert (
            httpx.post(f"{one}/v1/models", json={"model_id": "shared", "provider_model_id": "llm"}).status_code == 200
        )
        assert httpx.get(f"{two}/v1/models/shared").json()["provider_resource_id"] == "llm"
        assert (
            httpx.post(f"{two}/v1/chat/completions", json=chat).json()["choices"][0]["message"]["content"]
            == "alpha:llm: hi"
        )
        assert httpx.post(f"{two}/v1/models", json={"model_id": "shared"}).status_code == 409
        assert httpx.delete(f"{two}/v1/models/shared").status_code == 200
        assert httpx.get(f"{one}/v1/models/shared").status_code == 404
        assert "shared" not in {m["id"] for m in httpx.get(f"{one}/v1/models").json()["data"]}
