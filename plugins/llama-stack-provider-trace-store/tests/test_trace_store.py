"""inline::trace-store: the core's Telemetry conformance kit on SQLite and PostgreSQL; the write path (queued, batched),
root detection, retention, the tables and indexes, query errors, datasets, restarts, two processes on one PostgreSQL
store; end to end with the llama-cpp provider and a real ``stack serve`` (SQLite and PostgreSQL), and ``stack traces``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2] / "tests" / "support"), str(HERE / "support")]

import rows_plugin
import stack_test_plugin
from llama_stack_provider_trace_store.config import TraceStoreConfig
from llama_stack_provider_trace_store.db import SqliteDialect
from llama_stack_provider_trace_store.provider import TraceStore, create_provider

from llama_stack_core.apis.telemetry import (
    GetSpanTreeRequest,
    GetTraceRequest,
    LogEventRequest,
    QueryMetricsRequest,
    QuerySpansRequest,
    QueryTracesRequest,
)
from llama_stack_core.errors import NotFoundError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing import make_run_config, stack_client
from llama_stack_core.testing.fixtures import create_postgres_database
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.telemetry import TelemetryProviderTests
from llama_stack_core.testing.waiting import eventually, eventually_sync
from llama_stack_core.token_usage import UsagePoint
from llama_stack_core.tracing import SpanRecord

PROVIDER_TYPE = "inline::trace-store"


class TestTraceStoreSqlite(TelemetryProviderTests):
    provider_type = PROVIDER_TYPE
    extra_plugins = [stack_test_plugin]


@pytest.mark.postgres
class TestTraceStorePostgres(TelemetryProviderTests):
    provider_type = PROVIDER_TYPE
    extra_plugins = [stack_test_plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, postgres_uri: str) -> dict[str, Any]:
        dsn = create_postgres_database(postgres_uri)
        return {"persistence": {"backend": {"type": "sql_postgres", "dsn": dsn}, "namespace": "telemetry"}}


# -- the provider on its own: write path, roots, retention ------------------------------------------------------

DAY_NS = 86400 * 1_000_000_000


def sqlite_config(tmp_path: Path, **settings: Any) -> TraceStoreConfig:
    return TraceStoreConfig.model_validate(
        {
            "persistence": {
                "backend": {"type": "sqlite", "db_path": str(tmp_path / "traces.db")},
                "namespace": "telemetry",
            },
            **settings,
        }
    )


@asynccontextmanager
async def trace_store(config: TraceStoreConfig) -> AsyncIterator[TraceStore]:
    store = await create_provider(config, {})
    try:
        yield store
    finally:
        await store.shutdown()


def span(
    trace: str,
    span_id: str,
    parent: str | None,
    start_ns: int,
    name: str = "work",
    duration_ns: int = 1000,
    **attributes: Any,
) -> SpanRecord:
    return SpanRecord(
        trace.rjust(32, "0"),
        span_id.rjust(16, "0"),
        parent.rjust(16, "0") if parent else None,
        name,
        start_ns,
        start_ns + duration_ns,
        attributes=attributes,
    )


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.anyio
async def test_export_only_queues_the_writer_writes_in_batches(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, flush_interval_seconds=3600, batch_size=100)
    now = time.time_ns()
    async with trace_store(config) as store:
        await store.export_spans(
            [
                span(f"{t}", f"{t}{i}", None if i == 0 else f"{t}0", now + t * 10 + i)
                for t in range(1, 51)
                for i in range(6)
            ]
        )
        assert len(store._queue) == 300 and count_rows(tmp_path / "traces.db", "telemetry_spans") == 0
        await store.flush()
        assert count_rows(tmp_path / "traces.db", "telemetry_spans") == 300
        traces = (await store.query_traces(QueryTracesRequest(limit=1000))).data
        assert len(traces) == 50 and {t.span_count for t in traces} == {6}
        assert all(t.root_span_id == f"{int(t.trace_id)}0".rjust(16, "0") for t in traces)
        assert (await store.health())["spans_written"] == 300


@pytest.mark.anyio
async def test_shutdown_returns_when_the_writer_was_just_woken(tmp_path: Path) -> None:
    # Python 3.11's wait_for can lose a cancellation that races with the event it waits on: the writer then never
    # finished and a server hung on shutdown after a burst of spans.
    now = time.time_ns()
    for round_ in range(5):
        store = await create_provider(
            sqlite_config(tmp_path / str(round_), batch_size=10, flush_interval_seconds=3600), {}
        )
        await asyncio.sleep(0)  # the writer is waiting for its wake-up
        await store.export_spans([span(f"{round_ + 1}", f"{i + 1}", None, now + i) for i in range(10)])
        async with asyncio.timeout(5):  # a hang fails here
            await store.shutdown()
        assert count_rows(tmp_path / str(round_) / "traces.db", "telemetry_spans") == 10


@pytest.mark.anyio
async def test_the_root_is_found_whichever_span_arrives_first(tmp_path: Path) -> None:
    now = time.time_ns()
    async with trace_store(sqlite_config(tmp_path, flush_interval_seconds=3600)) as store:
        # a request continued from a caller: its root has a parent outside the store; children finish first
        await store.export_spans([span("a", "c2", "c1", now + 30), span("a", "c1", "r1", now + 20)])
        await store.flush()
        early = await store.get_trace(GetTraceRequest(trace_id="a".rjust(32, "0")))
        assert early.root_span_id == "c1".rjust(16, "0")  # the best guess until the root arrives
        await store.export_spans([span("a", "r1", "caller", now + 10, name="POST /v1/x", duration_ns=100)])
        await store.flush()
        trace = await store.get_trace(GetTraceRequest(trace_id="a".rjust(32, "0")))
        assert trace.root_span_id == "r1".rjust(16, "0") and trace.root_span_name == "POST /v1/x"
        assert trace.span_count == 3
        # a second request in the same trace: the earlier root stays the trace's root, both trees stay reachable
        await store.export_spans(
            [span("a", "r2", "caller", now + 200, name="POST /v1/y"), span("a", "c3", "r2", now + 210)]
        )
        trace = await store.get_trace(GetTraceRequest(trace_id="a".rjust(32, "0")))
        assert trace.root_span_id == "r1".rjust(16, "0") and trace.span_count == 5
        second = await store.get_span_tree(GetSpanTreeRequest(span_id="r2".rjust(16, "0")))
        assert set(second.data) == {"r2".rjust(16, "0"), "c3".rjust(16, "0")}
        roots = await store.query_spans(QuerySpansRequest(attribute_filters=[], attributes_to_return=[], max_depth=1))
        assert {s.name for s in roots.data} == {"POST /v1/x", "POST /v1/y"}


@pytest.mark.anyio
async def test_retention_by_age_and_by_span_count(tmp_path: Path) -> None:
    now = time.time_ns()
    config = sqlite_config(tmp_path, max_spans=7, retention_interval_seconds=3600, flush_interval_seconds=3600)
    async with trace_store(config) as store:
        await eventually(lambda: store.last_retention is not None, what="the sweep at start-up, on an empty store")
        old = [
            span("old", "o1", None, now - 8 * DAY_NS, **{"resource.id": "m", "llm.total_tokens": 9}),
            span("old", "o2", "o1", now - 8 * DAY_NS + 5),
        ]
        recent = [
            span(
                f"new{t}",
                f"n{t}{i}",
                None if i == 0 else f"n{t}0",
                now - (10 - t) * 1_000_000 + i,
                **{"resource.id": "m", "llm.total_tokens": 1},
            )
            for t in range(3)
            for i in range(3)
        ]
        await store.export_spans(old + recent)
        minute = 60 * 1_000_000_000
        await store.export_usage(
            [
                UsagePoint("total_tokens", {"model": "m"}, (now - 8 * DAY_NS) // minute * minute, 9, 1),
                UsagePoint("total_tokens", {"model": "m"}, now // minute * minute, 9, 9),
            ]
        )
        await store.log_event(
            LogEventRequest.model_validate(
                {
                    "ttl_seconds": 0,
                    "event": {
                        "type": "unstructured_log",
                        "trace_id": "t",
                        "span_id": "s",
                        "timestamp": datetime.now(UTC),
                        "message": "gone at the next sweep",
                        "severity": "info",
                    },
                }
            )
        )
        await store.log_event(
            LogEventRequest.model_validate(
                {
                    "event": {
                        "type": "unstructured_log",
                        "trace_id": "t",
                        "span_id": "s",
                        "timestamp": datetime.now(UTC),
                        "message": "kept for a week",
                        "severity": "info",
                    }
                }
            )
        )
        await store.flush()
        start = (now - 9 * DAY_NS) // 1_000_000_000
        before = await store.query_metrics(
            QueryMetricsRequest(metric_name="total_tokens", start_time=start, query_type="instant")
        )
        assert before.data[0].values[0].value == 9 + 9
        deleted = await store.enforce_retention()
        assert deleted["traces"] == 2 and deleted["spans"] == 5 and deleted["events"] == 1
        for gone in ("old", "new0"):
            with pytest.raises(NotFoundError):
                await store.get_trace(GetTraceRequest(trace_id=gone.rjust(32, "0")))
        kept = {t.trace_id.lstrip("0") for t in (await store.query_traces(QueryTracesRequest())).data}
        assert kept == {"new1", "new2"}
        assert count_rows(tmp_path / "traces.db", "telemetry_spans") == 6
        assert count_rows(tmp_path / "traces.db", "telemetry_events") == 1
        after = await store.query_metrics(
            QueryMetricsRequest(metric_name="total_tokens", start_time=start, query_type="instant")
        )
        assert after.data[0].values[0].value == 9  # the old minute is gone; recent aggregates stay
        assert (await store.health())["last_retention"]["deleted"] == deleted


@pytest.mark.anyio
async def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    async with trace_store(sqlite_config(tmp_path, max_queue=5, flush_interval_seconds=3600)) as store:
        await store.export_spans([span("q", f"s{i}", None, time.time_ns()) for i in range(8)])
        health = await store.health()
        assert health["queued"] == 5 and health["dropped"] == 3


def test_tables_and_indexes_on_the_registry_sqlite_file(tmp_path: Path) -> None:
    async def run() -> None:
        config = TraceStoreConfig.model_validate(
            {"persistence": {"backend": "default", "namespace": "my-traces.v1"}},
            context={"default": {"type": "kv_sqlite", "db_path": str(tmp_path / "registry.db")}},
        )
        async with trace_store(config) as store:
            assert store.tables.p == "my_traces_v1"

    asyncio.run(run())
    with sqlite3.connect(tmp_path / "registry.db") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"my_traces_v1_spans", "my_traces_v1_traces", "my_traces_v1_metrics", "my_traces_v1_events"} <= names
        assert {
            "my_traces_v1_spans_start",
            "my_traces_v1_spans_name",
            "my_traces_v1_spans_span_id",
            "my_traces_v1_spans_attr_resource_id",
            "my_traces_v1_traces_start",
        } <= names
        where, params = SqliteDialect().condition("resource.id", "eq", "m")
        plan = " ".join(
            str(r)
            for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT trace_id FROM my_traces_v1_spans WHERE {where}", params)
        )
        assert "my_traces_v1_spans_attr_resource_id" in plan, plan


def test_config_defaults_and_validation() -> None:
    config = TraceStoreConfig.model_validate({}, context={"default": {"type": "kv_sqlite", "db_path": "/x/r.db"}})
    assert (config.retention_days, config.max_spans, config.persistence.namespace) == (7, 1_000_000, "telemetry")
    assert config.persistence.backend.db_path == "/x/r.db" and config.table_prefix == "telemetry"
    for bad in (
        {"retention_days": 0},
        {"max_spans": 0},
        {"unknown": 1},
        {"persistence": {"backend": "nope", "namespace": "t"}},
    ):
        with pytest.raises(ValueError):
            TraceStoreConfig.model_validate(bad, context={"default": {"type": "kv_sqlite", "db_path": "/x/r.db"}})


def test_plugin_module_is_light() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_trace_store.plugin",
        {"psycopg", "llama_stack_provider_trace_store.provider", "llama_stack_provider_trace_store.db"},
        call=["register_telemetry_providers"],
    )


# -- through the stack: errors, telemetry's own requests, datasets, restarts -------------------------------------

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "one two three"}]}


def stack_config(tmp_path: Path, telemetry: dict[str, Any] | None = None, datasets: bool = False) -> dict[str, Any]:
    providers: dict[str, Any] = {
        "inference": stack_test_plugin.echo_providers("echo"),
        "telemetry": [{"provider_id": "traces", "provider_type": PROVIDER_TYPE, "config": telemetry or {}}],
    }
    extra: dict[str, Any] = {"models": [{"model_id": "chat", "provider_id": "echo", "provider_model_id": "llm"}]}
    if datasets:
        providers["datasetio"] = [{"provider_id": "rows", "provider_type": "inline::memory-rows", "config": {}}]
        extra["datasets"] = [
            {
                "dataset_id": "span-rows",
                "provider_id": "rows",
                "purpose": "eval/question-answer",
                "source": {"type": "rows", "rows": []},
            }
        ]
    return make_run_config(providers, tmp_path, **extra)


PM = PluginManager(extra_plugins=[stack_test_plugin, rows_plugin])


@pytest.mark.anyio
async def test_bad_queries_are_400(tmp_path: Path) -> None:
    async with stack_client(stack_config(tmp_path), PM) as http:
        start = int(time.time())
        cases = [
            ("/v1/telemetry/traces", {"order_by": ["cost"]}, "order_by"),
            (
                "/v1/telemetry/traces",
                {"attribute_filters": [{"key": "a", "op": "gt", "value": None}]},
                "attribute_filters",
            ),
            (
                "/v1/telemetry/traces",
                {"attribute_filters": [{"key": "a", "op": "lt", "value": [1]}]},
                "attribute_filters",
            ),
            ("/v1/telemetry/metrics/total_tokens", {"start_time": start, "granularity": "30s"}, "granularity"),
            ("/v1/telemetry/metrics/total_tokens", {"start_time": start, "granularity": "soon"}, "granularity"),
            ("/v1/telemetry/metrics/total_tokens", {"start_time": start, "end_time": start - 10}, "end_time"),
            (
                "/v1/telemetry/metrics/total_tokens",
                {"start_time": start, "label_matchers": [{"name": "model", "operator": "=~", "value": "("}]},
                "label_matchers",
            ),
        ]
        for path, body, param in cases:
            response = await http.post(path, json=body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"]["param"] == param
        bad_op = await http.post(
            "/v1/telemetry/traces", json={"attribute_filters": [{"key": "a", "op": "like", "value": 1}]}
        )
        assert bad_op.status_code == 422
        odd_key = await http.post(
            "/v1/telemetry/traces",
            json={"attribute_filters": [{"key": "it's; DROP TABLE telemetry_spans", "op": "eq", "value": 1}]},
        )
        assert odd_key.status_code == 200 and odd_key.json() == {"data": []}
        # keys bound as parameters (characters outside the inlined set) with null and boolean "ne": issue 19's probe
        for key in ("a?b", "é", "x'y"):
            for value in (None, True):
                for path in ("/v1/telemetry/traces", "/v1/telemetry/spans"):
                    body = {"attribute_filters": [{"key": key, "op": "ne", "value": value}]}
                    if path.endswith("spans"):
                        body["attributes_to_return"] = []
                    response = await http.post(path, json=body)
                    assert response.status_code in (200, 400), (key, value, response.text)
                    assert response.status_code == 200 or "quotes" in response.json()["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("skip_paths", [None, [], ["/v1/chat"]])
async def test_skipped_paths_are_not_kept(tmp_path: Path, skip_paths: list[str] | None) -> None:
    settings = {} if skip_paths is None else {"skip_paths": skip_paths}
    async with stack_client(stack_config(tmp_path, settings), PM) as http:
        assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200
        await http.get("/v1/health")
        await http.post("/v1/telemetry/traces", json={})
        await http.get("/v1/telemetry/traces/0123")
        await http.app.state.stack.tracer.flush()
        impl = http.app.state.stack.providers["telemetry"]["traces"].impl
        await impl.flush()
        spans = (
            await http.post("/v1/telemetry/spans", json={"attribute_filters": [], "attributes_to_return": []})
        ).json()["data"]
    names = {s["name"] for s in spans}
    chat = {"POST /v1/chat/completions", "inference.openai_chat_completion"}
    telemetry = {
        "POST /v1/telemetry/traces",
        "GET /v1/telemetry/traces/0123",
        "telemetry.query_traces",
        "telemetry.get_trace",
    }
    if skip_paths is None:  # the default: the Telemetry API and health probes
        assert names == chat
    elif skip_paths == []:
        assert names >= chat | telemetry | {"GET /v1/health"}
    else:  # the chat's root and its provider span go together
        assert names >= telemetry | {"GET /v1/health"} and not names & chat
    assert (impl.stats["skipped"] > 0) is (skip_paths != [])


@pytest.mark.anyio
async def test_save_spans_to_dataset(tmp_path: Path) -> None:
    async with stack_client(stack_config(tmp_path, datasets=True), PM) as http:
        chats = [(await http.post("/v1/chat/completions", json=CHAT)).json() for _ in range(2)]
        await http.app.state.stack.tracer.flush()
        body = {
            "attribute_filters": [{"key": "resource.id", "op": "eq", "value": "chat"}],
            "attributes_to_save": ["llm.total_tokens", "resource.id"],
            "dataset_id": "span-rows",
        }
        saved = await http.post("/v1/telemetry/spans/export", json=body)
        assert saved.status_code == 200, saved.text
        rows = (await http.get("/v1beta/datasetio/iterrows/span-rows")).json()["data"]
        assert len(rows) == 2
        for row in rows:
            assert row["name"] == "inference.openai_chat_completion" and row["resource.id"] == "chat"
            assert row["llm.total_tokens"] == chats[0]["usage"]["total_tokens"]
            assert len(row["trace_id"]) == 32 and row["start_time"] <= row["end_time"]
        unknown = await http.post("/v1/telemetry/spans/export", json={**body, "dataset_id": "nope"})
        assert unknown.status_code == 404
    async with stack_client(stack_config(tmp_path / "no-datasets"), PM) as http:
        response = await http.post("/v1/telemetry/spans/export", json=body)
        assert response.status_code == 501 and "datasetio" in response.json()["error"]["message"]


@pytest.mark.anyio
async def test_traces_survive_a_restart(tmp_path: Path) -> None:
    async with stack_client(stack_config(tmp_path), PM) as http:
        assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200
    async with stack_client(stack_config(tmp_path), PM) as http:
        traces = (await http.post("/v1/telemetry/traces", json={})).json()["data"]
        assert [t["root_span_name"] for t in traces] == ["POST /v1/chat/completions"]
        tree = (await http.post(f"/v1/telemetry/spans/{traces[0]['root_span_id']}/tree", json={})).json()["data"]
        assert {s["name"] for s in tree.values()} == {"POST /v1/chat/completions", "inference.openai_chat_completion"}


@pytest.mark.anyio
@pytest.mark.postgres
async def test_two_processes_share_one_postgres_store(tmp_path: Path, postgres_uri: str) -> None:
    dsn = create_postgres_database(postgres_uri)
    storage = {
        "backends": {"pg": {"type": "kv_postgres", "dsn": dsn}},
        "stores": {"metadata": {"backend": "pg", "namespace": "registry"}},
    }
    config = {**stack_config(tmp_path), "storage": storage}
    async with stack_client(config, PM) as first, stack_client(config, PM) as second:
        one = await first.post(
            "/v1/chat/completions", json=CHAT, headers={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}
        )
        two = await second.post("/v1/chat/completions", json=CHAT)
        assert one.status_code == two.status_code == 200
        for http in (first, second):
            await http.app.state.stack.tracer.flush()
            await http.app.state.stack.providers["telemetry"]["traces"].impl.flush()
        seen = {t["trace_id"] for t in (await second.post("/v1/telemetry/traces", json={})).json()["data"]}
        assert len(seen) == 2 and "a" * 32 in seen
        root = (await second.get(f"/v1/telemetry/traces/{'a' * 32}")).json()["root_span_id"]
        tree = (await second.post(f"/v1/telemetry/spans/{root}/tree", json={})).json()["data"]
        assert len(tree) == 2
        metric = (
            await first.post(
                "/v1/telemetry/metrics/total_tokens",
                json={"start_time": int(time.time()) - 120, "query_type": "instant"},
            )
        ).json()["data"]
        assert metric[0]["values"][0]["value"] == 2 * one.json()["usage"]["total_tokens"]


# -- end to end: llama-cpp behind a real `stack serve`, the openai SDK, `stack traces` ------------------------------

GEMMA = "gemma-3-270m"
LLAMA_CPP = {"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": {"n_threads": 1}}


def stack_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def chat_twice(base_url: str) -> tuple[Any, Any]:
    """A chat completion and a streamed one (with usage) through the openai SDK."""
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    params = {
        "model": GEMMA,
        "messages": [{"role": "user", "content": "Name a color."}],
        "max_tokens": 4,
        "temperature": 0,
    }
    whole = client.chat.completions.create(**params)
    chunks = list(client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}))
    return whole.usage.model_dump(), chunks[-1].usage.model_dump()


def traced_chats(http: Any) -> list[dict[str, Any]]:
    """The two chats' span trees (oldest first), once both are stored with their provider spans."""

    def check() -> list[dict[str, Any]]:
        response = http.post(
            "/v1/telemetry/traces",
            json={
                "attribute_filters": [{"key": "resource.id", "op": "eq", "value": GEMMA}],
                "order_by": ["start_time"],
            },
        )
        assert response.status_code == 200, response.text
        traces = response.json()["data"]
        assert len(traces) == 2, traces
        trees = [http.post(f"/v1/telemetry/spans/{t['root_span_id']}/tree", json={}).json()["data"] for t in traces]
        assert all(len(tree) == 2 for tree in trees), trees
        return [{"trace": trace, "spans": {s["name"]: s for s in tree.values()}} for trace, tree in zip(traces, trees)]

    return eventually_sync(check, interval=0.1, what="both chats stored with their provider spans")


def check_llama_cpp_spans(chats: list[dict[str, Any]], usages: tuple[Any, Any]) -> None:
    for chat, usage in zip(chats, usages):
        root, provider = chat["spans"]["POST /v1/chat/completions"], chat["spans"]["inference.openai_chat_completion"]
        assert chat["trace"]["root_span_id"] == root["span_id"] and provider["parent_span_id"] == root["span_id"]
        assert root["attributes"]["http.status_code"] == 200 and root["status"] == provider["status"] == "ok"
        attributes = provider["attributes"]
        assert (attributes["provider.type"], attributes["provider.id"], attributes["resource.id"]) == (
            "inline::llama-cpp",
            "llama-cpp",
            GEMMA,
        )
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            assert attributes[f"llm.{key}"] == usage[key], (key, attributes, usage)
    assert chats[1]["spans"]["inference.openai_chat_completion"]["attributes"]["llm.time_to_first_chunk_ms"] > 0


@pytest.mark.slow
def test_llama_cpp_through_stack_serve_and_stack_traces(tmp_path: Path) -> None:
    import httpx

    from llama_stack_core.testing import served_stack
    from llama_stack_core.testing.harness import free_port

    pytest.importorskip("llama_stack_provider_llama_cpp")
    config = make_run_config(
        {
            "inference": [LLAMA_CPP],
            "telemetry": [{"provider_id": "traces", "provider_type": PROVIDER_TYPE, "config": {}}],
        },
        tmp_path,
    )
    with served_stack(config, tmp_path, timeout=60) as url, httpx.Client(base_url=url, timeout=30) as http:
        usages = chat_twice(url)
        chats = traced_chats(http)
        check_llama_cpp_spans(chats, usages)
        series = http.post(
            "/v1/telemetry/metrics/total_tokens",
            json={
                "start_time": int(time.time()) - 300,
                "query_type": "instant",
                "label_matchers": [{"name": "model", "operator": "=", "value": GEMMA}],
            },
        ).json()["data"]
        assert [v["value"] for v in series[0]["values"]] == [usages[0]["total_tokens"] + usages[1]["total_tokens"]]

        listed = stack_cli("traces", "--url", url, "--limit", "5")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == ["TRACE", "ID", "ROOT", "START", "DURATION", "SPANS", "STATUS"]
        rows = {line.split()[0]: line for line in lines[1:]}
        for chat in chats:
            row = rows[chat["trace"]["trace_id"]]
            assert "POST /v1/chat/completions" in row and row.split()[-2:] == ["2", "ok"]
            assert re.search(r"  \d+(\.\d+)? (ms|s)  ", row)  # a duration, in ms or (on a slow machine) s
        assert list(rows)[:2] == [chats[1]["trace"]["trace_id"], chats[0]["trace"]["trace_id"]]  # newest first

        shown = stack_cli("traces", "show", chats[0]["trace"]["trace_id"], "--url", url)
        assert shown.returncode == 0, shown.stderr
        head, root_line, provider_line = shown.stdout.splitlines()
        assert head.startswith(f"trace {chats[0]['trace']['trace_id']}") and "2 spans" in head
        assert root_line.startswith("POST /v1/chat/completions  ") and "status_code=200" in root_line
        assert provider_line.startswith("  inference.openai_chat_completion  ") and re.search(
            r" [\d.]+ m?s  ok", provider_line
        )
        usage = usages[0]
        assert (
            f"tokens={usage['prompt_tokens']}+{usage['completion_tokens']}={usage['total_tokens']}" in provider_line
            and f"model={GEMMA}" in provider_line
        )

        missing = stack_cli("traces", "show", "f" * 32, "--url", url)
        assert missing.returncode == 2 and "not found" in missing.stderr
    unreachable = stack_cli("traces", "--url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2 and "cannot reach a Llama Stack server" in unreachable.stderr
    by_env = stack_cli("traces", env={"LLAMA_STACK_URL": f"http://127.0.0.1:{free_port()}"})
    assert by_env.returncode == 2 and "cannot reach" in by_env.stderr


def test_stack_traces_help() -> None:
    for args in (["traces"], ["traces", "show"]):
        result = stack_cli(*args, "--help")
        assert result.returncode == 0 and result.stdout.startswith(f"usage: stack {' '.join(args)}"), result.stderr
    assert "--limit" in stack_cli("traces", "--help").stdout


@pytest.mark.slow
def test_stack_traces_on_a_server_without_telemetry(tmp_path: Path) -> None:
    import os

    from llama_stack_core.testing import served_stack

    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(HERE.parents[2] / "tests" / "support"), os.environ.get("PYTHONPATH")])
        ),
        "LLAMA_STACK_PLUGINS": "stack_test_plugin",
    }
    config = make_run_config({"inference": stack_test_plugin.echo_providers("echo")}, tmp_path)
    with served_stack(config, tmp_path, env=env) as url:
        result = stack_cli("traces", "--url", url)
    assert result.returncode == 2 and "no telemetry provider" in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_llama_cpp_through_stack_serve_on_postgres(tmp_path: Path, postgres_uri: str) -> None:
    import httpx
    import psycopg

    from llama_stack_core.testing import served_stack

    pytest.importorskip("llama_stack_provider_llama_cpp")
    sdk = pytest.importorskip("llama_stack_client")
    dsn = create_postgres_database(postgres_uri)
    config = make_run_config(
        {
            "inference": [LLAMA_CPP],
            "telemetry": [{"provider_id": "traces", "provider_type": PROVIDER_TYPE, "config": {}}],
        },
        tmp_path,
    )
    config["storage"] = {
        "backends": {"pg": {"type": "kv_postgres", "dsn": dsn}},
        "stores": {"metadata": {"backend": "pg", "namespace": "registry"}},
    }
    with served_stack(config, tmp_path, timeout=60) as url, httpx.Client(base_url=url, timeout=30) as http:
        usages = chat_twice(url)
        chats = traced_chats(http)
        check_llama_cpp_spans(chats, usages)
        client = sdk.LlamaStackClient(base_url=url, max_retries=0)
        traces = client.telemetry.query_traces(
            attribute_filters=[{"key": "provider.type", "op": "eq", "value": "inline::llama-cpp"}]
        )
        assert {t.trace_id for t in traces} == {c["trace"]["trace_id"] for c in chats}
        tree = client.telemetry.get_span_tree(
            chats[0]["trace"]["root_span_id"], attributes_to_return=["llm.total_tokens"]
        )
        assert sorted(s.attributes.get("llm.total_tokens", 0) for s in tree.values()) == [0, usages[0]["total_tokens"]]
    with psycopg.connect(dsn) as conn:  # real tables in the stack's PostgreSQL database
        rows = conn.execute("SELECT name, attributes->>'resource.id' FROM telemetry_spans ORDER BY start_ns").fetchall()
    assert rows.count(("inference.openai_chat_completion", GEMMA)) == 2
