"""HTTP behaviour of the core server: info routes, the error shape and statuses, OpenAPI, headers."""

from __future__ import annotations

import pytest

from llama_stack_core import __version__
from llama_stack_core.apis import all_api_specs
from llama_stack_core.testing.harness import stack_client

pytestmark = pytest.mark.anyio

CHAT = {"model": "alpha/m", "messages": [{"role": "user", "content": "hello"}]}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    return body["error"]


async def test_health_and_version(full_config, pm):
    async with stack_client(full_config, pm) as client:
        assert (await client.get("/v1/health")).json() == {"status": "OK"}
        assert (await client.get("/v1/version")).json() == {"version": __version__}


async def test_providers_listed_with_secrets_redacted(full_config, pm):
    full_config["providers"]["inference"][0]["config"]["api_key"] = "sk-live-abcdef123456"
    async with stack_client(full_config, pm) as client:
        listing = await client.get("/v1/providers")
        one = await client.get("/v1/providers/alpha")
        missing = await client.get("/v1/providers/nope")
    assert listing.status_code == 200
    ids = {(p["api"], p["provider_id"], p["provider_type"]) for p in listing.json()["data"]}
    assert ("inference", "alpha", "inline::echo") in ids and ("safety", "safety-rec", "inline::recorder") in ids
    assert "sk-live-abcdef123456" not in listing.text + one.text
    assert one.json()["config"]["api_key"] == "********"
    assert one.json()["config"]["prefix"] == "alpha"
    assert one.json()["health"] == {"status": "OK"}
    safety = next(p for p in listing.json()["data"] if p["api"] == "safety")
    assert safety["health"] == {"status": "Not Implemented"}
    assert_error(missing, 404)


async def test_provider_health_errors_are_reported_not_raised(tmp_path, pm):
    from stack_test_plugin import echo_providers

    from llama_stack_core.testing.harness import make_run_config

    async with stack_client(make_run_config({"inference": echo_providers("unhealthy")}, tmp_path), pm) as client:
        info = (await client.get("/v1/providers/unhealthy")).json()
    assert info["health"] == {"status": "Error", "message": "cannot reach upstream"}


async def test_inspect_routes_lists_every_declared_route(full_config, pm):
    async with stack_client(full_config, pm) as client:
        routes = (await client.get("/v1/inspect/routes")).json()["data"]
        inference_only = (await client.get("/v1/inspect/routes", params={"api_filter": "inference"})).json()["data"]
    listed = {(r["method"], r["route"]) for r in routes}
    for spec in all_api_specs():
        for route in spec.routes:
            assert (route.method, route.path) in listed
    chat = next(r for r in routes if r["route"] == "/v1/chat/completions" and r["method"] == "POST")
    assert chat["provider_types"] == ["inline::echo"]
    assert {r["route"] for r in inference_only} >= {"/v1/chat/completions", "/v1/embeddings"}
    assert all("/v1/shields" not in r["route"] for r in inference_only)


async def test_openapi_documents_every_route_with_schemas(full_config, pm):
    async with stack_client(full_config, pm) as client:
        doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    for spec in all_api_specs():
        for route in spec.routes:
            path = route.path.replace(":path}", "}")
            operation = doc["paths"][path][route.method.lower()]
            assert operation["tags"] == [spec.api.value]
            if route.response is not None:
                assert operation["responses"]["200"]["content"]["application/json"]["schema"]
    for path in (
        "/v1/models",
        "/v1/shields",
        "/v1/toolgroups",
        "/v1beta/datasets",
        "/v1/vector-dbs",
        "/v1/scoring-functions",
        "/v1alpha/eval/benchmarks",
    ):
        assert {"get", "post"} <= set(doc["paths"][path])
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    request_ref = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"model", "messages", "stream", "tools"} <= set(schemas[request_ref]["properties"])
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert all("__" not in name for name in schemas), [n for n in schemas if "__" in n]
    # the document says what the server enforces (issue 19's probe): query constraints, and bodies it may omit
    limit = next(p for p in doc["paths"]["/v1/files"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 10000
    assert doc["paths"]["/v1/vector_stores"]["post"]["requestBody"]["required"] is False
    assert chat["requestBody"]["required"] is True
    items = schemas["ResponseItemList"]["properties"]["data"]["items"]
    assert "oneOf" not in items and len(items["anyOf"]) >= 10  # a message is also a valid OtherItem


async def test_malformed_json_is_400(full_config, pm):
    async with stack_client(full_config, pm) as client:
        response = await client.post(
            "/v1/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"}
        )
        not_object = await client.post("/v1/chat/completions", json=[1, 2])
    assert "malformed JSON" in assert_error(response, 400)["message"]
    assert_error(not_object, 400)


async def test_invalid_fields_are_422_with_the_field_named(full_config, pm):
    async with stack_client(full_config, pm) as client:
        bad_role = await client.post(
            "/v1/chat/completions", json={"model": "alpha/m", "messages": [{"role": "wizard", "content": "x"}]}
        )
        bad_temp = await client.post("/v1/chat/completions", json={**CHAT, "temperature": 9})
        no_model = await client.post("/v1/chat/completions", json={"messages": CHAT["messages"]})
    assert assert_error(bad_role, 422)["param"].startswith("messages.0")
    assert assert_error(bad_temp, 422)["param"] == "temperature"
    assert assert_error(no_model, 422)["param"] == "model"


async def test_unknown_route_404_and_wrong_method_405(full_config, pm):
    async with stack_client(full_config, pm) as client:
        unknown = await client.get("/v1/no-such-thing")
        wrong_method = await client.put("/v1/health")
        wrong_on_pattern = await client.patch("/v1/models/some/model")
        head = await client.head("/v1/models")
        get = await client.get("/v1/models")
        head_unknown = await client.head("/v1/no-such-thing")
    assert "/v1/inspect/routes" in assert_error(unknown, 404)["message"]
    assert_error(wrong_method, 405)
    assert wrong_method.headers["allow"] == "GET, HEAD"
    assert_error(wrong_on_pattern, 405)
    assert wrong_on_pattern.headers["allow"] == "DELETE, GET, HEAD"
    # HEAD answers like GET, without the body (issue 19's probe: it was a 405)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) == len(get.content)
    assert head_unknown.status_code == 404


async def test_unconfigured_api_is_501(full_config, pm):
    async with stack_client(full_config, pm) as client:
        files = await client.get("/v1/files")
        batches = await client.post("/v1/batches", json={})
        register = await client.post("/v1/models", json={"model_id": "x"})
    assert "files" in assert_error(files, 501)["message"]
    assert_error(batches, 501)
    assert register.status_code == 400  # inference is configured (two providers): provider_id needed


async def test_register_without_any_provider_for_the_api_is_501(tmp_path, pm):
    from llama_stack_core.testing.harness import make_run_config

    async with stack_client(make_run_config({}, tmp_path), pm) as client:
        response = await client.post("/v1/shields", json={"shield_id": "s"})
        listing = await client.get("/v1/shields")
    assert "safety" in assert_error(response, 501)["message"]
    assert listing.json() == {"data": []}


async def test_provider_errors_map_to_statuses(full_config, pm):
    async with stack_client(full_config, pm) as client:
        not_implemented = await client.post("/v1/completions", json={"model": "alpha/m", "prompt": "x"})
        refused = await client.post(
            "/v1/models", json={"model_id": "r", "provider_id": "alpha", "provider_model_id": "bad-model"}
        )
        after = await client.get("/v1/models/r")
    assert_error(not_implemented, 501)
    assert "bad-model" in assert_error(refused, 400)["message"]
    assert_error(after, 404)


async def test_client_version_header_is_accepted(full_config, pm):
    async with stack_client(full_config, pm) as client:
        for version in ("0.2.12", "0.7.5", "99.0.0", "garbage"):
            response = await client.get("/v1/models", headers={"X-LlamaStack-Client-Version": version})
            assert response.status_code == 200


async def test_provider_data_header_reaches_the_provider(full_config, pm):
    async with stack_client(full_config, pm) as client:
        ok = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"X-LlamaStack-Provider-Data": '{"echo_api_key": "per-request"}'}
        )
        without = await client.post("/v1/chat/completions", json=CHAT)
        bad = await client.post("/v1/chat/completions", json=CHAT, headers={"X-LlamaStack-Provider-Data": "{nope"})
        twice = await client.post(
            "/v1/chat/completions",
            json=CHAT,
            headers=[
                ("X-LlamaStack-Provider-Data", '{"echo_api_key": "first"}'),
                ("X-LlamaStack-Provider-Data", '{"echo_api_key": "last"}'),
            ],
        )
    assert "[per-request]" in ok.json()["choices"][0]["message"]["content"]
    assert "[last]" in twice.json()["choices"][0]["message"]["content"]  # a header sent twice: its last value
    assert "[" not in without.json()["choices"][0]["message"]["content"]
    assert "Provider-Data" in assert_error(bad, 400)["message"]


async def test_streaming_uses_sse_framing_and_reports_midstream_errors(full_config, pm):
    async with stack_client(full_config, pm) as client:
        good = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        failing = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": True, "messages": [{"role": "user", "content": "one two FAIL three"}]},
        )
    assert good.headers["content-type"].startswith("text/event-stream")
    events = [e for e in good.text.split("\n\n") if e]
    assert all(e.startswith("data: {") for e in events)
    assert "[DONE]" not in good.text
    import json

    chunks = [json.loads(e[len("data: ") :]) for e in events]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "alpha:m: hello"
    last = json.loads([e for e in failing.text.split("\n\n") if e][-1][len("data: ") :])
    assert last["error"]["code"] == "502"
    assert "dropped" in last["error"]["message"]
    assert len([e for e in failing.text.split("\n\n") if e]) == 4  # "alpha:m:", "one", "two", then the error
    assert "Traceback" not in failing.text


async def test_an_operation_the_provider_lacks_is_501(full_config, pm):
    async with stack_client(full_config, pm) as client:
        assert (await client.post("/v1/toolgroups", json={"toolgroup_id": "g"})).status_code == 200
        response = await client.get("/v1/tools", params={"toolgroup_id": "g"})
    error = assert_error(response, 501)
    assert "tool_runtime-rec" in error["message"] and "list_runtime_tools" in error["message"]


async def test_query_lists_in_every_sdk_style_and_bracket_objects():
    """``include[]=a`` (openai SDK), repeated ``include=a&include=b``, a lone ``include=a`` for a list field; objects
    in bracket style (``mcp_endpoint[uri]=``); a repeated scalar keeps its last value."""
    from pydantic import BaseModel

    from llama_stack_core.server.endpoints import _query

    class Query(BaseModel):
        include: list[str] | None = None
        order: str = "desc"

    assert _query([("include[]", "a"), ("include[]", "b")], Query) == {"include": ["a", "b"]}
    assert _query([("include", "a"), ("include", "b"), ("order", "asc")], Query) == {
        "include": ["a", "b"],
        "order": "asc",
    }
    assert _query([("include", "a")], Query) == {"include": ["a"]}
    assert _query([("order", "asc"), ("order", "desc")], Query) == {"order": "desc"}
    assert _query([("mcp_endpoint[uri]", "http://x/mcp")], Query) == {"mcp_endpoint": {"uri": "http://x/mcp"}}
    # mixed styles for one name (found by fuzzing: a 500): the later style wins, never a crash
    assert _query([("include[x]", "a"), ("include[]", "b")], Query) == {"include": ["b"]}
    assert _query([("order", "asc"), ("order[]", "b")], Query) == {"order": ["b"]}
    assert _query([("include[]", "a"), ("include[x]", "b")], Query) == {"include": {"x": "b"}}
