"""Quotas (``server.quota``): requests per window and tokens per day, per user, team and anonymous client address,
counted in a KV store that several stacks share (SQLite file, PostgreSQL); 429 with ``Retry-After``; streams open
per user; with no ``server.quota`` the app is not wrapped."""

from __future__ import annotations

import asyncio
import math
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from stack_test_plugin import echo_providers

from llama_stack_core.auth.keys import hash_key
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import ConfigError
from llama_stack_core.server.app import StackApp, create_app
from llama_stack_core.testing.harness import make_run_config
from llama_stack_core.testing.scripted import ScriptedServer, text_turn
from llama_stack_core.testing.waiting import eventually

pytestmark = pytest.mark.anyio

KEYS = {name: f"lsk-{name}-0123456789abcdefghijklmnop" for name in ("alice", "bob", "carol")}
TEAMS = {"alice": ["blue"], "bob": ["blue"], "carol": ["red"]}
CHAT = {"model": "alpha/m", "messages": [{"role": "user", "content": "hello there"}]}
T0 = 1_700_000_000.25  # a fixed instant for the injected clock: 2023-11-14 22:13:20.25 UTC


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def quota_config(tmp_path, quota: dict[str, Any], *, auth: bool = False, providers=None, **extra: Any) -> dict:
    config = make_run_config(providers or {"inference": echo_providers("alpha")}, tmp_path, **extra)
    config["server"] = {"quota": quota}
    if auth:
        config["server"]["auth"] = {
            "api_keys": [{"name": n, "key_hash": hash_key(k), "teams": TEAMS[n]} for n, k in KEYS.items()]
        }
    config["models"] = [
        {"model_id": "alpha/m", "provider_id": "alpha", "provider_model_id": "m"},
        {
            "model_id": "alpha/e",
            "provider_id": "alpha",
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 4},
        },
    ]
    return config


def client_for(app: StackApp, address: str = "10.0.0.1", key: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    headers = {"Authorization": f"Bearer {KEYS[key]}"} if key else {}
    return httpx.AsyncClient(transport=transport, base_url="http://stack", headers=headers, timeout=30)


async def started(stack: AsyncExitStack, config: dict, pm, clock: Clock | None = None) -> StackApp:
    app = create_app(parse_run_config(config), pm)
    await stack.enter_async_context(app.running())
    if clock is not None:
        app.quotas.counts.clock = clock
    return app


def operations(app: StackApp) -> list[Any]:
    return [op for router in app.state.stack.routers.values() for op in router.operations.values()]


def refused(response: httpx.Response, budget: bool = True) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "rate_limit_exceeded" and error["code"] == "429"
    assert error["message"].startswith("quota exceeded: ") == budget
    return error


# -- requests per window -------------------------------------------------------------------------------------------


async def test_requests_per_period_are_refused_with_retry_after_until_the_window_ends(tmp_path, pm):
    clock = Clock()
    config = quota_config(tmp_path, {"period": "2 s", "anonymous_max_requests": 3})
    async with AsyncExitStack() as stack:
        app = await started(stack, config, pm, clock)
        async with client_for(app) as client, client_for(app, "10.0.0.2") as other:
            for _ in range(3):
                assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
            over = await client.post("/v1/chat/completions", json=CHAT)
            error = refused(over)
            window_end = (math.floor(T0 / 2) + 1) * 2
            assert over.headers["retry-after"] == str(math.ceil(window_end - T0))  # 1.75 s -> 2
            assert "this client address may make 3 requests per 2 s" in error["message"]
            assert (await client.get("/v1/models")).status_code == 429  # every route counts
            assert (await client.get("/v1/health")).status_code == 200  # health checks are exempt
            assert (await other.post("/v1/chat/completions", json=CHAT)).status_code == 200  # its own bucket

            clock.now = window_end + 0.01
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_requests_per_minute_per_user(tmp_path, pm):
    clock = Clock()
    config = quota_config(tmp_path, {"per_user": {"requests_per_minute": 2}}, auth=True)
    async with AsyncExitStack() as stack:
        app = await started(stack, config, pm, clock)
        async with client_for(app, key="alice") as alice, client_for(app, key="carol") as carol:
            assert [(await alice.get("/v1/models")).status_code for _ in range(2)] == [200, 200]
            over = await alice.get("/v1/models")
            assert "user 'alice' may make 2 requests per minute" in refused(over)["message"]
            assert over.headers["retry-after"] == str(math.ceil(60 - T0 % 60))
            assert (await carol.get("/v1/models")).status_code == 200  # another key, another count
            clock.now += 60
            assert (await alice.get("/v1/models")).status_code == 200


async def test_teams_share_one_budget_and_a_refused_request_is_not_counted(tmp_path, pm):
    clock = Clock()
    quota = {"per_user": {"requests_per_minute": 10}, "per_team": {"requests_per_minute": 3}}
    async with AsyncExitStack() as stack:
        app = await started(stack, quota_config(tmp_path, quota, auth=True), pm, clock)
        clients = {name: await stack.enter_async_context(client_for(app, key=name)) for name in KEYS}
        for name in ("alice", "bob", "alice"):  # three requests of team blue, from two keys
            assert (await clients[name].get("/v1/models")).status_code == 200
        over = await clients["bob"].get("/v1/models")
        assert "team 'blue' may make 3 requests per minute" in refused(over)["message"]
        assert (await clients["carol"].get("/v1/models")).status_code == 200  # team red has its own
        counts = app.quotas.counts
        assert counts.current("u:bob:rpm", 60.0)[0].total == 1  # the refused request took nothing from bob
        assert counts.current("t:blue:rpm", 60.0)[0].total == 3


# -- tokens per day ------------------------------------------------------------------------------------------------


async def test_tokens_per_day_from_the_metered_usage(tmp_path, pm):
    clock = Clock()
    async with AsyncExitStack() as stack:
        probe = await started(stack, quota_config(tmp_path / "probe", {"anonymous_max_requests": None}), pm)
        async with client_for(probe) as client:  # what one echo answer costs (its usage is known)
            per_chat = (await client.post("/v1/chat/completions", json=CHAT)).json()["usage"]["total_tokens"]
        limit = 2 * per_chat + 1  # the second chat starts under the limit, finishes over it
        config = quota_config(tmp_path, {"anonymous": {"tokens_per_day": limit}, "anonymous_max_requests": None})
        app = await started(stack, config, pm, clock)
        async with client_for(app) as client, client_for(app, "10.0.0.2") as other:
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
            embed = await client.post("/v1/embeddings", json={"model": "alpha/e", "input": "one"})
            assert embed.status_code == 200 and embed.json()["usage"]["total_tokens"] == 1
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200  # admitted under it
            assert app.quotas.counts.current("a:10.0.0.1:tokens", 86400.0)[0].total == 2 * per_chat + 1
            over = await client.post("/v1/chat/completions", json=CHAT)
            assert f"this client address may use {limit} tokens per day" in refused(over)["message"]
            assert over.headers["retry-after"] == str(math.ceil(86400 - T0 % 86400))  # until midnight UTC
            assert (await other.post("/v1/chat/completions", json=CHAT)).status_code == 200
            clock.now += 86400
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200  # a new day


async def test_a_streams_tokens_count_and_streams_open_per_user_are_bounded(tmp_path, pm):
    with ScriptedServer() as upstream:
        providers = {
            "inference": [
                {
                    "provider_id": "alpha",
                    "provider_type": "remote::openai-compat",
                    "config": {"base_url": upstream.base_url},
                }
            ]
        }
        quota = {"per_user": {"max_concurrent_streams": 1, "tokens_per_day": 1000}}
        config = quota_config(tmp_path, quota, auth=True, providers=providers)
        config["models"] = config["models"][:1]
        async with AsyncExitStack() as stack:
            app = await started(stack, config, pm)
            alice, bob = client_for(app, key="alice"), client_for(app, key="bob")
            body = {**CHAT, "stream": True}
            upstream.reply(stream=text_turn("one", "two"), hold_after=2)
            held = asyncio.ensure_future(alice.post("/v1/chat/completions", json=body))
            await eventually(lambda: len(upstream.requests) == 1, what="the first stream to start")
            await asyncio.sleep(0.05)

            second = await alice.post("/v1/chat/completions", json=body)
            error = refused(second, budget=False)
            assert "user 'alice' has 1 streaming answers open" in error["message"]
            assert len(upstream.requests) == 1  # refused before reaching the vendor
            upstream.reply(stream=text_turn("b"))
            assert (await bob.post("/v1/chat/completions", json=body)).status_code == 200  # bob's own slot

            upstream.release()
            assert (await held).status_code == 200
            tokens = app.quotas.counts.current("u:alice:tokens", 86400.0)[0].total
            assert tokens == 7 + 2  # the usage of the stream's last chunk (text_turn: 7 in, one per piece out)
            upstream.reply(stream=text_turn("again"))
            assert (await alice.post("/v1/chat/completions", json=body)).status_code == 200  # slot given back
            await alice.aclose()
            await bob.aclose()


# -- shared counts -------------------------------------------------------------------------------------------------


def shared_store_config(tmp_path, name: str, backend: dict, quota: dict) -> dict:
    config = quota_config(tmp_path / name, {**quota, "kvstore": "quota_db"})
    config["storage"]["backends"]["quota_db"] = backend
    return config


async def _share_one_count(tmp_path, pm, backend: dict) -> None:
    quota = {"anonymous_max_requests": 4}
    async with AsyncExitStack() as stack:
        one = await started(stack, shared_store_config(tmp_path, "one", backend, quota), pm)
        two = await started(stack, shared_store_config(tmp_path, "two", backend, quota), pm)
        c1 = await stack.enter_async_context(client_for(one))
        c2 = await stack.enter_async_context(client_for(two))
        statuses = [(await c.post("/v1/chat/completions", json=CHAT)).status_code for c in (c1, c2, c1, c2, c1, c2)]
        assert statuses == [200, 200, 200, 200, 429, 429]

        # far from a limit, counts stay in memory and are written in batches, then seen by the other stack
        big = {"anonymous_max_requests": 10_000}
        three = await started(stack, shared_store_config(tmp_path, "three", backend, big), pm)
        four = await started(stack, shared_store_config(tmp_path, "four", backend, big), pm)
        c3 = await stack.enter_async_context(client_for(three, "10.0.0.9"))
        before = three.quotas.counts.round_trips
        for _ in range(50):
            assert (await c3.get("/v1/models")).status_code == 200
        assert three.quotas.counts.round_trips - before <= 10  # not one store round trip per request
        await three.quotas.counts.sync()
        async with client_for(four, "10.0.0.9") as c4:  # its first request of the window reads the shared count
            assert (await c4.get("/v1/models")).status_code == 200
        assert four.quotas.counts.current("a:10.0.0.9:requests", 86400.0)[0].known == 51


async def test_two_stacks_on_one_sqlite_file_share_one_count(tmp_path, pm):
    await _share_one_count(tmp_path, pm, {"type": "kv_sqlite", "db_path": str(tmp_path / "quota.db")})


@pytest.mark.postgres
async def test_two_stacks_on_postgres_share_one_count(tmp_path, pm, postgres_dsn):
    await _share_one_count(tmp_path, pm, {"type": "kv_postgres", "dsn": postgres_dsn})


# -- clients, config and cost --------------------------------------------------------------------------------------


async def test_the_openai_sdk_sees_a_rate_limit_error_with_retry_after(tmp_path, pm):
    import openai

    config = quota_config(tmp_path, {"per_user": {"requests_per_minute": 1}}, auth=True)
    async with AsyncExitStack() as stack:
        app = await started(stack, config, pm, Clock())
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stack")
        sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key=KEYS["alice"], http_client=http, max_retries=0)
        await sdk.chat.completions.create(model="alpha/m", messages=CHAT["messages"])
        with pytest.raises(openai.RateLimitError) as failed:
            await sdk.chat.completions.create(model="alpha/m", messages=CHAT["messages"])
        assert failed.value.response.headers["retry-after"] == str(math.ceil(60 - T0 % 60))
        assert "quota exceeded" in failed.value.message
        await sdk.close()


async def test_without_server_quota_the_app_is_not_wrapped(tmp_path, pm):
    from llama_stack_core.quota.middleware import QuotaMiddleware
    from llama_stack_core.quota.tokens import ChargingOperation
    from llama_stack_core.server.app import RoutedApp

    async with AsyncExitStack() as stack:
        config = quota_config(tmp_path / "off", {})
        del config["server"]["quota"]
        app = await started(stack, config, pm)
        assert app.quotas is None and type(app.http) is RoutedApp
        assert not any(isinstance(op, ChargingOperation) for op in operations(app))
        requests_only = await started(stack, quota_config(tmp_path / "on", {}), pm)
        assert isinstance(requests_only.http, QuotaMiddleware)
        ops = operations(requests_only)
        assert not any(isinstance(op, ChargingOperation) for op in ops)  # no token budget: answers not charged
        tokens = await started(stack, quota_config(tmp_path / "tokens", {"per_team": {"tokens_per_day": 5}}), pm)
        assert any(isinstance(op, ChargingOperation) for op in operations(tokens))


def test_quota_config_errors_are_one_line(tmp_path):
    base = make_run_config({"inference": echo_providers("alpha")}, tmp_path)
    for quota, words in (
        ({"max_requests": 5}, "unknown key server.quota.max_requests"),
        ({"per_team": {"max_concurrent_streams": 1}}, "unknown key server.quota.per_team.max_concurrent_streams"),
        ({"kvstore": "nowhere"}, "no storage store or backend named 'nowhere'"),
        ({"period": "fortnight"}, "period 'fortnight' is not a duration"),
    ):
        with pytest.raises(ConfigError) as failed:
            parse_run_config({**base, "server": {"quota": quota}}, where="run.yaml")
        assert words in str(failed.value)
    upstream = parse_run_config(
        {
            **base,
            "server": {"quota": {"kvstore": {"backend": "kv_default"}, "period": "day", "anonymous_max_requests": 5}},
        }
    )
    assert upstream.server.quota.period == 86400 and upstream.server.quota.kvstore.namespace == "quota"


def test_the_documented_example_is_a_valid_config(tmp_path):
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).parent.parent / "deploy" / "README.md").read_text()
    section = readme[readme.index("## Quotas: `server.quota`") :]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S)[1])
    config = parse_run_config({**make_run_config({"inference": echo_providers("alpha")}, tmp_path), **example})
    quota = config.server.quota
    assert quota.period == 86400 and quota.per_team.tokens_per_day == 20_000_000


async def test_an_unreachable_store_is_a_503_not_a_traceback(tmp_path, pm):
    class Down:
        async def get(self, key):
            raise ConnectionError("quota database down")

        insert = compare_and_set = get

    async with AsyncExitStack() as stack:
        app = await started(stack, quota_config(tmp_path, {"anonymous_max_requests": 5}), pm)
        app.quotas.counts.store = Down()
        async with client_for(app) as client:
            response = await client.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 503 and response.json()["error"]["type"] == "service_unavailable"
        assert response.headers["retry-after"] == "1" and "Traceback" not in response.text
