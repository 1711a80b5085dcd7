"""remote::otlp against a real OTLP/HTTP receiver: a small HTTP server in this file that takes POST /v1/traces,
/v1/metrics and /v1/logs and decodes the protobuf bodies with opentelemetry-proto, as a collector would.

Inference comes from the core's test plugin (``tests/support/stack_test_plugin.py``, ``inline::echo``); the OTLP
provider is found through its entry point in the ``stack serve`` test, and passed in directly in-process.
"""

from __future__ import annotations

import gzip
import logging
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx
import pytest
from llama_stack_provider_otlp import plugin
from llama_stack_provider_otlp.config import OTLPConfig, parse_headers
from llama_stack_provider_otlp.provider import create_provider
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags, Status

import llama_stack_core
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing import make_run_config, served_stack, stack_client
from llama_stack_core.testing.harness import free_port
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.telemetry import TelemetryProviderTests
from llama_stack_core.testing.waiting import eventually, eventually_sync
from llama_stack_core.tracing import SpanRecord

SUPPORT = Path(llama_stack_core.__file__).resolve().parents[1] / "tests" / "support"
if not (SUPPORT / "stack_test_plugin.py").is_file():
    pytest.skip("needs the core's tests/support/stack_test_plugin.py (a source checkout)", allow_module_level=True)
sys.path.insert(0, str(SUPPORT))
import stack_test_plugin

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SECRET = "Bearer s3cret-otlp-token"
CHAT = "inference.openai_chat_completion"


# -- the OTLP receiver -------------------------------------------------------------------------------------------


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in key_values}


class OTLPReceiver:
    """A minimal OTLP/HTTP collector: decodes and keeps every export request; can hold answers to look slow."""

    MESSAGES: ClassVar[dict[str, tuple[Any, Any]]] = {
        "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
        "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
        "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
    }

    def __init__(self, port: int = 0) -> None:
        self.received: dict[str, list[Any]] = defaultdict(list)
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.release.set()
        self.holding = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                kinds = receiver.MESSAGES.get(self.path)
                if kinds is None or self.headers.get("content-type") != "application/x-protobuf":
                    self.send_error(404 if kinds is None else 415)
                    return
                message = kinds[0]()
                message.ParseFromString(body)
                with receiver._lock:
                    receiver.received[self.path].append(message)
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    receiver.holding += 1
                receiver.release.wait(20)  # bounded: a test that forgets to release still ends
                with receiver._lock:
                    receiver.holding -= 1
                answer = kinds[1]().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[tuple[dict[str, Any], Any, PbSpan]]:
        """Every span received: (resource attributes, instrumentation scope, span)."""
        return [
            (attrs(rs.resource.attributes), ss.scope, span)
            for request in self.received["/v1/traces"]
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """The data points of a metric in the last export that carried it: (resource attributes, point)."""
        for request in reversed(self.received["/v1/metrics"]):
            points = [
                (attrs(rm.resource.attributes), point)
                for rm in request.resource_metrics
                for sm in rm.scope_metrics
                for metric in sm.metrics
                if metric.name == name
                for point in getattr(metric, metric.WhichOneof("data")).data_points
            ]
            if points:
                return points
        return []

    def metric(self, name: str) -> Any:
        for request in reversed(self.received["/v1/metrics"]):
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name == name:
                            return metric
        return None

    def log_records(self) -> list[Any]:
        return [
            record
            for request in self.received["/v1/logs"]
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]


@contextmanager
def otlp_receiver(port: int = 0) -> Iterator[OTLPReceiver]:
    with OTLPReceiver(port) as receiver:
        yield receiver


def stack_config(tmp_path: Path, otlp: dict[str, Any], *, recorder: bool = False) -> dict[str, Any]:
    telemetry = [{"provider_id": "otlp", "provider_type": "remote::otlp", "config": otlp}]
    if recorder:  # the core's in-memory exporter, to compare what the collector got with what the stack made
        telemetry.append({"provider_id": "spans", "provider_type": "inline::span-recorder", "config": {}})
    providers = {"inference": stack_test_plugin.echo_providers("echo"), "telemetry": telemetry}
    models = [{"model_id": name, "provider_id": "echo"} for name in ("alpha", "beta")]
    return make_run_config(providers, tmp_path, models=models)


def plugin_manager() -> PluginManager:
    return PluginManager(autoload=False, extra_plugins=[stack_test_plugin, plugin])


def openai_client(client: httpx.AsyncClient) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="x", http_client=client, max_retries=0)


# -- the core's telemetry conformance kit (export only: queries answer 501) ----------------------------------------


class TestOTLPConformance(TelemetryProviderTests):
    provider_type = "remote::otlp"
    capabilities = frozenset({"export"})
    extra_plugins: ClassVar[list[Any]] = [stack_test_plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def collector(cls) -> Iterator[OTLPReceiver]:
        with otlp_receiver() as receiver:
            yield receiver

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, collector: OTLPReceiver) -> dict[str, Any]:
        return {"endpoint": collector.url, "service_name": "otlp-kit"}

    @pytest.mark.anyio
    async def test_the_kit_spans_reached_the_collector(self, http: Any, impl: Any, collector: OTLPReceiver) -> None:
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "traced-chat-a", "messages": [{"role": "user", "content": "to the collector"}]},
        )
        assert response.status_code == 200
        await http.app.state.stack.tracer.flush()
        assert impl.last_error is None and impl.exported_spans >= 2
        assert {s.name for _, _, s in collector.spans()} >= {"POST /v1/chat/completions", CHAT}
        assert (await http.post("/v1/telemetry/traces", json={})).status_code == 501


# -- spans and metrics through the stack ---------------------------------------------------------------------------


async def test_spans_and_token_metrics_reach_the_collector(tmp_path: Path) -> None:
    import openai

    expected_tokens: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with otlp_receiver() as collector:
        otlp = {
            "endpoint": collector.url,
            "service_name": "otlp-test",
            "headers": {"authorization": SECRET},
            "resource_attributes": {"deployment.environment": "test"},
            "compression": "gzip",
        }
        async with stack_client(stack_config(tmp_path, otlp, recorder=True), plugin_manager()) as client:
            sdk = openai_client(client)
            asked = [("alpha", "one two three"), ("alpha", "four"), ("beta", "five six")]
            for model, text in asked:
                answer = await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
                for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                    expected_tokens[model][key] += getattr(answer.usage, key)
            continued = await sdk.chat.completions.create(
                model="beta",
                messages=[{"role": "user", "content": "traced"}],
                extra_headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
            )
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                expected_tokens["beta"][key] += getattr(continued.usage, key)
            stream = await sdk.chat.completions.create(
                model="alpha", stream=True, messages=[{"role": "user", "content": "streamed words"}]
            )
            assert "".join([c.choices[0].delta.content or "" async for c in stream]).endswith("streamed words")
            with pytest.raises(openai.APIStatusError) as failed:  # echo does no text completions: 501
                await sdk.completions.create(model="alpha", prompt="x")
            assert failed.value.status_code == 501
            providers = (await client.get("/v1/providers")).text
            stack = client.app.state.stack
            await stack.tracer.flush()
            made = {s.span_id: s for s in stack.providers["telemetry"]["spans"].impl.spans}
        # the stack has stopped: the provider's last metric export has happened

    assert SECRET not in providers and "s3cret" not in providers and "********" in providers
    assert all(h.get("authorization") == SECRET for h in collector.headers)  # the real header did reach it

    received = collector.spans()
    assert len(received) == len(made) == 13  # 6 requests (root + provider call) and GET /v1/providers
    by_id = {span.span_id.hex(): (resource, scope, span) for resource, scope, span in received}
    assert by_id.keys() == made.keys()  # the stack's own ids, none made up
    for span_id, (resource, scope, span) in by_id.items():
        record = made[span_id]
        assert resource["service.name"] == "otlp-test" and resource["deployment.environment"] == "test"
        assert scope.name == "llama_stack_core"
        assert span.trace_id.hex() == record.trace_id and span.name == record.name
        assert (span.parent_span_id.hex() or None) == record.parent_span_id
        assert span.start_time_unix_nano == record.start_ns and span.end_time_unix_nano == record.end_ns
        assert attrs(span.attributes) == record.attributes
        assert span.status.code == (Status.STATUS_CODE_ERROR if record.status == "error" else Status.STATUS_CODE_OK)

    calls = [span for _, _, span in received if span.name == CHAT]
    assert len(calls) == 5
    for call in calls:
        root = by_id[call.parent_span_id.hex()][2]  # a provider call is a child of its request's root span
        assert root.name == "POST /v1/chat/completions" and root.trace_id == call.trace_id
        assert root.kind == PbSpan.SPAN_KIND_SERVER and call.kind == PbSpan.SPAN_KIND_INTERNAL
        assert attrs(root.attributes)["http.status_code"] == 200
        assert attrs(call.attributes)["provider.id"] == "echo"
    unary = [c for c in calls if "llm.total_tokens" in attrs(c.attributes)]
    assert sorted(attrs(c.attributes)["resource.id"] for c in unary) == ["alpha", "alpha", "beta", "beta"]
    assert all(attrs(c.attributes)["llm.prompt_tokens"] == 1 for c in unary)
    assert len({c.trace_id for c in calls}) == 5  # one trace per request

    incoming = [span for _, _, span in received if span.trace_id.hex() == TRACE_ID]
    assert {s.name for s in incoming} == {"POST /v1/chat/completions", CHAT}  # the caller's trace continued
    root = next(s for s in incoming if s.name == "POST /v1/chat/completions")
    assert root.parent_span_id.hex() == CALLER_SPAN and root.flags & SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
    child = next(s for s in incoming if s.name == CHAT)
    assert not child.flags & SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK

    error = next(span for _, _, span in received if span.name == "inference.openai_completion")
    assert error.status.code == Status.STATUS_CODE_ERROR and "text completions" in error.status.message
    assert attrs(error.attributes)["error.type"] == "NotImplementedError"

    # token counters by model equal the usage the answers reported; resource as for spans
    for kind in ("prompt", "completion", "total"):
        points = collector.metric_points(f"llama_stack.tokens.{kind}")
        assert {r["service.name"] for r, _ in points} == {"otlp-test"}
        totals = {attrs(p.attributes)["model"]: p.as_int for _, p in points}
        assert totals == {m: expected_tokens[m][f"{kind}_tokens"] for m in ("alpha", "beta")}
        assert collector.metric(f"llama_stack.tokens.{kind}").sum.is_monotonic
    durations = {
        (a["api"], a["operation"], a["status"]): p.count
        for _, p in collector.metric_points("llama_stack.request.duration")
        for a in [attrs(p.attributes)]
    }
    assert durations == {
        ("inference", "openai_chat_completion", "ok"): 5,
        ("inference", "openai_completion", "error"): 1,
    }
    assert collector.metric("llama_stack.request.duration").unit == "s"


async def test_log_events_become_otlp_logs_spans_and_metrics(tmp_path: Path) -> None:
    trace_id, span_id, child_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "c7ad6b7169203332"
    event = {"trace_id": trace_id, "span_id": span_id, "timestamp": "2026-01-01T00:00:00Z"}
    with otlp_receiver() as collector:
        async with stack_client(stack_config(tmp_path, {"endpoint": collector.url}), plugin_manager()) as client:
            post = client.post
            log = {
                **event,
                "type": "unstructured_log",
                "message": "tool call failed",
                "severity": "error",
                "attributes": {"tool": "search", "attempt": 2, "dropped": None},
            }
            assert (await post("/v1/telemetry/events", json={"event": log})).status_code == 200
            start = {
                **event,
                "span_id": child_id,
                "type": "structured_log",
                "attributes": {"step": "plan"},
                "payload": {"type": "span_start", "name": "agent.turn", "parent_span_id": span_id},
            }
            end = {
                **start,
                "timestamp": "2026-01-01T00:00:01.5Z",
                "attributes": {"steps": 3},
                "payload": {"type": "span_end", "status": "error"},
            }
            for body in (start, end):
                assert (await post("/v1/telemetry/events", json={"event": body})).status_code == 200
            for value in (3, 5.5):
                metric = {
                    **event,
                    "type": "metric",
                    "metric": "agent.steps",
                    "value": value,
                    "unit": "{step}",
                    "attributes": {"agent": "a1"},
                }
                assert (await post("/v1/telemetry/events", json={"event": metric})).status_code == 200
            bad_id = await post("/v1/telemetry/events", json={"event": {**log, "trace_id": "xyz"}})
            bad_name = await post("/v1/telemetry/events", json={"event": {**metric, "metric": "9 lives"}})
            queries = [
                await post("/v1/telemetry/traces", json={}),
                await client.get(f"/v1/telemetry/traces/{trace_id}"),
                await post("/v1/telemetry/spans", json={"attribute_filters": [], "attributes_to_return": []}),
                await post("/v1/telemetry/metrics/agent.steps", json={"start_time": 0}),
            ]

    assert bad_id.status_code == 400 and "trace_id" in bad_id.json()["error"]["message"]
    assert bad_name.status_code == 400 and "instrument name" in bad_name.json()["error"]["message"]
    for answer in queries:
        assert answer.status_code == 501 and "only exports" in answer.json()["error"]["message"]

    [record] = collector.log_records()
    assert record.trace_id.hex() == trace_id and record.span_id.hex() == span_id
    assert record.body.string_value == "tool call failed" and record.severity_text == "ERROR"
    assert record.severity_number == 17 and record.time_unix_nano == 1767225600 * 10**9
    assert attrs(record.attributes) == {"tool": "search", "attempt": 2}
    assert {
        r["service.name"]
        for r in (attrs(rl.resource.attributes) for req in collector.received["/v1/logs"] for rl in req.resource_logs)
    } == {"llama-stack"}

    [client_span] = [s for _, _, s in collector.spans() if s.name == "agent.turn"]
    assert client_span.trace_id.hex() == trace_id and client_span.span_id.hex() == child_id
    assert client_span.parent_span_id.hex() == span_id and client_span.status.code == Status.STATUS_CODE_ERROR
    assert client_span.end_time_unix_nano - client_span.start_time_unix_nano == 1_500_000_000
    assert attrs(client_span.attributes) == {"step": "plan", "steps": 3}

    [(_, point)] = collector.metric_points("agent.steps")
    assert point.count == 2 and point.sum == 8.5 and attrs(point.attributes) == {"agent": "a1"}
    assert collector.metric("agent.steps").unit == "{step}"


async def test_unusual_attribute_values_are_exported_not_dropped() -> None:
    with otlp_receiver() as collector:
        provider = create_provider(OTLPConfig(endpoint=collector.url, export_metrics=False), {})
        record = SpanRecord(
            TRACE_ID,
            "1111111111111111",
            None,
            "custom",
            1_000,
            2_000,
            attributes={
                "nested": {"a": 1},
                "big": 2**70,
                "mixed": [1, "two"],
                "floats": [0.5, 1.5],
                "none": None,
                "flag": True,
                "empty": [],
            },
        )
        await provider.export_spans([record])
        await provider.shutdown()
    [(_, _, span)] = collector.spans()
    assert attrs(span.attributes) == {
        "nested": '{"a": 1}',
        "big": str(2**70),
        "mixed": ["1", "two"],
        "floats": [0.5, 1.5],
        "flag": True,
    }


# -- failure modes -----------------------------------------------------------------------------------------------


async def test_a_down_collector_costs_a_warning_not_a_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens here yet
    otlp = {"endpoint": f"http://127.0.0.1:{port}", "timeout": 0.5, "metrics_export_interval": 3600}
    caplog.set_level(logging.WARNING)
    async with stack_client(stack_config(tmp_path, otlp), plugin_manager()) as client:
        sdk = openai_client(client)
        for _ in range(3):
            answer = await sdk.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "hi"}])
            assert answer.choices[0].message.content == "echo:alpha: hi"
        stack = client.app.state.stack
        await stack.tracer.flush()
        provider = stack.providers["telemetry"]["otlp"].impl
        health = (await client.get("/v1/providers")).json()
        assert (await client.get("/v1/models")).status_code == 200

        # the collector comes back: once the back-off window has passed, spans flow again
        with otlp_receiver(port) as collector:

            async def exported() -> bool:
                await sdk.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "again"}])
                await stack.tracer.flush()
                return bool(collector.spans())

            await eventually(exported, timeout=10, interval=0.1, what="spans once the back-off has passed")
            assert any(span.name == CHAT for _, _, span in collector.spans())
            assert provider.last_error is None
    warnings = [r for r in caplog.records if r.name == "llama_stack_provider_otlp.provider"]
    assert any("could not export" in r.getMessage() and "requests are not affected" in r.getMessage() for r in warnings)
    assert any("reachable again" in r.getMessage() for r in warnings)
    assert not [r for r in caplog.records if r.levelno > logging.WARNING]  # the SDK's errors became warnings
    [otlp_info] = [p for p in health["data"] if p["provider_id"] == "otlp"]
    assert otlp_info["health"]["status"] == "Error" and "span export failed" in otlp_info["health"]["message"]


async def test_a_slow_collector_never_blocks_the_event_loop(tmp_path: Path) -> None:
    with otlp_receiver() as collector:
        collector.release.clear()  # the collector takes every export and does not answer until released
        otlp = {"endpoint": collector.url, "timeout": 30, "export_metrics": False}
        async with stack_client(stack_config(tmp_path, otlp), plugin_manager()) as client:
            sdk = openai_client(client)
            await sdk.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "first"}])
            # the background export reaches the collector, which holds it
            await eventually(lambda: collector.holding, timeout=10, what="the export reaching the collector")
            assert collector.holding == 1
            for text in ("while", "the", "export", "hangs"):
                answer = await sdk.chat.completions.create(model="beta", messages=[{"role": "user", "content": text}])
                assert answer.choices[0].message.content == f"echo:beta: {text}"
            assert collector.holding == 1  # still unanswered: the requests were served meanwhile
            collector.release.set()
            await client.app.state.stack.tracer.flush()
    names = [span.name for _, _, span in collector.spans()]
    assert names.count(CHAT) == 5


# -- config ------------------------------------------------------------------------------------------------------


def test_config_defaults_come_from_the_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    default = OTLPConfig()
    assert default.url("traces") == "http://localhost:4318/v1/traces"
    assert default.url("metrics") == "http://localhost:4318/v1/metrics" and default.service_name == "llama-stack"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318/")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-stack")
    configured = OTLPConfig()
    assert configured.url("traces") == "https://collector.example:4318/v1/traces"
    assert configured.service_name == "my-stack"

    from llama_stack_core.config.env import substitute_env

    sample = substitute_env(OTLPConfig.sample_config(), {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t,x=1"})
    parsed = OTLPConfig.model_validate(sample)
    assert parsed.header_values() == {"authorization": "Bearer t", "x": "1"}
    assert parsed.endpoint == "http://localhost:4318" and "Bearer t" not in repr(parsed)
    assert OTLPConfig.model_validate(substitute_env(OTLPConfig.sample_config(), {})).headers == {}
    assert parse_headers("a=b%3Dc, d = e") == {"a": "b=c", "d": "e"}
    for bad in (
        {"endpoint": "localhost:4318"},
        {"endpoint": "http://c:4318/v1/traces"},
        {"headers": "novalue"},
        {"timeout": 0},
        {"unknown": 1},
    ):
        with pytest.raises(ValueError):
            OTLPConfig.model_validate(bad)


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_otlp.plugin",
        {"opentelemetry", "llama_stack_provider_otlp.provider"},
        call=["register_telemetry_providers"],
    )


# -- a real `stack serve` ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_stack_serve_exports_to_the_collector_in_the_environment(tmp_path: Path) -> None:
    def totals() -> dict[str, int]:
        return {attrs(p.attributes)["model"]: p.as_int for _, p in collector.metric_points("llama_stack.tokens.total")}

    def calls() -> list[Any]:
        return [s for _, _, s in collector.spans() if s.name == CHAT]

    with otlp_receiver() as collector:
        # endpoint, headers and service name from ${env.OTEL_...}; metrics every half second
        config = stack_config(tmp_path, {**OTLPConfig.sample_config(), "metrics_export_interval": 0.5})
        path = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "served-stack",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20served-secret",
            "LLAMA_STACK_PLUGINS": "stack_test_plugin",
            "PYTHONPATH": path,
        }
        usage: dict[str, int] = defaultdict(int)
        with served_stack(config, tmp_path, env=env) as base_url:
            providers = httpx.get(f"{base_url}/v1/providers").text
            for model in ("alpha", "beta", "alpha"):
                answer = httpx.post(
                    f"{base_url}/v1/chat/completions",
                    timeout=30,
                    json={"model": model, "messages": [{"role": "user", "content": "from a real server"}]},
                )
                assert answer.status_code == 200
                usage[model] += answer.json()["usage"]["total_tokens"]
            # `stack serve` dies on SIGTERM without stopping the stack (see README), so read while it runs
            eventually_sync(
                lambda: len(calls()) == 3 and totals() == usage, timeout=20, what="3 spans and the token totals"
            )

    assert "served-secret" not in providers and "remote::otlp" in providers
    assert {h["authorization"] for h in collector.headers} == {"Bearer served-secret"}
    spans = collector.spans()
    assert {resource["service.name"] for resource, _, _ in spans} == {"served-stack"}
    roots = {s.span_id: s for _, _, s in spans if s.name == "POST /v1/chat/completions"}
    assert len(roots) == len(calls()) == 3
    assert all(roots[c.parent_span_id].trace_id == c.trace_id for c in calls())
    assert totals() == usage
