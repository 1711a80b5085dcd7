"""The one call path (routing.Operation): router overrides and in-server calls are traced and metered like any
provider call, token usage is metered once per answer whether recorded or not, and tracing off leaves the app
unwrapped."""

from __future__ import annotations

from typing import Any

import pytest
from stack_test_plugin import echo_providers

from llama_stack_core.server.app import RoutedApp
from llama_stack_core.server.tracing_middleware import TracingMiddleware
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
RECORDED = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}  # the caller sampled it: recorded here too
UNRECORDED = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-00"}
SPAN_RECORDER = [{"provider_id": "spans", "provider_type": "inline::span-recorder", "config": {}}]
EMBEDDING_MODEL = "echo-default-embedding"


def vector_config(tmp_path, vector_io: dict[str, Any], telemetry: bool = True) -> dict[str, Any]:
    providers = {"inference": echo_providers("echo"), "vector_io": [vector_io]}
    if telemetry:
        providers["telemetry"] = SPAN_RECORDER
    return make_run_config(providers, tmp_path)


def sqlite_vec(tmp_path) -> dict[str, Any]:
    return {
        "provider_id": "vec",
        "provider_type": "inline::sqlite-vec",
        "config": {
            "db_path": str(tmp_path / "vectors.db"),
            "persistence": {"backend": "default", "namespace": "vector_io"},
        },
    }


async def exported(client) -> tuple[list[Any], list[Any]]:
    """The spans and usage points the stack exported so far."""
    stack = client.app.state.stack
    await stack.tracer.flush()
    recorder = stack.providers["telemetry"]["spans"].impl
    return recorder.spans, recorder.usage


def by_name(spans: list[Any]) -> dict[str, list[Any]]:
    named: dict[str, list[Any]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


async def test_vector_store_create_list_delete_are_provider_spans(tmp_path, pm):
    async with stack_client(vector_config(tmp_path, sqlite_vec(tmp_path)), pm) as client:
        created = await client.post("/v1/vector_stores", json={"name": "notes"}, headers=RECORDED)
        assert created.status_code == 200, created.text
        store_id = created.json()["id"]
        listed = await client.get("/v1/vector_stores", headers=RECORDED)
        assert [s["id"] for s in listed.json()["data"]] == [store_id]
        deleted = await client.delete(f"/v1/vector_stores/{store_id}", headers=RECORDED)
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        spans, _ = await exported(client)
    named = by_name(spans)
    roots = {s.span_id: s for s in spans if s.root}
    for operation in ("openai_create_vector_store", "openai_list_vector_stores", "openai_delete_vector_store"):
        (span,) = named[f"vector_io.{operation}"]
        assert span.parent_span_id in roots and span.trace_id == TRACE_ID
        assert span.attributes["api"] == "vector_io" and span.status == "ok"
    create, delete = named["vector_io.openai_create_vector_store"][0], named["vector_io.openai_delete_vector_store"][0]
    assert create.attributes["provider.id"] == "vec" and create.attributes["provider.type"] == "inline::sqlite-vec"
    assert delete.attributes["provider.id"] == "vec" and delete.attributes["resource.id"] == store_id


async def test_a_router_override_maps_errors_like_any_provider_call(tmp_path, pm):
    recorder = {"provider_id": "rec", "provider_type": "inline::recorder", "config": {}}  # no vector store methods
    async with stack_client(vector_config(tmp_path, recorder), pm) as client:
        unsupported = await client.post("/v1/vector_stores", json={"name": "notes"}, headers=RECORDED)
        missing = await client.delete("/v1/vector_stores/vs_nope", headers=RECORDED)
        registered = await client.get("/v1/vector-dbs")
        spans, _ = await exported(client)
    # the provider lacks the method: 501 (as for any provider call), not an AttributeError's 500, registering nothing
    assert unsupported.status_code == 501, unsupported.text
    assert unsupported.json()["error"]["type"] == "not_implemented"
    assert "does not implement openai_create_vector_store" in unsupported.json()["error"]["message"]
    assert registered.json()["data"] == []
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    named = by_name(spans)
    (create,) = named["vector_io.openai_create_vector_store"]
    (delete,) = named["vector_io.openai_delete_vector_store"]
    assert create.status == "error" and create.attributes["error.type"] == "NotImplementedError"
    assert delete.status == "error" and delete.attributes["resource.id"] == "vs_nope"


async def test_token_usage_is_metered_once_per_answer_recorded_or_not(tmp_path, pm):
    chat = {"model": "echo/m", "messages": [{"role": "user", "content": "three little words"}]}
    async with stack_client(vector_config(tmp_path, sqlite_vec(tmp_path)), pm) as client:
        answers = []
        for headers in (RECORDED, UNRECORDED, RECORDED):
            response = await client.post("/v1/chat/completions", json=chat, headers=headers)
            assert response.status_code == 200, response.text
            answers.append(response.json()["usage"])
        spans, usage = await exported(client)
    totals = [p for p in usage if p.metric == "total_tokens" and p.labels["model"] == "echo/m"]
    assert sum(p.count for p in totals) == 3
    assert sum(p.value for p in totals) == sum(a["total_tokens"] for a in answers)
    recorded = by_name(spans)["inference.openai_chat_completion"]
    assert len(recorded) == 2  # the unrecorded answer is metered, not traced
    assert all(s.attributes["llm.total_tokens"] == answers[0]["total_tokens"] for s in recorded)


async def test_a_streams_usage_is_metered_once_from_its_last_chunk_recorded_or_not(tmp_path, pm):
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    stream = [chat_chunk("a"), chat_chunk("b", finish_reason="stop"), {**chat_chunk(""), "choices": [], "usage": usage}]
    providers = {
        "inference": [{"provider_id": "compat", "provider_type": "remote::openai-compat", "config": {}}],
        "telemetry": SPAN_RECORDER,
    }
    chat = {"model": "compat/m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with ScriptedServer() as upstream:
        providers["inference"][0]["config"]["base_url"] = upstream.base_url
        async with stack_client(make_run_config(providers, tmp_path), pm) as client:
            for headers in (RECORDED, UNRECORDED):
                upstream.reply(stream=stream)
                response = await client.post("/v1/chat/completions", json=chat, headers=headers)
                assert response.status_code == 200 and response.text.count("data: ") == 3
            spans, points = await exported(client)
    totals = [p for p in points if p.metric == "total_tokens"]
    assert sum(p.count for p in totals) == 2 and sum(p.value for p in totals) == 14
    (streamed,) = by_name(spans)["inference.openai_chat_completion"]
    assert streamed.attributes["llm.total_tokens"] == 7 and streamed.attributes["llm.time_to_first_chunk_ms"] >= 0
    assert streamed.end_ns >= streamed.start_ns and streamed.status == "ok"


async def test_in_server_calls_are_traced_and_metered_like_http_calls(tmp_path, pm):
    """A vector store search embeds its query by calling inference from inside the server (ApiRouter.call)."""
    async with stack_client(vector_config(tmp_path, sqlite_vec(tmp_path)), pm) as client:
        store_id = (await client.post("/v1/vector_stores", json={"name": "notes"})).json()["id"]
        for headers in (RECORDED, UNRECORDED):
            searched = await client.post(
                f"/v1/vector_stores/{store_id}/search", json={"query": "lighthouse"}, headers=headers
            )
            assert searched.status_code == 200, searched.text
        spans, usage = await exported(client)
    named = by_name(spans)
    (search,) = named["vector_io.openai_search_vector_store"]
    (engine,) = named["vector_io.search"]  # the vector engine's own span, inside the provider's
    (embed,) = named["inference.openai_embeddings"]
    assert engine.parent_span_id == search.span_id and embed.parent_span_id == engine.span_id
    assert embed.trace_id == search.trace_id == TRACE_ID
    assert embed.attributes["provider.id"] == "echo" and embed.attributes["llm.prompt_tokens"] == 1
    embedded = [p for p in usage if p.metric == "prompt_tokens" and p.labels["model"] == EMBEDDING_MODEL]
    assert sum(p.count for p in embedded) == 2 and sum(p.value for p in embedded) == 2


async def test_the_app_is_wrapped_for_tracing_only_when_the_stack_traces(tmp_path, pm):
    async with stack_client(vector_config(tmp_path, sqlite_vec(tmp_path), telemetry=False), pm) as client:
        assert type(client.app.http) is RoutedApp
        assert (await client.get("/v1/health")).status_code == 200
    async with stack_client(vector_config(tmp_path / "traced", sqlite_vec(tmp_path / "traced")), pm) as client:
        assert isinstance(client.app.http, TracingMiddleware) and type(client.app.http.app) is RoutedApp
        assert (await client.get("/v1/health", headers=RECORDED)).status_code == 200
        spans, _ = await exported(client)
    assert [s.name for s in spans] == ["GET /v1/health"]
