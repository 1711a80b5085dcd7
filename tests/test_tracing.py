"""Request tracing: spans per request, provider call and outbound call, W3C trace context in and out."""

from __future__ import annotations

import pytest

from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk, chat_completion
from llama_stack_core.tracing import parse_traceparent

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
CHAT = {"model": "compat/m", "messages": [{"role": "user", "content": "hi"}]}

def traced_config(tmp_path, base_url: str, telemetry: bool = True) -> dict:
    providers = {"inference": [{"provider_id": "compat", "provider_type": "remote::openai-compat",
                                "config": {"base_url": base_url}}]}
    if telemetry:
        providers["telemetry"] = [{"provider_id": "spans", "provider_type": "inline::span-recorder", "config": {}}]
    return make_run_config(providers, tmp_path)

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
    assert sent == (TRACE_ID, outbound.span_id)  # propagated to the upstream

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
    assert parse_traceparent(INCOMING) == (TRACE_ID, "00f067aa0ba902b7")
    for bad in (None, "", "00-short-00f067aa0ba902b7-01", f"00-{TRACE_ID}-zzzzzzzzzzzzzzzz-01",
                f"00-{'0' * 32}-00f067aa0ba902b7-01"):
        assert parse_traceparent(bad) is None
