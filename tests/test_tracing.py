"""Request tracing: spans per request, provider call and outbound call, W3C trace context in and out."""

from __future__ import annotations

import asyncio
import logging

import pytest

from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion
from llama_stack_core.testing.waiting import eventually
from llama_stack_core.trace_sampling import Sampler
from llama_stack_core.tracing import Tracer, parse_traceparent

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
CHAT = {"model": "compat/m", "messages": [{"role": "user", "content": "hi"}]}


def traced_config(tmp_path, base_url: str, telemetry: bool = True, **settings) -> dict:
    providers = {
        "inference": [
            {"provider_id": "compat", "provider_type": "remote::openai-compat", "config": {"base_url": base_url}}
        ]
    }
    if telemetry:
        providers["telemetry"] = [{"provider_id": "spans", "provider_type": "inline::span-recorder", "config": {}}]
    return make_run_config(providers, tmp_path, **({"telemetry": settings} if settings else {}))


async def spans_of(client) -> list:
    stack = client.app.state.stack
    await stack.tracer.flush()
    return stack.providers["telemetry"]["spans"].impl.spans


async def test_a_request_is_a_trace_of_router_provider_and_outbound_spans(tmp_path, pm):
    with ScriptedServer() as upstream:
        upstream.reply(json=chat_completion("hello", model="m"))
        async with stack_client(traced_config(tmp_path, upstream.base_url), pm) as client:
            response = await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": INCOMING})
            assert response.status_code == 200
            spans = {s.name: s for s in await spans_of(client)}
    root = spans["POST /v1/chat/completions"]
    provider = spans["inference.openai_chat_completion"]
    outbound = spans["http.client"]
    assert {s.trace_id for s in spans.values()} == {TRACE_ID}  # the incoming trace is continued
    assert root.parent_span_id == "00f067aa0ba902b7"
    assert provider.parent_span_id == root.span_id and outbound.parent_span_id == provider.span_id
    assert root.attributes["http.status_code"] == 200 and root.status == "ok"
    assert provider.attributes["provider.id"] == "compat" and provider.attributes["resource.id"] == "compat/m"
    assert provider.attributes["llm.prompt_tokens"] == 3 and provider.attributes["llm.completion_tokens"] == 1
    assert outbound.attributes["http.url"].endswith("/v1/chat/completions")
    assert all(s.end_ns >= s.start_ns for s in spans.values())
    sent = parse_traceparent(upstream.requests[-1].headers["traceparent"])
    assert sent == (TRACE_ID, outbound.span_id, True)  # propagated to the upstream


async def test_streams_record_time_to_first_chunk_and_errors_mark_spans(tmp_path, pm):
    with ScriptedServer() as upstream:
        upstream.reply(stream=[chat_chunk("a"), chat_chunk("b", finish_reason="stop")])
        upstream.reply(status=400, json={"error": {"message": "no such model"}})
        async with stack_client(traced_config(tmp_path, upstream.base_url), pm) as client:
            await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
            failed = await client.post("/v1/chat/completions", json=CHAT)
            missing = await client.get("/v1/models/nope")
            spans = await spans_of(client)
    assert failed.status_code == 400 and missing.status_code == 404
    streamed = [s for s in spans if s.name == "inference.openai_chat_completion"]
    assert streamed[0].attributes["llm.time_to_first_chunk_ms"] >= 0 and streamed[0].status == "ok"
    assert streamed[1].status == "error" and "no such model" in streamed[1].attributes["error.message"]
    roots = {s.name: s for s in spans if s.parent_span_id is None}
    assert roots["GET /v1/models/nope"].attributes["http.status_code"] == 404
    assert roots["GET /v1/models/nope"].status == "error"
    assert len({s.trace_id for s in roots.values()}) == len(roots)  # one new trace per request


async def test_without_a_telemetry_provider_nothing_is_traced(tmp_path, pm):
    with ScriptedServer() as upstream:
        upstream.reply(json=chat_completion())
        async with stack_client(traced_config(tmp_path, upstream.base_url, telemetry=False), pm) as client:
            assert not client.app.state.stack.tracer.enabled
            await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": INCOMING})
    assert "traceparent" not in upstream.requests[-1].headers


def test_traceparent_parsing():
    assert parse_traceparent(INCOMING) == (TRACE_ID, "00f067aa0ba902b7", True)
    assert parse_traceparent(INCOMING[:-2] + "00").sampled is False
    assert parse_traceparent(INCOMING.upper()).trace_id == TRACE_ID
    for bad in (
        None,
        "",
        "00-short-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-zzzzzzzzzzzzzzzz-01",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        f"00-{TRACE_ID}-00f067aa0ba902b7",
        INCOMING[:-2] + "zz",
    ):
        assert parse_traceparent(bad) is None


async def test_requests_beyond_the_sampling_budget_propagate_context_but_record_nothing(tmp_path, pm):
    with ScriptedServer() as upstream:
        for _ in range(3):
            upstream.reply(json=chat_completion())
        upstream.reply(status=503, json={"error": {"message": "overloaded"}})
        config = traced_config(tmp_path, upstream.base_url, max_traces_per_second=0)
        async with stack_client(config, pm) as client:
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
            assert "traceparent" not in upstream.requests[-1].headers  # a new trace that is not recorded
            unsampled = f"00-{TRACE_ID}-00f067aa0ba902b7-00"
            await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": unsampled})
            continued = parse_traceparent(upstream.requests[-1].headers["traceparent"])
            await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": INCOMING})  # caller: record
            failed = await client.post("/v1/chat/completions", json=CHAT)
            spans = await spans_of(client)
    assert continued == (TRACE_ID, "00f067aa0ba902b7", False)  # the caller's trace goes on, unrecorded
    assert {s.trace_id for s in spans if s.name != "POST /v1/chat/completions" or s.status == "ok"} == {TRACE_ID}
    assert len([s for s in spans if s.trace_id == TRACE_ID]) == 3  # root, provider call, outbound call
    assert len([s for s in spans if s.root]) == 2  # the recorded request and the failure kept after all
    assert failed.status_code == 502
    kept = [s for s in spans if s.status == "error"]  # the unsampled request that failed keeps its root span
    assert len(kept) == 1 and kept[0].root and kept[0].attributes["http.status_code"] == 502
    assert kept[0].attributes["sampling.recorded_because"] == "error" and kept[0].end_ns >= kept[0].start_ns
    assert kept[0].trace_id != TRACE_ID and kept[0].parent_span_id is None


async def test_telemetry_can_be_switched_off_with_a_provider_configured(tmp_path, pm):
    with ScriptedServer() as upstream:
        upstream.reply(json=chat_completion())
        async with stack_client(traced_config(tmp_path, upstream.base_url, enabled=False), pm) as client:
            assert not client.app.state.stack.tracer.enabled
            await client.post("/v1/chat/completions", json=CHAT)
            assert await spans_of(client) == []


@pytest.mark.parametrize("budget", [0, None], ids=["unrecorded", "recorded"])
async def test_provider_data_and_trace_context_are_read_in_one_pass(tmp_path, pm, budget):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    with ScriptedServer() as upstream:
        for _ in range(3):
            upstream.reply(json=chat_completion("hi", model="m"))
        async with stack_client(traced_config(tmp_path, upstream.base_url, max_traces_per_second=budget), pm) as client:
            await client.post(
                "/v1/chat/completions",
                json=CHAT,
                headers={"X-LlamaStack-Provider-Data": '{"compat_api_key": "per-request-key"}', "traceparent": caller},
            )
            await client.post(
                "/v1/chat/completions",
                json=CHAT,
                headers={"X-LlamaStack-Provider-Data": '{"compat_api_key": "second-key"}'},
            )
            bad = await client.post("/v1/chat/completions", json=CHAT, headers={"X-LlamaStack-Provider-Data": "{nope"})
    first, second = upstream.requests[:2]
    assert first.headers["authorization"] == "Bearer per-request-key"
    assert first.headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert second.headers["authorization"] == "Bearer second-key"
    assert bad.status_code == 400 and "Provider-Data" in bad.json()["error"]["message"]


async def test_export_interval_sets_how_often_spans_reach_the_providers(tmp_path, pm):
    with ScriptedServer() as upstream:
        for _ in range(2):
            upstream.reply(json=chat_completion("hi", model="m"))
        short = traced_config(tmp_path / "short", upstream.base_url, export_interval_seconds=0.05)
        async with stack_client(short, pm) as client:
            await client.post("/v1/chat/completions", json=CHAT)
            recorder = client.app.state.stack.providers["telemetry"]["spans"].impl
            await eventually(lambda: recorder.spans, timeout=5, what="spans exported within the short interval")
        long = traced_config(tmp_path / "long", upstream.base_url, export_interval_seconds=3600)
        async with stack_client(long, pm) as client:
            await client.post("/v1/chat/completions", json=CHAT)
            recorder = client.app.state.stack.providers["telemetry"]["spans"].impl
            await asyncio.sleep(0.2)  # an absence is only seen by waiting: several of the short interval
            assert not recorder.spans


def test_sampler_budget_and_ratio():
    now = [0.0]
    sampler = Sampler(1.0, max_per_second=3, clock=lambda: now[0])
    assert [sampler.sample() for _ in range(5)] == [True, True, True, False, False]
    now[0] += 0.5  # half a second refills one and a half traces
    assert not sampler.sample()  # not before the refill: the decision reads no clock
    sampler.refill()
    assert [sampler.sample() for _ in range(3)] == [True, False, False]
    now[0] += 10  # the bucket holds at most one second's worth
    sampler.refill()
    assert sum(sampler.sample() for _ in range(10)) == 3
    assert all(Sampler().sample() for _ in range(1000))
    assert not any(Sampler(0.0).sample() for _ in range(1000))
    import random

    random.seed(7)
    assert 4_500 < sum(Sampler(0.5).sample() for _ in range(10_000)) < 5_500
    with pytest.raises(ValueError):
        Sampler(1.5)


async def test_default_sampling_records_a_burst_whole_then_ten_traces_a_second(tmp_path, pm):
    now = [0.0]
    sampler = Sampler(1.0, max_per_second=10, clock=lambda: now[0], burst=100)
    assert sum(sampler.sample() for _ in range(150)) == 100
    now[0] += 2.0
    sampler.refill()
    assert sum(sampler.sample() for _ in range(150)) == 20
    now[0] += 3600  # a quiet spell refills the burst, not more
    sampler.refill()
    assert sum(sampler.sample() for _ in range(150)) == 100
    # the run config's defaults: 30 requests in a row are all recorded
    with ScriptedServer() as upstream:
        for _ in range(30):
            upstream.reply(json=chat_completion("hi", model="m"))
        async with stack_client(traced_config(tmp_path, upstream.base_url), pm) as client:
            for _ in range(30):
                assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
            assert client.app.state.stack.tracer.sampler.max_per_second == 10
            spans = await spans_of(client)
    assert len({s.trace_id for s in spans if s.root}) == 30


async def test_tracer_refills_the_sampling_budget_in_the_background():
    now = [0.0]
    reads = []  # the sampler reads its clock only to refill

    def clock() -> float:
        reads.append(now[0])
        return now[0]

    tracer = Tracer([object()], sampler=Sampler(1.0, max_per_second=2, clock=clock), flush_every=0.01)
    tracer.start()
    try:
        assert [tracer.request_span("GET", "/", None).recording for _ in range(3)] == [True, True, False]
        now[0] += 1.0
        await eventually(lambda: 1.0 in reads, timeout=5, what="a refill by the tracer's task")
        assert [tracer.request_span("GET", "/", None).recording for _ in range(3)] == [True, True, False]
    finally:
        await tracer.stop()


async def test_tracer_stops_when_its_task_was_just_woken():
    class Recorder:
        def __init__(self) -> None:
            self.spans: list = []

        async def export_spans(self, spans: list) -> None:
            self.spans.extend(spans)

    for _ in range(5):
        recorder = Recorder()
        tracer = Tracer([recorder], batch_size=4, flush_every=3600)
        tracer.start()
        await asyncio.sleep(0)  # the task is waiting for its wake-up
        for _ in range(4):
            tracer.finish(tracer.request_span("GET", "/", None))
        async with asyncio.timeout(5):  # a hang fails here (Python 3.11's wait_for lost the cancellation)
            await tracer.stop()
        assert len(recorder.spans) == 4


def test_ids_are_w3c_shaped_and_grow_with_time():
    import time

    from llama_stack_core.tracing import new_span_id, new_trace_id

    start = time.time_ns()
    trace_ids = [new_trace_id(start + i * 1_000_000) for i in range(50)]  # a millisecond apart
    assert trace_ids == sorted(trace_ids) and len(set(trace_ids)) == 50
    assert len({new_trace_id(start) for _ in range(1000)}) == 1000  # same instant: the random part differs
    span_ids = {new_span_id(start) for _ in range(1000)}
    assert len(span_ids) == 1000
    for value, width in ((trace_ids[0], 32), (next(iter(span_ids)), 16)):
        assert len(value) == width and int(value, 16) != 0 and value == value.lower()
        assert parse_traceparent(f"00-{trace_ids[0]}-{next(iter(span_ids))}-01") is not None


def test_token_usage_is_read_from_the_answer_bytes():
    import orjson

    from llama_stack_core.apis.inference import ChatCompletion
    from llama_stack_core.token_usage import Usage
    from llama_stack_core.token_usage import usage_of as _usage_of

    answer = {
        "choices": [{"message": {"content": 'he said "usage": {"total_tokens": 999}'}}],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 5,
            "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 3},
        },
        "system_fingerprint": "fp",
    }
    assert _usage_of(orjson.dumps(answer)) == Usage(12, 5, 17)
    spaced = b'{"data": [{"embedding": [0.1, 0.2]}], "usage" : {"prompt_tokens" : 4, "total_tokens": 4}}\n'
    assert _usage_of(spaced) == Usage(prompt_tokens=4, total_tokens=4)
    assert _usage_of(b'{"choices": [], "usage": null}') is None and _usage_of(b'{"choices": []}') is None
    # the last "usage" key is not the answer's own: the whole answer is read
    nested_last = {
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
        "choices": [{"message": {"tool_calls": [{"usage": {"total_tokens": 999}}]}}],
    }
    assert _usage_of(orjson.dumps(nested_last)) == Usage(prompt_tokens=3, total_tokens=3)
    assert _usage_of(b'[{"usage": {"total_tokens": 1}}]') is None
    # a count that is not a non-negative integer makes the usage unusable, not partly counted
    for bad in (b"2.5", b"-1", b'"7"', b"true"):
        assert (
            _usage_of(b'{"usage": {"prompt_tokens": 1, "completion_tokens": ' + bad + b', "total_tokens": 3}}') is None
        )
    # many answers at once (the meter's drain): one decoder call, or each on its own when one tail is not whole
    from llama_stack_core.token_usage import usage_in_json, usages_in_json

    flat = [orjson.dumps(answer), spaced, b'{"choices": []}', b'{"choices": [], "usage": null}']
    for batch in (flat, [*flat, orjson.dumps(nested_last)], [b'{"choices": []}\n', *flat]):
        assert usages_in_json(batch) == [usage_in_json(one) for one in batch]
    assert usages_in_json(flat)[:2] == [Usage(12, 5, 17), Usage(prompt_tokens=4, total_tokens=4)]
    # answers as objects (inline providers)
    assert _usage_of({"usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}) == Usage(2, 1, 3)
    assert _usage_of({"usage": {"prompt_tokens": -2}}) is None and _usage_of({"usage": None}) is None
    assert _usage_of(
        ChatCompletion.model_validate(
            {
                **chat_completion("hi", model="m"),
                "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
            }
        )
    ) == Usage(7, 2, 9)


async def test_token_usage_counts_every_inference_call_recorded_or_not(tmp_path, pm):
    with ScriptedServer() as upstream:
        upstream.reply(json=chat_completion("a", model="m"))
        upstream.reply(json=chat_completion("b", model="m"))
        upstream.reply(
            stream=[
                chat_chunk("c"),
                {
                    **chat_chunk("", finish_reason="stop"),
                    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
                },
            ]
        )
        config = traced_config(tmp_path, upstream.base_url, max_traces_per_second=1, max_traces_burst=1)
        async with stack_client(config, pm) as client:
            answers = [(await client.post("/v1/chat/completions", json=CHAT)).json() for _ in range(2)]
            await client.post(
                "/v1/chat/completions", json={**CHAT, "stream": True, "stream_options": {"include_usage": True}}
            )
            await client.app.state.stack.tracer.flush()
            recorder = client.app.state.stack.providers["telemetry"]["spans"].impl
            assert len([s for s in recorder.spans if s.root]) == 1  # one request recorded, two not
    totals = {}
    for point in recorder.usage:
        assert point.labels == {"model": "compat/m", "provider_id": "compat"}
        totals[point.metric] = totals.get(point.metric, 0) + point.value
    expected = sum(a["usage"]["total_tokens"] for a in answers) + 9
    assert totals["total_tokens"] == expected
    assert totals["prompt_tokens"] == sum(a["usage"]["prompt_tokens"] for a in answers) + 7
    assert sum(p.count for p in recorder.usage if p.metric == "total_tokens") == 3


def test_token_meter_sums_per_model_and_provider_and_skips_missing_counts():
    import orjson

    from llama_stack_core.token_usage import DEFERRED_ANSWER_BYTES, TokenMeter

    meter = TokenMeter()
    meter.add_answer("chat", "p", {"usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
    meter.add_answer(
        "chat", "p", b'{"usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5, "extra": {"x": 1}}}'
    )
    large = orjson.dumps(
        {"data": [{"embedding": [0.5] * DEFERRED_ANSWER_BYTES}], "usage": {"prompt_tokens": 6, "total_tokens": 6}}
    )
    meter.add_answer("embed", "p", large)
    meter.add_answer("embed", "p", {"usage": {"prompt_tokens": True, "total_tokens": -1}})  # not counts
    meter.add_answer(None, "q", b'{"usage": {"total_tokens": 1}}')
    meter.add_answer("chat", "p", None)
    meter.add_answer("chat", "p", b'{"choices": []}')
    points = {(p.labels.get("model"), p.labels["provider_id"], p.metric): (p.value, p.count) for p in meter.drain()}
    assert points == {
        ("chat", "p", "prompt_tokens"): (7, 2),
        ("chat", "p", "completion_tokens"): (3, 2),
        ("chat", "p", "total_tokens"): (10, 2),
        ("embed", "p", "prompt_tokens"): (6, 1),
        ("embed", "p", "total_tokens"): (6, 1),
        (None, "q", "total_tokens"): (1, 1),
    }
    assert meter.drain() == []


def test_otel_traces_sampler_variables_map_to_the_sampling_settings():
    from llama_stack_core.trace_sampling import settings_from_otel_environment as settings

    assert settings({}) == {} and settings({"OTEL_TRACES_SAMPLER": " "}) == {}
    assert settings({"OTEL_TRACES_SAMPLER": "always_on"}) == {"sample_ratio": 1.0, "max_traces_per_second": None}
    assert settings({"OTEL_TRACES_SAMPLER": "ParentBased_Always_Off"})["sample_ratio"] == 0.0
    assert settings({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}) == {
        "sample_ratio": 0.25,
        "max_traces_per_second": None,
    }
    assert settings({"OTEL_TRACES_SAMPLER": "traceidratio"})["sample_ratio"] == 1.0  # the OpenTelemetry default
    # as the OpenTelemetry SDKs do: an unknown sampler is ignored, an argument that is not a ratio counts as 1.0
    assert settings({"OTEL_TRACES_SAMPLER": "xray"}) == {}
    for argument in ("2", "half"):
        assert settings({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": argument}) == {
            "sample_ratio": 1.0,
            "max_traces_per_second": None,
        }


async def test_otel_traces_sampler_applies_where_the_run_config_is_silent(tmp_path, pm, monkeypatch, caplog):
    from llama_stack_core.config.loader import parse_run_config

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    with ScriptedServer() as upstream:
        for _ in range(3):
            upstream.reply(json=chat_completion("hi", model="m"))
        async with stack_client(traced_config(tmp_path, upstream.base_url), pm) as client:
            for _ in range(2):
                assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
            await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": INCOMING})
            spans = await spans_of(client)
    assert {s.trace_id for s in spans} == {TRACE_ID}  # new traces not recorded; a sampled caller's trace still is
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    chosen = parse_run_config(traced_config(tmp_path, "http://unused")).telemetry
    assert (chosen.sample_ratio, chosen.max_traces_per_second) == (0.5, None)
    for settings in ({"sample_ratio": 0.1}, {"max_traces_per_second": 3}):  # the run config's own sampling wins whole
        config = parse_run_config(traced_config(tmp_path, "http://unused", **settings)).telemetry
        assert {"sample_ratio": config.sample_ratio, "max_traces_per_second": config.max_traces_per_second} == {
            "sample_ratio": 1.0,
            "max_traces_per_second": 10,
            **settings,
        }
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
    with caplog.at_level(logging.WARNING):
        ignored = parse_run_config(traced_config(tmp_path, "http://unused")).telemetry
    assert ignored.max_traces_per_second == 10 and "OTEL_TRACES_SAMPLER=jaeger_remote is not supported" in caplog.text
