"""Requests the schemathesis fuzzer (tests/test_fuzz.py, bench/fuzz.py) found answered with a 500, or answered
otherwise than the OpenAPI document says (issue 19): each is now a clear 4xx the document allows, nothing stored
changed, and where the document was wrong, the document and the server now agree on what is valid. The stack is the
fuzz test's: every API on cheap real providers (tests/support/fuzz_stack.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fuzz_stack import EMBEDDING_MODEL, every_api_config
from jsonschema import Draft202012Validator

from llama_stack_core.testing.harness import stack_client
from llama_stack_core.testing.waiting import eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Path, pm: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with stack_client(every_api_config(tmp_path), pm) as client:
        yield client


@pytest.fixture
async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("/openapi.json")).json()


def conforms(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> bool:
    """Whether ``instance`` is valid by ``schema``, a schema of the document (``$ref`` into its components)."""
    return Draft202012Validator({**schema, "components": document["components"]}).is_valid(instance)


def body_schema(document: dict[str, Any], path: str, media: str = "application/json") -> dict[str, Any]:
    return document["paths"][path]["post"]["requestBody"]["content"][media]["schema"]


def parameter(document: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    return next(p for p in document["paths"][path][method]["parameters"] if p["name"] == name)


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if param is not None:
        assert error.get("param", "").startswith(param), error
    return error


async def test_malformed_multipart_is_400(http: httpx.AsyncClient) -> None:
    no_boundary = await http.post("/v1/files", headers={"content-type": "multipart/form-data"}, content=b"")
    assert "multipart" in assert_error(no_boundary, 400)["message"]
    boundary = "9cc651cd2c8d168349f50fede4c361ac"
    broken = await http.post(
        "/v1/files",
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        content=f"--{boundary}\r\nFalse--{boundary}--\r\n".encode(),
    )
    assert "multipart" in assert_error(broken, 400)["message"]
    assert (await http.get("/v1/files")).json()["data"] == []


async def test_empty_ids_in_lists_are_422(http: httpx.AsyncClient) -> None:
    store = await http.post("/v1/vector_stores", json={"name": "kb", "embedding_model": EMBEDDING_MODEL})
    assert store.status_code == 200, store.text
    store_id = store.json()["id"]
    cases = [
        ("/v1/vector_stores", {"file_ids": [""]}, "file_ids.0"),
        (f"/v1/vector_stores/{store_id}/file_batches", {"file_ids": [""]}, "file_ids.0"),
        ("/v1/tool-runtime/rag-tool/query", {"vector_db_ids": [store_id, ""], "content": "q"}, "vector_db_ids.1"),
    ]
    for path, body, param in cases:
        assert_error(await http.post(path, json=body), 422, param)
    stores = (await http.get("/v1/vector_stores")).json()["data"]
    assert sorted(s["id"] for s in stores) == sorted(["kb", store_id])  # kb: the run config's


async def test_an_embedding_dimension_the_index_cannot_hold_is_400(http: httpx.AsyncClient) -> None:
    before = (await http.get("/v1/vector-dbs")).json()["data"]
    for dimension in (4398046511104, 8193):
        body = {
            "vector_db_id": f"huge-{dimension}",
            "embedding_model": EMBEDDING_MODEL,
            "embedding_dimension": dimension,
        }
        error = assert_error(await http.post("/v1/vector-dbs", json=body), 400)
        assert "at most 8192 dimensions" in error["message"]
    assert (await http.get("/v1/vector-dbs")).json()["data"] == before


async def test_an_item_type_that_is_not_a_string_is_422(http: httpx.AsyncClient) -> None:
    for items in ([{"type": [None, None]}], [{"type": {}}]):
        assert_error(await http.post("/v1/conversations", json={"items": items}), 422, "items.0")
    conversation = (await http.post("/v1/conversations", json={})).json()["id"]
    added = await http.post(f"/v1/conversations/{conversation}/items", json={"items": [{"type": {}}]})
    assert_error(added, 422, "items.0")
    assert (await http.get(f"/v1/conversations/{conversation}/items")).json()["data"] == []


async def test_a_huge_max_chunks_is_422(http: httpx.AsyncClient) -> None:
    body = {"vector_db_id": "kb", "query": "q", "params": {"max_chunks": 11340201473242861568}}
    assert_error(await http.post("/v1/vector-io/query", json=body), 422, "params.max_chunks")


async def test_a_nul_in_an_attribute_key_is_422(http: httpx.AsyncClient) -> None:
    for path in ("/v1/telemetry/spans", "/v1/telemetry/traces"):
        body = {"attribute_filters": [{"key": "a\x00b", "op": "ne", "value": 1}], "attributes_to_return": []}
        assert_error(await http.post(path, json=body), 422, "attribute_filters.0.key")


# -- third pass: every API served, and the document checked both ways (positive_data_acceptance) -------------------


async def test_an_empty_response_input_is_400(http: httpx.AsyncClient) -> None:
    """``input: []`` with nothing else to answer reached the model as a chat with no messages (a 500)."""
    for path in ("/v1/responses", "/v1/openai/v1/responses"):
        assert_error(await http.post(path, json={"model": "chat", "input": []}), 400, "input")
    answered = await http.post("/v1/responses", json={"model": "chat", "input": [], "instructions": "Say hi"})
    assert answered.status_code == 200, answered.text
    assert [r["id"] for r in (await http.get("/v1/responses")).json()["data"]] == [answered.json()["id"]]


async def test_telemetry_numbers_a_store_cannot_hold_are_4xx(http: httpx.AsyncClient) -> None:
    """Integers past SQLite's 64 bits were 500s (offset, end_time, a granularity's step, a filter's value), or made
    the trace store drop the whole batch of spans they were written with (an event's ttl or timestamp)."""
    huge = 2**64 - 1
    assert_error(await http.post("/v1/telemetry/traces", json={"offset": 2**63}), 422, "offset")
    assert_error(await http.post("/v1/telemetry/traces", json={"limit": 10001}), 422, "limit")
    metrics = "/v1/telemetry/metrics/prompt_tokens"
    assert_error(await http.post(metrics, json={"start_time": 0, "end_time": huge}), 422, "end_time")
    assert_error(await http.post(metrics, json={"start_time": huge}), 422, "start_time")
    step = {"start_time": 0, "granularity": f"{huge}d"}
    assert "at most a century" in assert_error(await http.post(metrics, json=step), 400, "granularity")["message"]
    spans = {"attribute_filters": [{"key": "a", "op": "eq", "value": huge}], "attributes_to_return": []}
    assert (await http.post("/v1/telemetry/spans", json=spans)).json() == {"data": []}
    event = {"trace_id": "t1", "span_id": "s1", "type": "unstructured_log", "message": "m", "severity": "info"}
    at = {**event, "timestamp": "2020-01-01T00:00:00Z"}
    assert_error(await http.post("/v1/telemetry/events", json={"event": at, "ttl_seconds": huge}), 422, "ttl_seconds")
    late = {**event, "timestamp": "9999-01-01T00:00:00Z"}
    assert_error(await http.post("/v1/telemetry/events", json={"event": late}), 400, "event.timestamp")
    big_value = {**at, "type": "metric", "metric": "m", "value": huge, "unit": "u"}
    assert (await http.post("/v1/telemetry/events", json={"event": big_value})).status_code == 200

    assert (await http.get("/v1/models")).status_code == 200  # its span goes in the batch the events are in

    async def written() -> list[dict[str, Any]] | None:  # no bad row lost the batch
        traces = (await http.post("/v1/telemetry/traces", json={"limit": 100})).json()["data"]
        return traces if "GET /v1/models" in [t["root_span_name"] for t in traces] else None

    await eventually(written, what="the telemetry requests' traces")


async def test_a_vector_db_on_a_chat_model_is_400(http: httpx.AsyncClient) -> None:
    """A vector database (or store) whose embedding model is not an embedding model was a 422 blaming
    ``embedding_dimension``, a field the request may leave out."""
    before = (await http.get("/v1/vector-dbs")).json()["data"]
    refused = await http.post("/v1/vector-dbs", json={"vector_db_id": "v", "embedding_model": "chat"})
    assert "of type llm" in assert_error(refused, 400, "embedding_model")["message"]
    assert_error(await http.post("/v1/vector_stores", json={"embedding_model": "chat"}), 400, "embedding_model")
    assert (await http.get("/v1/vector-dbs")).json()["data"] == before


async def test_a_chunk_overlap_over_half_the_chunk_is_400(http: httpx.AsyncClient, document: dict[str, Any]) -> None:
    """A rule between two fields, which the document cannot state: a 400 (it was a 422, "invalid by the document",
    for a request the document declares valid)."""
    static = {"type": "static", "static": {"max_chunk_size_tokens": 101, "chunk_overlap_tokens": 400}}
    body = {"chunking_strategy": static}
    assert conforms(document, body_schema(document, "/v1/vector_stores"), body)
    refused = await http.post("/v1/vector_stores", json=body)
    assert_error(refused, 400, "chunking_strategy.static.chunk_overlap_tokens")


async def test_the_document_declares_the_stream_error_event(http: httpx.AsyncClient, document: dict[str, Any]) -> None:
    """A stream failing after its first byte ends with an error event; the document declared each event a chunk
    (and applied the chunk's schema to the SSE event itself)."""
    stream = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]["text/event-stream"]
    data = stream["schema"]["properties"]["data"]
    assert stream["schema"]["required"] == ["data"] and data["contentMediaType"] == "application/json"
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "then FAIL"}]}
    answer = await http.post("/v1/chat/completions", json=body)
    events = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
    assert "error" in events[-1] and len(events) >= 2
    assert all(conforms(document, data["contentSchema"], event) for event in events)
    assert not conforms(document, data["contentSchema"], {"unexpected": True})


async def test_a_union_member_without_its_tag_is_invalid_both_ways(
    http: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    """A tagged union's members have a default tag (``type: "text"``), so the document left the tag optional, but
    the server cannot pick a member without it: valid by the document, a 422 from the server."""
    chat = body_schema(document, "/v1/chat/completions")
    untagged = {"model": "chat", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    tagged = {"model": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert not conforms(document, chat, untagged)
    assert_error(await http.post("/v1/chat/completions", json=untagged), 422, "messages.0")
    assert conforms(document, chat, tagged)
    assert (await http.post("/v1/chat/completions", json=tagged)).status_code == 200
    # response items: an item without ``type`` is a message, so any other item needs its type
    approval = {"approval_request_id": "a", "approve": False}
    conversations = body_schema(document, "/v1/conversations")
    assert not conforms(document, conversations, {"items": [approval]})
    assert_error(await http.post("/v1/conversations", json={"items": [approval]}), 422, "items.0")
    typed = {"items": [{**approval, "type": "mcp_approval_response"}]}
    assert conforms(document, conversations, typed)
    assert (await http.post("/v1/conversations", json=typed)).status_code == 200
    other = {"items": [{"type": "mcp_call"}]}  # a known type is never the catch-all item
    assert not conforms(document, conversations, other)
    assert_error(await http.post("/v1/conversations", json=other), 422, "items.0")


async def test_a_path_parameter_is_not_required_in_the_body(http: httpx.AsyncClient, document: dict[str, Any]) -> None:
    """The request model holds the path's parameters too; the document required them in the body as well."""
    schema = body_schema(document, "/v1/vector_stores/{vector_store_id}")
    assert "vector_store_id" not in schema.get("required", [])
    assert conforms(document, schema, {"name": "renamed"})
    assert conforms(document, schema, {"name": "renamed", "vector_store_id": "ignored"})
    renamed = await http.post("/v1/vector_stores/kb", json={"name": "renamed", "vector_store_id": "other"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["id"] == "kb" and renamed.json()["name"] == "renamed"


async def test_parameters_are_documented_as_they_are_read(document: dict[str, Any]) -> None:
    """An object in the query is read in brackets (``mcp_endpoint[uri]=...``), and a multipart file is bytes (the
    document said ``uri=...`` and a JSON object)."""
    endpoint = parameter(document, "get", "/v1/tool-runtime/list-tools", "mcp_endpoint")
    assert endpoint["style"] == "deepObject" and endpoint["explode"] is True
    # one level of brackets is read: mcp_endpoint[a][b]=... is an unknown parameter (a 422), and documented invalid
    assert conforms(document, endpoint["schema"], {"uri": "http://127.0.0.1:1/mcp", "extra": "ignored"})
    assert not conforms(document, endpoint["schema"], {"uri": "http://127.0.0.1:1/mcp", "extra": {"a": "b"}})
    assert "style" not in parameter(document, "get", "/v1/files", "limit")
    upload = document["components"]["schemas"]["FileUploadRequest"]["properties"]["file"]
    assert document["components"]["schemas"][upload["$ref"].rsplit("/", 1)[1]]["format"] == "binary"


async def test_integers_are_bounded_as_the_server_reads_them(http: httpx.AsyncClient, document: dict[str, Any]) -> None:
    """The JSON parser reads an integer past 64 bits as a float, which an integer field refuses: the document now
    says so in a body, and not in a query (read from text, at any length)."""
    completions = body_schema(document, "/v1/completions")
    too_long = {"model": "chat", "prompt": [1, 2**64]}
    assert not conforms(document, completions, too_long)
    assert_error(await http.post("/v1/completions", json=too_long), 422, "prompt")
    fits = {"model": "chat", "prompt": [1, 2**64 - 1]}
    assert conforms(document, completions, fits)
    assert (await http.post("/v1/completions", json=fits)).status_code == 200
    start = parameter(document, "get", "/v1/agents", "start_index")["schema"]
    assert "maximum" not in json.dumps(start)
    assert (await http.get("/v1/agents", params={"start_index": 2**70})).status_code == 200


async def test_an_embedding_model_states_its_dimension_both_ways(
    http: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    schema = body_schema(document, "/v1/models")
    for metadata in (None, {}, {"embedding_dimension": "8"}, {"embedding_dimension": 0}, {"embedding_dimension": True}):
        body = {"model_id": "e", "provider_id": "echo", "model_type": "embedding", "metadata": metadata}
        assert not conforms(document, schema, body), body
        assert_error(await http.post("/v1/models", json=body), 422)
    body = {"model_id": "e", "provider_id": "echo", "model_type": "embedding", "metadata": {"embedding_dimension": 8.0}}
    assert conforms(document, schema, body)
    registered = await http.post("/v1/models", json=body)
    assert registered.status_code == 200, registered.text
    assert registered.json()["metadata"]["embedding_dimension"] == 8


async def test_an_empty_search_query_list_is_invalid_both_ways(
    http: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    """``min_length`` on ``str | list[str]`` reached the document as a ``minLength`` (strings only)."""
    schema = body_schema(document, "/v1/vector_stores/{vector_store_id}/search")
    for query in ("", []):
        assert not conforms(document, schema, {"query": query, "vector_store_id": "kb"})
        assert_error(await http.post("/v1/vector_stores/kb/search", json={"query": query}), 422, "query")
    assert (await http.post("/v1/vector_stores/kb/search", json={"query": ["a"]})).status_code == 200


async def test_an_mcp_call_error_object_in_the_input_is_shown_to_the_model(http: httpx.AsyncClient) -> None:
    """An ``mcp_call`` item's ``error`` may be OpenAI's error object; it reached the model as a tool message whose
    content was that object (a 500)."""
    call = {"type": "mcp_call", "id": "mcp_1", "name": "lookup", "arguments": "{}", "server_label": "kb"}
    failed = {**call, "error": {"type": "http_error", "code": 500, "message": "down"}}
    body = {"model": "chat", "input": [failed, {"role": "user", "content": "and now?"}]}
    answered = await http.post("/v1/responses", json=body)
    assert answered.status_code == 200, answered.text
    assert answered.json()["output"][0]["content"][0]["text"] == "echo:chat: and now?"


async def test_spans_the_dataset_does_not_take_are_400(http: httpx.AsyncClient) -> None:
    """Saving spans to a dataset whose columns differ answered the datasetio's 422 naming ``rows[0].trace_id``, a
    field of no request the caller sent."""
    assert (await http.get("/v1/models")).status_code == 200

    async def traced() -> bool:
        return bool((await http.post("/v1/telemetry/traces", json={})).json()["data"])

    await eventually(traced, what="a stored trace")
    rows = (await http.get("/v1/datasetio/iterrows/qa")).json()["data"]
    body = {"attribute_filters": [], "attributes_to_save": ["http.method"], "dataset_id": "qa"}
    refused = await http.post("/v1/telemetry/spans/export", json=body)
    assert "does not take these spans" in assert_error(refused, 400, "dataset_id")["message"]
    assert (await http.get("/v1/datasetio/iterrows/qa")).json()["data"] == rows
