"""Telemetry conformance tests every telemetry provider runs, through the stack with a real request workload.

A telemetry provider can be a span **exporter** (``export_spans``: the stack's tracer hands it finished spans in
background batches; optionally ``export_usage``: per-minute token usage of every inference call, sampled or not)
and/or a **query** backend (the Telemetry API's routes: traces, spans, span trees, metrics, events).
Declare what it does in ``capabilities``; tests of a capability left out are skipped, never passed::

    import stack_test_plugin  # the core's test plugin (tests/support): inline::echo serves the workload

    class TestAcmeTelemetry(TelemetryProviderTests):
        provider_type = "remote::acme"
        provider_config = {"endpoint": "http://127.0.0.1:4318"}
        capabilities = frozenset({"export"})
        extra_plugins = [stack_test_plugin]

The stack is started once per class (``stack_client``) with the provider under test and an inference provider for the
workload (``workload_provider``, by default the core test plugin's ``inline::echo``: put that module in
``extra_plugins``, or name another inference provider). The workload is a few chat completions on two models, sent with
a known W3C ``traceparent`` so their traces have known ids: one plain, one streamed, one refused (unknown model).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..plugins import PluginManager
from ..tracing import SpanRecord
from .harness import make_run_config, stack_client
from .waiting import eventually

PROVIDER_ID = "under-test"
WORKLOAD_PROVIDER_ID = "workload"
MODEL_A = "traced-chat-a"
MODEL_B = "traced-chat-b"
MODEL_OTHER = "traced-chat-other"
ROOT_NAME = "POST /v1/chat/completions"
PROVIDER_SPAN = "inference.openai_chat_completion"
CAPABILITIES = frozenset({"export", "query"})
TOKEN_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def parse_time(value: str) -> datetime:
    """An ISO 8601 time as the API returns it (``Z`` or an offset); fails the test if it is anything else."""
    assert isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value), value
    return datetime.fromisoformat(value)


class TelemetryProviderTests:
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    #: ``export`` (receives the stack's spans) and/or ``query`` (answers the Telemetry API from what it stored).
    capabilities: ClassVar[frozenset[str]] = CAPABILITIES
    #: The inference provider the workload runs on (``provider_id`` is set to ``workload``).
    workload_provider: ClassVar[dict[str, Any]] = {"provider_type": "inline::echo", "config": {}}
    #: The model name that provider serves (registered as ``traced-chat-a``, ``-b`` and ``-other``).
    workload_model: ClassVar[str] = "llm"
    max_tokens: ClassVar[int] = 8
    supporting_providers: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    extra_plugins: ClassVar[list[Any]] = []
    #: Seconds to wait for exported spans to become queryable.
    timeout: ClassVar[float] = 30

    # -- fixtures ------------------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls) -> dict[str, Any]:
        """The provider's config. Override this fixture to build it from other fixtures (e.g. a database URL)."""
        return cls.provider_config

    @pytest.fixture(scope="class")
    @classmethod
    def run_config(cls, tmp_path_factory: pytest.TempPathFactory, config_under_test: dict[str, Any]) -> dict[str, Any]:
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.setdefault("inference", []).append({"provider_id": WORKLOAD_PROVIDER_ID, **cls.workload_provider})
        providers.setdefault("telemetry", []).insert(
            0, {"provider_id": PROVIDER_ID, "provider_type": cls.provider_type, "config": config_under_test}
        )
        models = [
            {"model_id": model, "provider_id": WORKLOAD_PROVIDER_ID, "provider_model_id": cls.workload_model}
            for model in (MODEL_A, MODEL_B, MODEL_OTHER)
        ]
        return make_run_config(providers, Path(tmp_path_factory.mktemp("telemetry-kit")), models=models)

    @pytest.fixture(scope="class")
    @classmethod
    async def http(cls, run_config: dict[str, Any], anyio_backend: str) -> AsyncIterator[Any]:
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield client

    @pytest.fixture(scope="class")
    @classmethod
    def impl(cls, http: Any) -> Any:
        """The provider object under test."""
        return http.app.state.stack.providers["telemetry"][PROVIDER_ID].impl

    @pytest.fixture(scope="class")
    @classmethod
    async def workload(cls, http: Any) -> dict[str, Any]:
        """Chat completions with known trace ids; their spans handed to the exporters before the tests look."""
        started = int(time.time())
        calls: list[dict[str, Any]] = []

        async def chat(model: str, content: str, **extra: Any) -> dict[str, Any]:
            trace_id, parent = new_trace_id(), new_span_id()
            response = await http.post(
                "/v1/chat/completions",
                headers={"traceparent": f"00-{trace_id}-{parent}-01"},
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": content}],
                    "max_tokens": cls.max_tokens,
                    "temperature": 0,
                    **extra,
                },
            )
            usage = None
            if response.status_code == 200 and extra.get("stream"):  # the usage chunk, if the provider sends one
                chunks = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
                usage = next((c["usage"] for c in reversed(chunks) if c.get("usage")), None)
            elif response.status_code == 200:
                usage = response.json()["usage"]
            call = {
                "trace_id": trace_id,
                "parent": parent,
                "model": model,
                "status": response.status_code,
                "stream": bool(extra.get("stream")),
                "usage": usage,
            }
            calls.append(call)
            return call

        plain = await chat(MODEL_A, "Name three colors.")
        assert plain["status"] == 200 and plain["usage"]["total_tokens"] > 0, plain
        second = await chat(MODEL_A, "Name two animals.")
        other_model = await chat(MODEL_B, "Count to three.")
        streamed = await chat(MODEL_A, "Say hello.", stream=True, stream_options={"include_usage": True})
        refused = await chat("no-such-model", "x")
        assert refused["status"] == 404 and streamed["status"] == 200, (refused, streamed)
        await http.app.state.stack.tracer.flush()
        return {
            "started": started,
            "calls": calls,
            "plain": plain,
            "second": second,
            "other_model": other_model,
            "streamed": streamed,
            "refused": refused,
        }

    def need(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if c not in self.capabilities]
        if missing:
            pytest.skip(f"{self.provider_type} does not declare {', '.join(missing)}")

    # -- helpers -------------------------------------------------------------------------------------------------

    async def tree(self, http: Any, trace_id: str, **body: Any) -> dict[str, Any]:
        """The span tree of a trace's root, once the trace and its root are stored."""
        response = await http.get(f"/v1/telemetry/traces/{trace_id}")
        assert response.status_code == 200, response.text
        root_span_id = response.json()["root_span_id"]
        tree = await http.post(f"/v1/telemetry/spans/{root_span_id}/tree", json=body)
        assert tree.status_code == 200, tree.text
        return tree.json()["data"]

    async def full_tree(self, http: Any, call: dict[str, Any]) -> dict[str, Any]:
        """The trace of a workload call once its root and (if it reached one) its provider span are queryable."""

        async def check() -> dict[str, Any]:
            spans = await self.tree(http, call["trace_id"])
            names = sorted(s["name"] for s in spans.values())
            assert ROOT_NAME in names, names
            if call["status"] == 200:
                assert PROVIDER_SPAN in names, names
            return spans

        return await eventually(check, timeout=self.timeout, what=f"trace {call['trace_id']}")

    @staticmethod
    def by_name(spans: dict[str, Any], name: str) -> dict[str, Any]:
        found = [s for s in spans.values() if s["name"] == name]
        assert len(found) == 1, (name, list(spans.values()))
        return found[0]

    # -- export --------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_spans_are_exported_without_errors(self, http: Any, impl: Any, caplog: Any) -> None:
        self.need("export")
        tracer = http.app.state.stack.tracer
        assert tracer.enabled and impl in tracer.exporters
        with caplog.at_level(logging.WARNING, logger="llama_stack_core.tracing"):
            response = await http.post(
                "/v1/chat/completions",
                json={
                    "model": MODEL_OTHER,
                    "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": self.max_tokens,
                },
            )
            assert response.status_code == 200, response.text
            await tracer.flush()
        assert not [r for r in caplog.records if "exporter" in r.getMessage()], caplog.text
        assert tracer.dropped == 0

    @pytest.mark.anyio
    async def test_export_takes_any_attribute_values(self, http: Any, impl: Any) -> None:
        self.need("export")
        trace_id, root_id, child_id = new_trace_id(), new_span_id(), new_span_id()
        start = time.time_ns()
        odd = {
            "text": "naïve ☃ " + "x" * 5000,
            "none": None,
            "flag": True,
            "ratio": 0.25,
            "count": 3,
            "list": [1, "two", None],
            "nested": {"a": {"b": [1, 2]}},
            "when": datetime(2025, 1, 2, 3, 4, 5),
            "nan": float("nan"),
            "nul": "a\x00b",
            "huge": 2**70,
            (1, 2): "tuple key",
        }
        child = SpanRecord(
            trace_id, child_id, root_id, "custom.child", start + 1000, start + 2000, attributes=odd, status="error"
        )
        root = SpanRecord(trace_id, root_id, None, "custom.root", start, start + 3000, attributes={"k": "v"})
        await impl.export_spans([child])
        await impl.export_spans([root])
        if "query" not in self.capabilities:
            return

        async def check() -> dict[str, Any]:
            response = await http.get(f"/v1/telemetry/traces/{trace_id}/spans/{child_id}")
            assert response.status_code == 200, response.text
            return response.json()

        span = await eventually(check, timeout=self.timeout, what="the exported span")
        assert span["name"] == "custom.child" and span["parent_span_id"] == root_id
        attributes = span["attributes"]
        assert attributes["text"] == odd["text"] and attributes["flag"] is True and attributes["count"] == 3
        assert attributes["ratio"] == 0.25 and attributes["list"] == [1, "two", None]
        assert attributes["nested"] == {"a": {"b": [1, 2]}} and isinstance(attributes["when"], str)
        trace = await eventually(
            lambda: self._get_json(http, f"/v1/telemetry/traces/{trace_id}", lambda t: t["root_span_id"] == root_id),
            timeout=self.timeout,
            what="the exported trace's root",
        )
        assert parse_time(trace["start_time"]) <= parse_time(trace["end_time"])

    @staticmethod
    async def _get_json(http: Any, path: str, condition: Callable[[Any], bool]) -> Any:
        response = await http.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert condition(body), body
        return body

    # -- traces and spans ----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_chat_is_a_trace_with_root_provider_span_and_tokens(self, http: Any, workload: Any) -> None:
        self.need("query")
        call = workload["plain"]
        spans = await self.full_tree(http, call)
        root, provider = self.by_name(spans, ROOT_NAME), self.by_name(spans, PROVIDER_SPAN)
        assert root["trace_id"] == provider["trace_id"] == call["trace_id"]
        assert root["parent_span_id"] == call["parent"]  # continued from the caller's traceparent
        assert provider["parent_span_id"] == root["span_id"]
        assert root["status"] == "ok" and root["attributes"]["http.status_code"] == 200
        attributes = provider["attributes"]
        assert attributes["api"] == "inference" and attributes["provider.id"] == WORKLOAD_PROVIDER_ID
        assert attributes["provider.type"] == self.workload_provider["provider_type"]
        assert attributes["resource.id"] == MODEL_A
        for key in TOKEN_KEYS:
            assert attributes[f"llm.{key}"] == call["usage"][key], (key, attributes)
        for span in (root, provider):
            assert parse_time(span["start_time"]) <= parse_time(span["end_time"])
        assert parse_time(root["start_time"]) <= parse_time(provider["start_time"])
        assert parse_time(provider["end_time"]) <= parse_time(root["end_time"])

        trace = (await http.get(f"/v1/telemetry/traces/{call['trace_id']}")).json()
        assert trace["trace_id"] == call["trace_id"] and trace["root_span_id"] == root["span_id"]
        assert parse_time(trace["start_time"]) == parse_time(root["start_time"])
        assert parse_time(trace["end_time"]) >= parse_time(provider["end_time"])

    @pytest.mark.anyio
    async def test_get_span_and_unknown_ids(self, http: Any, workload: Any) -> None:
        self.need("query")
        call = workload["plain"]
        provider = self.by_name(await self.full_tree(http, call), PROVIDER_SPAN)
        span = await http.get(f"/v1/telemetry/traces/{call['trace_id']}/spans/{provider['span_id']}")
        assert span.status_code == 200, span.text
        body = span.json()
        assert {k: body[k] for k in ("span_id", "trace_id", "parent_span_id", "name", "attributes")} == {
            k: provider[k] for k in ("span_id", "trace_id", "parent_span_id", "name", "attributes")
        }
        missing = [
            await http.get(f"/v1/telemetry/traces/{new_trace_id()}"),
            await http.get(f"/v1/telemetry/traces/{call['trace_id']}/spans/{new_span_id()}"),
            await http.post(f"/v1/telemetry/spans/{new_span_id()}/tree", json={}),
        ]
        for response in missing:
            assert response.status_code == 404 and "error" in response.json(), response.text

    @pytest.mark.anyio
    async def test_span_tree_depth_and_attribute_selection(self, http: Any, workload: Any) -> None:
        self.need("query")
        call = workload["plain"]
        root = self.by_name(await self.full_tree(http, call), ROOT_NAME)
        only_root = await self.tree(http, call["trace_id"], max_depth=1)
        assert list(only_root) == [root["span_id"]]
        two_levels = await self.tree(http, call["trace_id"], max_depth=2)
        assert {s["name"] for s in two_levels.values()} >= {ROOT_NAME, PROVIDER_SPAN}
        assert all(s["parent_span_id"] == root["span_id"] for s in two_levels.values() if s["name"] != ROOT_NAME)
        selected = await self.tree(http, call["trace_id"], attributes_to_return=["llm.total_tokens"])
        provider = self.by_name(selected, PROVIDER_SPAN)
        assert provider["attributes"] == {"llm.total_tokens": call["usage"]["total_tokens"]}
        assert not self.by_name(selected, ROOT_NAME)["attributes"]
        subtree = (await http.post(f"/v1/telemetry/spans/{provider['span_id']}/tree", json={})).json()["data"]
        assert root["span_id"] not in subtree and provider["span_id"] in subtree

    @pytest.mark.anyio
    async def test_streamed_and_refused_requests(self, http: Any, workload: Any) -> None:
        self.need("query")
        streamed = await self.full_tree(http, workload["streamed"])
        provider = self.by_name(streamed, PROVIDER_SPAN)
        assert provider["status"] == "ok" and provider["attributes"]["llm.time_to_first_chunk_ms"] >= 0
        refused = await self.full_tree(http, workload["refused"])
        root = self.by_name(refused, ROOT_NAME)
        assert root["status"] == "error" and root["attributes"]["http.status_code"] == 404
        assert PROVIDER_SPAN not in {s["name"] for s in refused.values()}  # refused before any provider call

    @pytest.mark.anyio
    async def test_query_traces_filters_limit_and_order(self, http: Any, workload: Any) -> None:
        self.need("query")
        for call in workload["calls"]:
            await self.full_tree(http, call)
        ours = {c["trace_id"] for c in workload["calls"]}

        async def trace_ids(**body: Any) -> list[str]:
            response = await http.post("/v1/telemetry/traces", json={"limit": 1000, **body})
            assert response.status_code == 200, response.text
            traces = response.json()["data"]
            for trace in traces:
                assert parse_time(trace["start_time"]) and trace["root_span_id"]
            return [t["trace_id"] for t in traces]

        def condition(key: str, op: str, value: Any) -> dict[str, Any]:
            return {"attribute_filters": [{"key": key, "op": op, "value": value}]}

        model_a = {c["trace_id"] for c in workload["calls"] if c["model"] == MODEL_A}
        assert set(await trace_ids(**condition("resource.id", "eq", MODEL_A))) & ours == model_a
        assert set(await trace_ids(**condition("resource.id", "ne", MODEL_A))) & ours == {
            workload["other_model"]["trace_id"]
        }
        assert set(await trace_ids(**condition("http.status_code", "gt", 399))) & ours == {
            workload["refused"]["trace_id"]
        }
        assert set(await trace_ids(**condition("http.status_code", "lt", 300))) & ours == ours - {
            workload["refused"]["trace_id"]
        }
        assert set(await trace_ids(**condition("http.status_code", "eq", "200"))) & ours == set()  # types matter
        both = {
            "attribute_filters": [
                {"key": "resource.id", "op": "eq", "value": MODEL_A},
                {"key": "llm.total_tokens", "op": "eq", "value": workload["plain"]["usage"]["total_tokens"]},
            ]
        }
        assert workload["plain"]["trace_id"] in await trace_ids(**both)
        assert await trace_ids(**condition("resource.id", "eq", "never-used-model")) == []

        everything = await trace_ids()
        assert ours <= set(everything)
        ascending = await trace_ids(order_by=["start_time"])
        descending = await trace_ids(order_by=["-start_time"])
        assert [t for t in ascending if t in ours] == [c["trace_id"] for c in workload["calls"]]
        assert [t for t in descending if t in ours] == [c["trace_id"] for c in reversed(workload["calls"])]
        page = await trace_ids(order_by=["start_time"], limit=2, offset=1)
        assert page == ascending[1:3]

    @pytest.mark.anyio
    async def test_query_spans_returns_the_selected_attributes(self, http: Any, workload: Any) -> None:
        self.need("query")
        for call in workload["calls"]:
            await self.full_tree(http, call)
        response = await http.post(
            "/v1/telemetry/spans",
            json={
                "attribute_filters": [{"key": "resource.id", "op": "eq", "value": MODEL_A}],
                "attributes_to_return": ["llm.total_tokens"],
            },
        )
        assert response.status_code == 200, response.text
        spans = response.json()["data"]
        assert spans and all(set(s["attributes"]) == {"llm.total_tokens"} for s in spans)
        by_trace = {s["trace_id"]: s for s in spans}
        for call in (workload["plain"], workload["second"]):
            assert by_trace[call["trace_id"]]["attributes"]["llm.total_tokens"] == call["usage"]["total_tokens"]
            assert by_trace[call["trace_id"]]["name"] == PROVIDER_SPAN
        assert workload["other_model"]["trace_id"] not in by_trace
        roots = (
            await http.post(
                "/v1/telemetry/spans",
                json={
                    "attribute_filters": [{"key": "resource.id", "op": "eq", "value": MODEL_A}],
                    "attributes_to_return": [],
                    "max_depth": 1,
                },
            )
        ).json()["data"]
        assert roots and {s["name"] for s in roots} == {ROOT_NAME}

    # -- metrics and events ----------------------------------------------------------------------------------

    async def metric(self, http: Any, name: str, start: int, **body: Any) -> list[dict[str, Any]]:
        response = await http.post(f"/v1/telemetry/metrics/{name}", json={"start_time": start, **body})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    @staticmethod
    def labels(series: dict[str, Any]) -> dict[str, str]:
        return {label["name"]: label["value"] for label in series["labels"]}

    @pytest.mark.anyio
    async def test_token_usage_series_per_model(self, http: Any, workload: Any) -> None:
        self.need("query")
        for call in workload["calls"]:
            await self.full_tree(http, call)
        start = workload["started"] - 120
        expected = {
            model: {
                key: sum(c["usage"][key] for c in workload["calls"] if c["model"] == model and c["usage"])
                for key in TOKEN_KEYS
            }
            for model in (MODEL_A, MODEL_B)
        }
        for key in TOKEN_KEYS:
            series = {self.labels(s).get("model"): s for s in await self.metric(http, key, start, granularity="1m")}
            for model in (MODEL_A, MODEL_B):
                values = series[model]["values"]
                assert sum(v["value"] for v in values) == expected[model][key], (key, model, values)
                for point in values:
                    assert point["timestamp"] % 60 == 0 and start - 60 <= point["timestamp"] <= time.time()
            instant = {
                self.labels(s).get("model"): s for s in await self.metric(http, key, start, query_type="instant")
            }
            assert [v["value"] for v in instant[MODEL_A]["values"]] == [expected[MODEL_A][key]]
        hourly = await self.metric(http, "total_tokens", start, granularity="1h")
        assert (
            sum(v["value"] for s in hourly if self.labels(s).get("model") == MODEL_A for v in s["values"])
            == expected[MODEL_A]["total_tokens"]
        )

        async def models(*matchers: tuple[str, str]) -> set[str | None]:
            series = await self.metric(
                http,
                "total_tokens",
                start,
                label_matchers=[{"name": "model", "operator": op, "value": value} for op, value in matchers],
            )
            return {self.labels(s).get("model") for s in series}

        assert await models(("=", MODEL_A)) == {MODEL_A}
        assert MODEL_A not in await models(("!=", MODEL_A)) and MODEL_B in await models(("!=", MODEL_A))
        assert await models(("=~", "traced-chat-[ab]")) == {MODEL_A, MODEL_B}
        assert not {MODEL_A, MODEL_B} & await models(("!~", "traced-chat-.*"))
        assert await models(("=~", "traced")) == set()  # anchored, as in PromQL
        past = await self.metric(http, "total_tokens", start - 7200, end_time=start - 3600, granularity="1m")
        assert MODEL_A not in {self.labels(s).get("model") for s in past}
        assert await self.metric(http, "no_such_metric", start) == []

    @pytest.mark.anyio
    async def test_log_event_metric_and_structured_spans(self, http: Any) -> None:
        self.need("query")
        trace_id, root_id, child_id = new_trace_id(), new_span_id(), new_span_id()
        start = int(time.time())

        def event(kind: str, span_id: str, **fields: Any) -> dict[str, Any]:
            return {
                "event": {
                    "type": kind,
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "timestamp": datetime.now().astimezone().isoformat(),
                    **fields,
                }
            }

        events = [
            event(
                "structured_log",
                root_id,
                payload={"type": "span_start", "name": "client.session"},
                attributes={"session": "s1"},
            ),
            event(
                "structured_log",
                child_id,
                payload={"type": "span_start", "name": "client.step", "parent_span_id": root_id},
            ),
            event("unstructured_log", child_id, message="step finished", severity="info"),
            event(
                "metric",
                child_id,
                metric="kit_custom_units",
                value=3,
                unit="units",
                attributes={"model": "custom-model"},
            ),
            event(
                "metric",
                child_id,
                metric="kit_custom_units",
                value=4.5,
                unit="units",
                attributes={"model": "custom-model"},
            ),
            event("structured_log", child_id, payload={"type": "span_end", "status": "error"}),
            event("structured_log", root_id, payload={"type": "span_end", "status": "ok"}),
        ]
        for body in events:
            response = await http.post("/v1/telemetry/events", json=body)
            assert response.status_code == 200, response.text
        bad = await http.post(
            "/v1/telemetry/events", json=event("metric", child_id, metric="m", value="lots", unit="u")
        )
        assert bad.status_code in (400, 422)

        async def check() -> dict[str, Any]:
            tree = await self.tree(http, trace_id)
            assert {s["name"] for s in tree.values()} == {"client.session", "client.step"}
            assert all(s["end_time"] for s in tree.values()), tree
            return tree

        tree = await eventually(check, timeout=self.timeout, what="spans logged as events")
        assert tree[root_id]["parent_span_id"] is None and tree[child_id]["parent_span_id"] == root_id
        assert tree[child_id]["status"] == "error" and tree[root_id]["status"] == "ok"
        assert tree[root_id]["attributes"]["session"] == "s1"
        series = await self.metric(http, "kit_custom_units", start - 60, query_type="instant")
        assert [(self.labels(s), [v["value"] for v in s["values"]]) for s in series] == [
            ({"model": "custom-model"}, [7.5])
        ]

    # -- the llama-stack-client SDK ------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_llama_stack_client_reads_the_answers(self, http: Any, workload: Any) -> None:
        self.need("query")
        sdk = pytest.importorskip("llama_stack_client")
        call = workload["plain"]
        spans = await self.full_tree(http, call)
        root, provider = self.by_name(spans, ROOT_NAME), self.by_name(spans, PROVIDER_SPAN)
        client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
        trace = await client.telemetry.get_trace(call["trace_id"])
        assert trace.root_span_id == root["span_id"] and isinstance(trace.start_time, datetime)
        tree = await client.telemetry.get_span_tree(root["span_id"], max_depth=2)
        assert tree[provider["span_id"]].parent_span_id == root["span_id"]
        assert tree[provider["span_id"]].attributes["llm.total_tokens"] == call["usage"]["total_tokens"]
        span = await client.telemetry.get_span(provider["span_id"], trace_id=call["trace_id"])
        assert span.name == PROVIDER_SPAN and isinstance(span.end_time, datetime)
        traces = await client.telemetry.query_traces(
            attribute_filters=[{"key": "resource.id", "op": "eq", "value": MODEL_A}], limit=50
        )
        assert call["trace_id"] in {t.trace_id for t in traces}
        selected = await client.telemetry.query_spans(
            attribute_filters=[{"key": "resource.id", "op": "eq", "value": MODEL_A}],
            attributes_to_return=["llm.prompt_tokens"],
        )
        assert call["trace_id"] in {s.trace_id for s in selected}
        await client.telemetry.log_event(
            event={
                "type": "unstructured_log",
                "trace_id": call["trace_id"],
                "span_id": root["span_id"],
                "timestamp": datetime.now().astimezone(),
                "message": "from the SDK",
                "severity": "info",
            },
            ttl_seconds=60,
        )
