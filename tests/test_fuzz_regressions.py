"""Requests the schemathesis fuzzer (tests/test_fuzz.py, bench/fuzz.py) found answered with a 500, or answered
otherwise than the OpenAPI document says (issue 19): each is now a clear 4xx the document allows, nothing stored
changed, and where the document was wrong, the document and the server now agree on what is valid. The stack is the
fuzz test's: every API on cheap real providers (tests/support/fuzz_stack.py)."""

from __future__ import annotations

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
