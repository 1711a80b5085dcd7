"""inline::builtin responses and the stack's store: background responses across a server that dies (SIGKILL), one
that stops, and two live servers on one store (SQLite, PostgreSQL); and each agent step as a span of the request's
trace (``inline::trace-store``), with a real MCP server for the served tool."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import llama_stack_provider_agents.plugin as agents_plugin
import pytest
import yaml

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import (
    make_run_config,
    serve_command,
    stack_client,
    stop_process,
    wait_for_port,
    wait_healthy,
)
from llama_stack_core.testing.responses import (
    MODEL,
    call_turn,
    scripted_inference,
    scripted_models,
    settled,
    text_turn,
)
from llama_stack_core.testing.scripted import ScriptedServer
from llama_stack_core.testing.waiting import eventually, eventually_sync

pytestmark = pytest.mark.anyio

STALE_AFTER = 1.0  # background_stale_after_seconds of the stacks under test
MCP_SERVER = Path(__file__).parents[2] / "llama-stack-provider-mcp" / "tests" / "mcp_test_server.py"


def responses_config(
    directory: Path,
    model: ScriptedServer,
    persistence: dict[str, Any] | None = None,
    stale_after: float = STALE_AFTER,
    **providers: Any,
) -> dict[str, Any]:
    config: dict[str, Any] = {"background_stale_after_seconds": stale_after}
    if persistence is not None:
        config["persistence"] = persistence
    entries = {
        **scripted_inference(model),
        "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": config}],
        **providers,
    }
    return make_run_config(entries, directory, models=scripted_models(MODEL))


def stack(config: dict[str, Any]) -> Any:
    return stack_client(config, PluginManager(extra_plugins=[agents_plugin]))


async def start_held_background(http: Any, model: ScriptedServer) -> str:
    """A background response whose model stream is held after its first piece; its id once the model is called."""
    model.reply(stream=text_turn("never", " finished"), hold_after=2)
    created = await http.post("/v1/responses", json={"model": MODEL, "input": "hi", "background": True})
    assert created.status_code == 200, created.text
    await eventually(lambda: model.requests, what="the model call")
    return created.json()["id"]


# -- a server that dies, one that stops, one that lives ---------------------------------------------------------------


async def test_a_killed_server_leaves_its_background_response_failed_not_running(
    tmp_path: Path, scripted: ScriptedServer
) -> None:
    config = responses_config(tmp_path, scripted)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    port_file, log_path = tmp_path / "serve.port", tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(serve_command(path, port_file), stdout=log, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{wait_for_port(process, port_file, log_path)}"
        wait_healthy(base_url, process, log_path)
        body = {"model": MODEL, "input": "hi", "background": True}
        scripted.reply(stream=text_turn("never", " finished"), hold_after=2)
        response_id = httpx.post(f"{base_url}/v1/responses", json=body, timeout=10).json()["id"]
        eventually_sync(lambda: scripted.requests, what="the model call")
        running = httpx.get(f"{base_url}/v1/responses/{response_id}", timeout=10).json()
        assert running["status"] == "in_progress"
    finally:
        process.kill()  # SIGKILL: no drain, nothing written on the way out
        process.wait()
    scripted.release()
    async with stack(config) as http:  # a new server on the same store
        failed = await settled(http, response_id, timeout=10 * STALE_AFTER)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error" and "interrupted" in failed["error"]["message"]


async def test_a_stopping_server_fails_its_unfinished_background_response(
    tmp_path: Path, scripted: ScriptedServer
) -> None:
    config = responses_config(tmp_path, scripted)
    async with stack(config) as http:
        http.app.state.stack.stop_timeout = 0.2  # it does not wait for the held model to finish
        response_id = await start_held_background(http, scripted)
    scripted.release()
    async with stack(config) as http:
        stored = (await http.get(f"/v1/responses/{response_id}")).json()
    assert stored["status"] == "failed" and "interrupted" in stored["error"]["message"]


async def test_a_response_running_in_another_live_server_is_not_failed_and_cancels_there(
    tmp_path: Path, scripted: ScriptedServer
) -> None:
    stale_after = 2.0  # four beats a window: a loaded machine may delay one or two
    config = responses_config(tmp_path, scripted, stale_after=stale_after)
    async with stack(config) as first, stack(config) as second:
        response_id = await start_held_background(first, scripted)
        deadline = time.monotonic() + 1.5 * stale_after
        while time.monotonic() < deadline:  # well past stale_after: the runner's heartbeat keeps it alive
            seen = (await second.get(f"/v1/responses/{response_id}")).json()
            assert seen["status"] == "in_progress", seen
            await asyncio.sleep(0.1)
        cancelled = (await second.post(f"/v1/responses/{response_id}/cancel")).json()
        assert cancelled["status"] == "cancelled"
        await eventually(lambda: scripted.requests[-1].closed_early, what="the first server to close the stream")
        scripted.release()
        assert (await first.get(f"/v1/responses/{response_id}")).json()["status"] == "cancelled"


# -- two servers on one store ------------------------------------------------------------------------------------------


async def shared_store_round(first: Any, second: Any, model: ScriptedServer) -> None:
    model.reply(stream=text_turn("I am Ada."))
    created = (await first.post("/v1/responses", json={"model": MODEL, "input": "Who are you?"})).json()
    seen = (await second.get(f"/v1/responses/{created['id']}")).json()
    assert seen["status"] == "completed" and seen["output"][0]["content"][0]["text"] == "I am Ada."
    listed = (await second.get("/v1/responses")).json()["data"]
    assert created["id"] in [r["id"] for r in listed]
    items = (await second.get(f"/v1/responses/{created['id']}/input_items")).json()["data"]
    assert [i["content"] for i in items] == ["Who are you?"]
    model.reply(stream=text_turn("You asked who I am."))
    chained = await second.post(
        "/v1/responses", json={"model": MODEL, "input": "And?", "previous_response_id": created["id"]}
    )
    assert chained.status_code == 200, chained.text
    assert [m["content"] for m in model.requests[-1].json["messages"]] == ["Who are you?", "I am Ada.", "And?"]
    model.reply(stream=text_turn("later"), hold_after=1)
    background = (await second.post("/v1/responses", json={"model": MODEL, "input": "x", "background": True})).json()
    assert (await first.get(f"/v1/responses/{background['id']}")).json()["status"] in ("queued", "in_progress")
    model.release()
    assert (await settled(first, background["id"]))["status"] == "completed"
    assert (await first.delete(f"/v1/responses/{created['id']}")).status_code == 200
    assert (await second.get(f"/v1/responses/{created['id']}")).status_code == 404


async def test_two_servers_on_one_sqlite_store_share_responses(tmp_path: Path, scripted: ScriptedServer) -> None:
    config = responses_config(tmp_path, scripted)
    async with stack(config) as first, stack(config) as second:
        await shared_store_round(first, second, scripted)


@pytest.mark.postgres
async def test_two_servers_on_one_postgres_store_share_responses(
    tmp_path: Path, scripted: ScriptedServer, postgres_dsn: str
) -> None:
    persistence = {"backend": {"type": "kv_postgres", "dsn": postgres_dsn}, "namespace": "responses"}
    async with (
        stack(responses_config(tmp_path / "a", scripted, persistence)) as first,
        stack(responses_config(tmp_path / "b", scripted, persistence)) as second,
    ):
        await shared_store_round(first, second, scripted)


# -- spans -------------------------------------------------------------------------------------------------------------


@pytest.fixture
def mcp_url(tmp_path: Path) -> Iterator[str]:
    """The mcp package's test server over streamable HTTP, in a subprocess."""
    port_file, log_path = tmp_path / "mcp.port", tmp_path / "mcp.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(MCP_SERVER), "http", "--port", "0", "--port-file", str(port_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        yield f"http://127.0.0.1:{wait_for_port(process, port_file, log_path)}/mcp"
    finally:
        stop_process(process)


async def test_each_agent_step_is_a_span_of_the_requests_trace(
    tmp_path: Path, scripted: ScriptedServer, mcp_url: str
) -> None:
    providers = {
        "tool_runtime": [{"provider_id": "mcp", "provider_type": "remote::model-context-protocol", "config": {}}],
        "telemetry": [{"provider_id": "traces", "provider_type": "inline::trace-store", "config": {}}],
    }
    config = responses_config(tmp_path, scripted, **providers)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    mcp = {"type": "mcp", "server_label": "calc", "server_url": mcp_url, "require_approval": "never"}
    async with stack(config) as http:
        scripted.reply(stream=call_turn("add", {"a": 2, "b": 3}))
        scripted.reply(stream=text_turn("5"))
        created = await http.post(
            "/v1/responses",
            json={"model": MODEL, "input": "2+3?", "tools": [mcp]},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        assert created.status_code == 200, created.text
        assert [i["type"] for i in created.json()["output"]] == ["mcp_list_tools", "mcp_call", "message"]

        async def tree() -> dict[str, Any]:
            trace = await http.get(f"/v1/telemetry/traces/{trace_id}")
            assert trace.status_code == 200, trace.text
            root = trace.json()["root_span_id"]
            spans = (await http.post(f"/v1/telemetry/spans/{root}/tree", json={})).json()["data"]
            assert any(s["name"] == "responses.tool" for s in spans.values()), [s["name"] for s in spans.values()]
            return spans

        spans = await eventually(tree, what="the response's spans")
    by_id = {s["span_id"]: s for s in spans.values()}
    root = next(s for s in by_id.values() if s["name"] == "POST /v1/responses")
    (engine,) = [s for s in by_id.values() if s["name"] == "responses.create_openai_response"]
    assert engine["parent_span_id"] == root["span_id"]
    steps = sorted(
        (s for s in by_id.values() if s["parent_span_id"] == engine["span_id"]), key=lambda s: s["start_time"]
    )
    assert [s["name"] for s in steps] == [
        "tool_runtime.list_runtime_tools",  # the MCP server's tools, listed
        "inference.openai_chat_completion",  # the model asks for add(2, 3)
        "responses.tool",  # the engine runs it
        "inference.openai_chat_completion",  # the model answers
    ]
    tool = steps[2]
    assert tool["attributes"]["tool.kind"] == "mcp" and tool["attributes"]["tool.name"] == "add"
    assert tool["status"] == "ok"
    invoked = [s for s in by_id.values() if s["parent_span_id"] == tool["span_id"]]
    assert [s["name"] for s in invoked] == ["tool_runtime.invoke_tool"]
