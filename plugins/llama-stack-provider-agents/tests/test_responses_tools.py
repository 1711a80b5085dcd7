"""inline::builtin responses with the tools the stack serves itself and its guardrails, end to end with the real
``openai`` SDK against a scripted model: ``file_search`` over a real vector store (sentence-transformers, sqlite-vec,
localfs), ``mcp`` against a real MCP server over HTTP, ``web_search`` through ``remote::tavily-search`` (a scripted
vendor speaking Tavily's wire format), ``guardrails`` through ``inline::rule-shield``, and the faults of a loop.

Every output item and stream event is checked against the SDK's own types (``strict``), so a missing required field or
a wrong shape fails here rather than in a client."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import httpx
import llama_stack_provider_agents.plugin as agents_plugin
import openai
import pytest
from openai.types.responses import ResponseOutputItem, ResponseStreamEvent
from pydantic import BaseModel

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.documents import corpus
from llama_stack_core.testing.harness import free_port, stack_client, stop_process, wait_for_port
from llama_stack_core.testing.scripted import Reply, ScriptedServer
from llama_stack_core.testing.vector_io import EMBEDDING, wait_ingested

sys.path.insert(0, str(Path(__file__).with_name("support")))

from scripted_turns import MODEL, call_turn, model_run_config, sent_messages, text_turn

pytestmark = pytest.mark.anyio

MCP_SERVER = Path(__file__).parents[2] / "llama-stack-provider-mcp" / "tests" / "mcp_test_server.py"
SECRET = "Bearer sk-mcp-header-9f3b2c7d"
TIMEOUT = 2.0  # tool_runtime.invocation_timeout_seconds of the stack under test

TAVILY_ANSWER = {
    "query": "who maintains llama stack",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Llama Stack",
            "url": "https://github.com/llamastack/llama-stack",
            "content": "Composable building blocks to build Llama apps.",
            "score": 0.91,
            "raw_content": None,
        }
    ],
    "response_time": 0.4,
    "request_id": "123e4567-e89b-12d3-a456-426614174111",
}

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _by_type(union: Any) -> dict[str, type[BaseModel]]:
    """The SDK's models of a union (output items, stream events), by the ``type`` each one has."""
    members = get_args(get_args(union)[0]) if get_origin(union) is Annotated else get_args(union)
    return {get_args(member.model_fields["type"].annotation)[0]: member for member in members}


ITEM_TYPES = _by_type(ResponseOutputItem)
EVENT_TYPES = _by_type(ResponseStreamEvent)


def strict(models: dict[str, type[BaseModel]], data: dict[str, Any]) -> None:
    """Validate ``data`` against the SDK model of its ``type``: required fields present, shapes right."""
    models[data["type"]].model_validate(data)


# -- the stack: one per module (the embedding model loads once) -----------------------------------------------------


class McpHttpServer:
    """tests/mcp_test_server.py of the mcp package over streamable HTTP, in a subprocess."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.header_log = directory / "headers.jsonl"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> McpHttpServer:
        port_file = self.directory / f"mcp-{time.monotonic_ns()}.port"
        log_path = port_file.with_suffix(".log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(MCP_SERVER), "http", "--port", "0", "--port-file", str(port_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MCP_TEST_HEADER_LOG": str(self.header_log)},
            )
        self.port = wait_for_port(self.process, port_file, log_path)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def seen_headers(self) -> list[dict[str, Any]]:
        text = self.header_log.read_text() if self.header_log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def tavily() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpHttpServer]:
    server = McpHttpServer(tmp_path_factory.mktemp("mcp")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedServer, tavily: ScriptedServer, anyio_backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    workdir = tmp_path_factory.mktemp("stack")
    providers = {
        "inference": [{"provider_id": "embeddings", "provider_type": "inline::sentence-transformers", "config": {}}],
        "files": [
            {
                "provider_id": "files",
                "provider_type": "inline::localfs",
                "config": {
                    "storage_dir": str(workdir / "files"),
                    "persistence": {"backend": "default", "namespace": "files"},
                },
            }
        ],
        "vector_io": [
            {
                "provider_id": "sqlite-vec",
                "provider_type": "inline::sqlite-vec",
                "config": {"persistence": {"backend": "default", "namespace": "vector_io"}},
            }
        ],
        "tool_runtime": [
            {"provider_id": "mcp", "provider_type": "remote::model-context-protocol", "config": {}},
            {
                "provider_id": "tavily",
                "provider_type": "remote::tavily-search",
                "config": {"base_url": f"http://127.0.0.1:{tavily.port}", "api_key": "tvly-test-key-0123456789"},
            },
        ],
        "safety": [{"provider_id": "rule-shield", "provider_type": "inline::rule-shield", "config": {}}],
    }
    config = model_run_config(workdir, model, providers, tool_runtime={"invocation_timeout_seconds": TIMEOUT})
    async with stack_client(config, PluginManager(extra_plugins=[agents_plugin])) as http:
        yield http


@pytest.fixture
def client(stack: httpx.AsyncClient, model: ScriptedServer, tavily: ScriptedServer) -> Iterator[openai.AsyncOpenAI]:
    for server in (model, tavily):
        server.reset()
    yield openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=stack, max_retries=0)
    model.release()


@pytest.fixture(scope="module")
async def library(stack: httpx.AsyncClient) -> dict[str, Any]:
    """A vector store of the topical corpus, each file with attributes {topic, year}; ingestion finished."""
    sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=stack, max_retries=0)
    store = await sdk.vector_stores.create(name="library", extra_body={"embedding_model": EMBEDDING})
    files = {}
    for year, (topic, (name, data)) in enumerate(corpus().items(), start=2020):
        uploaded = await sdk.files.create(file=(name, data), purpose="assistants")
        files[topic] = uploaded.id
        await sdk.vector_stores.files.create(
            vector_store_id=store.id, file_id=uploaded.id, attributes={"topic": topic, "year": year}
        )
    await wait_ingested(sdk, store.id)
    return {"store": store.id, "files": files}


# -- helpers --------------------------------------------------------------------------------------------------------


def strict_output(response: Any) -> list[dict[str, Any]]:
    """The response's output items as sent, each validated against the SDK's own output item types."""
    items = [item.model_dump(mode="json", exclude_unset=True) for item in response.output]
    for item in items:
        strict(ITEM_TYPES, item)
    return items


async def streamed(client: openai.AsyncOpenAI, **request: Any) -> list[Any]:
    """Every event of a streamed response, each validated against the SDK's event types, numbered from 0 on."""
    events = [event async for event in await client.responses.create(stream=True, **request)]
    for event in events:
        strict(EVENT_TYPES, event.model_dump(mode="json", exclude_unset=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


def tool_message(model: ScriptedServer, index: int = -1) -> dict[str, Any]:
    """The last tool answer the model was sent in request ``index``."""
    return [m for m in sent_messages(model, index) if m["role"] == "tool"][-1]


def offered(model: ScriptedServer, index: int = 0) -> list[str]:
    return [tool["function"]["name"] for tool in model.requests[index].json.get("tools", [])]


def mcp_tool(server: McpHttpServer, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "test", "server_url": server.uri, "require_approval": "never", **extra}


# -- file_search -----------------------------------------------------------------------------------------------------


async def test_file_search_finds_the_document_and_the_answer_cites_it(
    client: openai.AsyncOpenAI, model: ScriptedServer, library: dict[str, Any]
) -> None:
    question = "How do I make a loaf of bread?"
    model.reply(stream=call_turn("file_search", {"query": question}))
    model.reply(stream=text_turn("Knead the dough and bake it ", "[1]."))
    tool = {"type": "file_search", "vector_store_ids": [library["store"]], "max_num_results": 2}
    response = await client.responses.create(
        model=MODEL, input=question, tools=[tool], include=["file_search_call.results"]
    )
    assert response.status == "completed"
    call, message = strict_output(response)
    assert call["type"] == "file_search_call" and call["status"] == "completed" and call["queries"] == [question]
    assert 1 <= len(call["results"]) <= 2
    top = call["results"][0]
    assert (top["file_id"], top["filename"]) == (library["files"]["cooking"], "cooking.html")
    assert 0 < top["score"] <= 1 and "Knead the dough" in top["text"]
    assert top["attributes"] == {"topic": "cooking", "year": 2021}
    assert offered(model) == ["file_search"]
    answer = tool_message(model)["content"]  # what the model read as the tool's answer
    assert "[1]" in answer and "Knead the dough" in answer and "cooking.html" in answer
    text = message["content"][0]
    assert text["text"] == "Knead the dough and bake it [1]."
    assert text["annotations"] == [
        {
            "type": "file_citation",
            "file_id": library["files"]["cooking"],
            "filename": "cooking.html",
            "index": text["text"].index("[1]"),
        }
    ]


async def test_file_search_results_only_when_included_and_filters_and_limit_hold(
    client: openai.AsyncOpenAI, model: ScriptedServer, library: dict[str, Any]
) -> None:
    model.reply(stream=call_turn("file_search", {"query": "How do I bake bread?"}))
    model.reply(stream=text_turn("Only finance here."))
    tool = {
        "type": "file_search",
        "vector_store_ids": [library["store"]],
        "max_num_results": 1,
        "filters": {"type": "eq", "key": "topic", "value": "finance"},
    }
    events = await streamed(client, model=MODEL, input="bread?", tools=[tool])
    kinds = [e.type for e in events]
    start = kinds.index("response.output_item.added")
    assert kinds[start : start + 5] == [
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    [call] = [i for i in events[-1].response.output if i.type == "file_search_call"]
    assert call.results is None  # not asked for with include
    answer = tool_message(model)["content"]
    assert "Quarterly earnings" in answer and "Knead" not in answer
    assert answer.count("(file ") == 1  # max_num_results
    assert model.requests[-1].json["messages"][-1]["role"] == "tool"


async def test_an_unknown_vector_store_is_a_404_before_the_model_runs(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    with pytest.raises(openai.NotFoundError, match="vs_missing"):
        await client.responses.create(
            model=MODEL, input="hi", tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}]
        )
    assert model.requests == []


# -- mcp -------------------------------------------------------------------------------------------------------------


async def test_mcp_tools_are_listed_filtered_and_called_in_openais_event_order(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer
) -> None:
    model.reply(stream=call_turn("add", {"a": 2, "b": 40}))
    model.reply(stream=text_turn("It is 42."))
    events = await streamed(client, model=MODEL, input="2+40?", tools=[mcp_tool(mcp, allowed_tools=["add", "echo"])])
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1].response
    listing, call, message = strict_output(final)
    assert listing["type"] == "mcp_list_tools" and listing["server_label"] == "test"
    assert sorted(t["name"] for t in listing["tools"]) == ["add", "echo"]
    assert sorted(offered(model)) == ["add", "echo"]  # allowed_tools: nothing else is offered
    assert call["type"] == "mcp_call" and call["name"] == "add" and call["status"] == "completed"
    assert json.loads(call["arguments"]) == {"a": 2, "b": 40} and call["output"] == "42"
    assert events[9].arguments == call["arguments"] and events[9].item_id == call["id"]
    assert tool_message(model)["content"] == "42"
    assert message["content"][0]["text"] == "It is 42."


async def test_mcp_headers_reach_the_server_and_nowhere_else(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model.reply(stream=call_turn("whoami", {}))
    model.reply(stream=text_turn("Recorded."))
    tool = mcp_tool(mcp, allowed_tools=["whoami"], headers={"Authorization": SECRET, "X-Tenant": "acme"})
    response = await client.responses.create(model=MODEL, input="who am I?", tools=[tool])
    assert response.status == "completed"
    assert {"authorization": SECRET, "x-tenant": "acme"} in mcp.seen_headers()
    stored = await client._client.get(f"http://stack/v1/responses/{response.id}")
    listed = await client._client.get("http://stack/v1/responses", params={"limit": 5})
    for text in (response.model_dump_json(), stored.text, listed.text, caplog.text, json.dumps(model.requests[0].json)):
        assert "sk-mcp-header" not in text


async def test_mcp_approval_request_ends_the_response_and_the_answer_runs_or_refuses_the_call(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer
) -> None:
    tools = [mcp_tool(mcp, allowed_tools=["echo"], require_approval="always")]
    for approve, expected in ((True, "approved text"), (False, "did not approve")):
        model.reply(stream=call_turn("echo", {"text": "approved text"}))
        first = await client.responses.create(model=MODEL, input="echo it", tools=tools)
        listing, request = strict_output(first)
        assert listing["type"] == "mcp_list_tools"
        assert first.status == "completed" and len(model.requests) == 1
        assert request["type"] == "mcp_approval_request" and request["name"] == "echo"
        assert json.loads(request["arguments"]) == {"text": "approved text"}
        model.reply(stream=text_turn("Done."))
        second = await client.responses.create(
            model=MODEL,
            previous_response_id=first.id,
            tools=tools,
            input=[{"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": approve}],
        )
        assert second.status == "completed" and second.output_text == "Done."
        calls = [i for i in strict_output(second) if i["type"] == "mcp_call"]
        assert expected in tool_message(model)["content"]
        if approve:
            assert [(c["name"], c["output"], c["status"]) for c in calls] == [("echo", "approved text", "completed")]
        else:
            assert calls == []
        model.requests.clear()


async def test_an_mcp_server_that_goes_down_fails_the_call_not_the_response(
    client: openai.AsyncOpenAI, model: ScriptedServer, tmp_path: Path
) -> None:
    server = McpHttpServer(tmp_path).start()

    def answer(request: Any) -> Reply:
        if len(model.requests) == 1:  # listed already: the server goes away before the model's call
            server.stop()
            return Reply(stream=call_turn("echo", {"text": "anyone?"}))
        return Reply(stream=text_turn("The server is down."))

    model.respond = answer
    try:
        events = await streamed(client, model=MODEL, input="echo", tools=[mcp_tool(server, allowed_tools=["echo"])])
    finally:
        server.stop()
    final = events[-1].response
    assert final.status == "completed" and final.output_text == "The server is down."
    call = next(i for i in strict_output(final) if i["type"] == "mcp_call")
    assert call["status"] == "failed" and call["output"] is None and call["error"]["type"] == "http_error"
    assert call["error"]["code"] >= 500 and call["error"]["message"]
    assert "response.mcp_call.failed" in [e.type for e in events]
    assert tool_message(model)["content"].startswith("error:")


async def test_an_mcp_server_down_when_listing_is_a_clear_error_before_the_model_runs(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    tool = {"type": "mcp", "server_label": "gone", "server_url": url, "headers": {"Authorization": SECRET}}
    with pytest.raises(openai.APIStatusError) as failed:
        await client.responses.create(model=MODEL, input="hi", tools=[tool])
    assert failed.value.status_code == 502 and url in failed.value.message
    assert "sk-mcp-header" not in failed.value.response.text
    assert model.requests == []


# -- web_search ------------------------------------------------------------------------------------------------------


async def test_web_search_through_the_search_tool_group(
    client: openai.AsyncOpenAI, model: ScriptedServer, tavily: ScriptedServer
) -> None:
    tavily.reply(json=TAVILY_ANSWER)
    model.reply(stream=call_turn("web_search", {"query": "who maintains llama stack"}))
    model.reply(stream=text_turn("The llamastack org."))
    events = await streamed(client, model=MODEL, input="Who maintains it?", tools=[{"type": "web_search"}])
    kinds = [e.type for e in events]
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    call, _ = strict_output(events[-1].response)
    assert call["type"] == "web_search_call" and call["status"] == "completed"
    assert call["action"]["query"] == "who maintains llama stack"
    assert tavily.requests[0].json["query"] == "who maintains llama stack"
    assert "Composable building blocks" in tool_message(model)["content"]
    assert offered(model) == ["web_search"]


async def test_a_failing_search_vendor_fails_the_call_not_the_response(
    client: openai.AsyncOpenAI, model: ScriptedServer, tavily: ScriptedServer
) -> None:
    tavily.reply(status=500, json={"detail": {"error": "search backend exploded"}})
    model.reply(stream=call_turn("web_search", {"query": "llamas"}))
    model.reply(stream=text_turn("No results."))
    response = await client.responses.create(model=MODEL, input="llamas?", tools=[{"type": "web_search"}])
    call, _ = strict_output(response)
    assert response.status == "completed" and response.output_text == "No results."
    assert call["status"] == "failed" and call["action"]["query"] == "llamas"
    assert tool_message(model)["content"].startswith("error:") and len(tavily.requests) == 1


# -- guardrails ------------------------------------------------------------------------------------------------------


async def test_a_violating_input_is_refused_before_the_model_runs(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    for guardrails in (["rule-shield"], [{"type": "rule-shield"}]):
        response = await client.responses.create(
            model=MODEL, input="mail jane.doe@example.com the plan", extra_body={"guardrails": guardrails}
        )
        [refusal] = strict_output(response)
        assert response.status == "completed" and refusal["content"][0]["type"] == "refusal"
        assert "email" in refusal["content"][0]["refusal"]
    assert model.requests == []


async def test_a_leaking_answer_is_replaced_by_a_refusal(client: openai.AsyncOpenAI, model: ScriptedServer) -> None:
    leak = "The key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    model.reply(stream=text_turn("The key is ", leak[len("The key is ") :]))
    events = await streamed(client, model=MODEL, input="what is the key?", extra_body={"guardrails": ["rule-shield"]})
    final = events[-1].response
    [refusal] = strict_output(final)
    assert refusal["content"][0]["type"] == "refusal" and "api_key" in refusal["content"][0]["refusal"]
    assert "response.refusal.done" in [e.type for e in events]
    assert all("sk-proj" not in e.model_dump_json() for e in events)  # never streamed to the client
    model.reply(stream=text_turn("ok"))
    await client.responses.create(model=MODEL, input="and now?", previous_response_id=final.id)
    assert "sk-proj" not in json.dumps(sent_messages(model))  # nor sent back to the model when chained


# -- faults ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("echo", '{"text": "unterminated', "invalid arguments"),
        ("no_such_tool", {"x": 1}, "no tool named 'no_such_tool'"),
        ("fail", {"message": "disk on fire"}, "disk on fire"),
        ("sleep", {"seconds": 30}, "did not answer within"),
    ],
    ids=["malformed-arguments", "unknown-tool", "tool-raises", "tool-times-out"],
)
async def test_a_failing_tool_call_is_an_error_the_model_reads(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer, name: str, arguments: Any, error: str
) -> None:
    model.reply(stream=call_turn(name, arguments))
    model.reply(stream=text_turn("Sorry, that failed."))
    started = time.monotonic()
    response = await client.responses.create(model=MODEL, input="go", tools=[mcp_tool(mcp)])
    assert time.monotonic() - started < TIMEOUT + 8
    assert response.status == "completed" and response.output_text == "Sorry, that failed."
    answer = tool_message(model)["content"]
    assert answer.startswith("error:") and error in answer
    calls = [i for i in strict_output(response) if i["type"] == "mcp_call"]
    if name != "no_such_tool":
        [call] = calls
        assert call["status"] == "failed" and call["error"] and call["output"] is None
    else:
        assert calls == []


async def test_max_tool_calls_makes_the_response_incomplete(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer
) -> None:
    model.reply(stream=call_turn("echo", {"text": "one"}))
    model.reply(stream=call_turn("echo", {"text": "two"}, call_id="call_2"))
    response = await client.responses.create(
        model=MODEL, input="echo twice", tools=[mcp_tool(mcp, allowed_tools=["echo"])], max_tool_calls=1
    )
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_tool_calls"
    assert [c["arguments"] for c in strict_output(response) if c["type"] == "mcp_call"] == ['{"text": "one"}']
    assert len(model.requests) == 2


async def test_max_infer_iters_makes_the_response_incomplete(
    client: openai.AsyncOpenAI, model: ScriptedServer, mcp: McpHttpServer
) -> None:
    for n in range(3):
        model.reply(stream=call_turn("echo", {"text": f"again {n}"}, call_id=f"call_{n}"))
    response = await client.responses.create(
        model=MODEL,
        input="loop",
        tools=[mcp_tool(mcp, allowed_tools=["echo"])],
        extra_body={"max_infer_iters": 2},
    )
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_infer_iters"
    assert len(model.requests) == 2
    assert len([i for i in strict_output(response) if i["type"] == "mcp_call"]) == 2


async def test_tool_choice_parallel_calls_format_and_limits_reach_the_model(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    model.reply(stream=text_turn('{"city": "Oslo"}'))
    await client.responses.create(
        model=MODEL,
        input="a city",
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
        temperature=0.2,
        top_p=0.9,
    )
    sent = model.requests[-1].json
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema, "strict": True},
    }
    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.9)
    model.reply(stream=call_turn("get_weather", {"city": "Oslo"}))
    await client.responses.create(
        model=MODEL, input="weather", tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"}
    )
    assert model.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


async def test_max_output_tokens_cut_makes_the_response_incomplete(
    client: openai.AsyncOpenAI, model: ScriptedServer
) -> None:
    model.reply(stream=text_turn("Once upon", finish_reason="length"))
    response = await client.responses.create(model=MODEL, input="a story", max_output_tokens=16)
    assert model.requests[-1].json["max_tokens"] == 16
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    [message] = strict_output(response)
    assert message["status"] == "incomplete" and message["content"][0]["text"] == "Once upon"
    assert response.max_output_tokens == 16


async def test_a_client_that_leaves_mid_stream_stops_the_run(stack: httpx.AsyncClient, model: ScriptedServer) -> None:
    """The client closes the stream while the model is mid-turn: that turn's stream is closed and no further turn
    (the unknown tool's error would otherwise go back to the model) is asked for."""
    model.reset()
    model.reply(stream=call_turn("no_such_tool", {}), hold_after=1)
    model.reply(stream=text_turn("never asked for"))
    body = json.dumps({"model": MODEL, "input": "hi", "stream": True}).encode()
    received: list[bytes] = []
    left = asyncio.Event()
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            received.append(message["body"])
            if b"response.in_progress" in message["body"]:
                left.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("stack", 80),
        "headers": [(b"host", b"stack"), (b"content-type", b"application/json")],
    }
    await asyncio.wait_for(stack.app(scope, receive, send), timeout=20)  # type: ignore[attr-defined]
    model.release()
    await asyncio.sleep(0.5)  # a run that went on would ask for the next turn now
    assert len(model.requests) == 1
    assert not any(b"response.completed" in chunk for chunk in received)
    answer = await stack.post("/v1/responses", json={"model": MODEL, "input": "again"})
    assert answer.json()["output"][0]["content"][0]["text"] == "never asked for"  # the next turn's reply is unused
