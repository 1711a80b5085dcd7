"""Agents conformance tests (the older agents/sessions/turns API of the llama-stack-client 0.2 SDK) every agents
provider runs: agents and sessions as stored objects, turns against a scripted model that streams the exact
chat-completion wire format (so tool loops are deterministic), streamed turn events as the SDK parses them, the SDK's
``AsyncAgent`` helper running a client tool and resuming the turn, steps, state shared by a second stack on the same
store, and the 404/422 answers.

Subclass :class:`AgentsProviderTests`::

    class TestAcmeAgents(AgentsProviderTests):
        provider_type = "inline::acme"
        extra_plugins = [acme_plugin]

The scripted model is served through ``remote::vllm`` (``model`` fixture: a class-scoped
:class:`~llama_stack_core.testing.scripted.ScriptedServer`); override ``supporting`` to add providers (safety, tool
runtime) the provider's own tests need.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..plugins import PluginManager
from .harness import stack_client
from .kit import StackKit
from .scripted import ScriptedServer, call_turn, text_turn

MODEL = "scripted-llm"
INSTRUCTIONS = "You are a helpful assistant."

#: A client tool as the 0.2 SDK declares it (``parameters`` list).
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": [{"name": "city", "parameter_type": "string", "description": "The city.", "required": True}],
}


def payloads(lines: list[str]) -> list[dict[str, Any]]:
    """The turn events' payloads of an SSE body."""
    import orjson

    return [orjson.loads(line[len("data: ") :])["event"]["payload"] for line in lines if line.startswith("data: ")]


class AgentsProviderTests(StackKit):
    api = "agents"

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer() as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path, model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
        """Providers besides the one under test: ``supporting_providers`` and the scripted model (``remote::vllm``)."""
        config = {"base_url": model.base_url, "refresh_models": False}
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.setdefault("inference", []).append(
            {"provider_id": "vllm", "provider_type": "remote::vllm", "config": config}
        )
        return providers

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        models = [*cls.supporting_resources.get("models", [])]
        models.append({"model_id": MODEL, "provider_id": "vllm", "provider_model_id": "upstream"})
        return {"models": models}

    @pytest.fixture(scope="class")
    @classmethod
    def sdk(cls, http: Any) -> Any:
        sdk = pytest.importorskip("llama_stack_client")
        return sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)

    # -- helpers -------------------------------------------------------------------------------------------------

    @staticmethod
    async def new_agent(http: Any, **config: Any) -> str:
        body = {"agent_config": {"model": MODEL, "instructions": INSTRUCTIONS, **config}}
        answer = await http.post("/v1/agents", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["agent_id"]

    @staticmethod
    async def new_session(http: Any, agent_id: str, name: str = "s") -> str:
        answer = await http.post(f"/v1/agents/{agent_id}/session", json={"session_name": name})
        assert answer.status_code == 200, answer.text
        return answer.json()["session_id"]

    @staticmethod
    async def streamed_turn(http: Any, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        async with http.stream("POST", path, json={**body, "stream": True}) as answer:
            assert answer.status_code == 200
            return payloads([line async for line in answer.aiter_lines()])

    # -- agents and sessions -------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_agents_are_created_listed_fetched_and_deleted(self, http: Any, sdk: Any) -> None:
        config = {"model": MODEL, "instructions": INSTRUCTIONS, "max_infer_iters": 3}
        agent_id = (await sdk.agents.create(agent_config=config)).agent_id
        fetched = (await http.get(f"/v1/agents/{agent_id}")).json()
        assert fetched["agent_id"] == agent_id and fetched["agent_config"]["model"] == MODEL
        assert fetched["agent_config"]["max_infer_iters"] == 3 and fetched["created_at"]
        assert agent_id in [a["agent_id"] for a in (await http.get("/v1/agents")).json()["data"]]
        page = (await http.get("/v1alpha/agents", params={"start_index": 0, "limit": 1})).json()
        assert len(page["data"]) == 1
        await sdk.agents.delete(agent_id)
        assert (await http.get(f"/v1/agents/{agent_id}")).status_code == 404
        assert agent_id not in [a["agent_id"] for a in (await http.get("/v1/agents")).json()["data"]]

    @pytest.mark.anyio
    async def test_sessions_are_created_listed_fetched_and_deleted(self, http: Any, sdk: Any) -> None:
        agent_id = await self.new_agent(http)
        session_id = (await sdk.agents.session.create(agent_id, session_name="first")).session_id
        session = await sdk.agents.session.retrieve(session_id, agent_id=agent_id)
        assert session.session_name == "first" and session.turns == []
        listed = (await http.get(f"/v1/agents/{agent_id}/sessions")).json()
        assert [s["session_id"] for s in listed["data"]] == [session_id]
        await sdk.agents.session.delete(session_id, agent_id=agent_id)
        assert (await http.get(f"/v1/agents/{agent_id}/session/{session_id}")).status_code == 404
        other = await self.new_agent(http)
        kept = await self.new_session(http, agent_id)
        assert (await http.get(f"/v1/agents/{other}/session/{kept}")).status_code == 404  # not its session
        await sdk.agents.delete(agent_id)
        assert (await http.get(f"/v1/agents/{other}/session/{kept}")).status_code == 404

    # -- turns ---------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_turn_answers_and_is_stored_with_its_steps(
        self, http: Any, sdk: Any, model: ScriptedServer
    ) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=text_turn("Hello", ", world"))
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
        answer = await http.post(f"/v1/agents/{agent_id}/session/{session_id}/turn", json=body)
        assert answer.status_code == 200, answer.text
        turn = answer.json()
        assert turn["output_message"]["content"] == "Hello, world"
        assert turn["output_message"]["stop_reason"] == "end_of_turn"
        assert [s["step_type"] for s in turn["steps"]] == ["inference"]
        assert model.requests[-1].json["messages"] == [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": "hi"},
        ]
        base = f"/v1/agents/{agent_id}/session/{session_id}/turn/{turn['turn_id']}"
        stored = (await http.get(base)).json()
        assert stored["output_message"] == turn["output_message"] and stored["completed_at"]
        by_sdk = await sdk.agents.steps.retrieve(
            turn["steps"][0]["step_id"], agent_id=agent_id, session_id=session_id, turn_id=turn["turn_id"]
        )
        assert by_sdk.step.step_type == "inference"
        step = (await http.get(f"{base}/step/{turn['steps'][0]['step_id']}")).json()["step"]
        assert step["model_response"]["content"] == "Hello, world"
        assert (
            await http.get(f"/v1alpha/agents/{agent_id}/session/{session_id}/turn/{turn['turn_id']}")
        ).json() == stored

    @pytest.mark.anyio
    async def test_the_next_turn_sees_the_session_so_far(self, http: Any, model: ScriptedServer) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        path = f"/v1/agents/{agent_id}/session/{session_id}/turn"
        for question, reply in (("my name is Ada", "Hi Ada"), ("what is my name?", "Ada")):
            model.reply(stream=text_turn(reply))
            body = {"messages": [{"role": "user", "content": question}]}
            assert (await http.post(path, json=body)).status_code == 200
        assert model.requests[-1].json["messages"][1:] == [
            {"role": "user", "content": "my name is Ada"},
            {"role": "assistant", "content": "Hi Ada"},
            {"role": "user", "content": "what is my name?"},
        ]
        session = (await http.get(f"/v1/agents/{agent_id}/session/{session_id}")).json()
        assert [t["output_message"]["content"] for t in session["turns"]] == ["Hi Ada", "Ada"]

    @pytest.mark.anyio
    async def test_streamed_turn_events_come_in_the_sdks_order(
        self, http: Any, sdk: Any, model: ScriptedServer
    ) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=text_turn("Hel", "lo"))
        stream = await sdk.agents.turn.create(
            session_id, agent_id=agent_id, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        events = [chunk.event.payload async for chunk in stream]
        kinds = [e.event_type for e in events]
        assert kinds == ["turn_start", "step_start", "step_progress", "step_progress", "step_complete", "turn_complete"]
        assert "".join(e.delta.text for e in events if e.event_type == "step_progress") == "Hello"
        assert events[1].step_id == events[-2].step_id and events[-2].step_type == "inference"
        assert events[-2].step_details.api_model_response.content == "Hello"
        assert events[-1].turn.turn_id == events[0].turn_id and events[-1].turn.output_message.content == "Hello"

    @pytest.mark.anyio
    async def test_the_sdks_agent_runs_a_client_tool_and_resumes_the_turn(
        self, http: Any, sdk: Any, model: ScriptedServer
    ) -> None:
        from llama_stack_client.lib.agents.agent import AsyncAgent
        from llama_stack_client.lib.agents.client_tool import client_tool

        asked: list[str] = []

        @client_tool
        def get_weather(city: str) -> str:
            """Weather in a city.

            :param city: The city.
            """
            asked.append(city)
            return f"sunny in {city}"

        agent = AsyncAgent(sdk, model=MODEL, instructions=INSTRUCTIONS, tools=[get_weather])
        session_id = await agent.create_session("tools")
        model.reply(stream=call_turn("get_weather", {"city": "Rome"}))
        model.reply(stream=text_turn("It is sunny in Rome."))
        chunks = [c async for c in await agent.create_turn([{"role": "user", "content": "weather?"}], session_id)]
        assert asked == ["Rome"]
        kinds = [c.event.payload.event_type for c in chunks]
        assert kinds[0] == "turn_start" and "turn_awaiting_input" in kinds and kinds[-1] == "turn_complete"
        turn = chunks[-1].event.payload.turn
        assert turn.output_message.content == "It is sunny in Rome."
        assert [s.step_type for s in turn.steps] == ["inference", "tool_execution", "inference"]
        executed = turn.steps[1]
        assert executed.tool_calls[0].tool_name == "get_weather" and executed.tool_calls[0].arguments == {
            "city": "Rome"
        }
        assert "sunny in Rome" in str(executed.tool_responses[0].content)
        offered = model.requests[-2].json["tools"][0]["function"]
        assert offered["name"] == "get_weather" and offered["parameters"]["required"] == ["city"]
        resumed = model.requests[-1].json["messages"]
        assert resumed[-2]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert resumed[-1]["role"] == "tool" and "sunny in Rome" in str(resumed[-1]["content"])
        stored = await sdk.agents.turn.retrieve(turn.turn_id, agent_id=agent.agent_id, session_id=session_id)
        assert stored.output_message.content == "It is sunny in Rome." and len(stored.steps) == 3

    @pytest.mark.anyio
    async def test_a_turn_waiting_for_a_client_tool_is_stored_and_resumed_once(
        self, http: Any, model: ScriptedServer
    ) -> None:
        agent_id = await self.new_agent(http, client_tools=[WEATHER_TOOL])
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=call_turn("get_weather", {"city": "Oslo"}, call_id="call_9"))
        path = f"/v1/agents/{agent_id}/session/{session_id}/turn"
        waiting = (await http.post(path, json={"messages": [{"role": "user", "content": "weather?"}]})).json()
        assert waiting["output_message"]["stop_reason"] == "end_of_message" and waiting["completed_at"] is None
        assert waiting["output_message"]["tool_calls"][0]["call_id"] == "call_9"
        resume = f"{path}/{waiting['turn_id']}/resume"
        wrong = {"tool_responses": [{"call_id": "nope", "tool_name": "get_weather", "content": "x"}]}
        assert (await http.post(resume, json=wrong)).status_code == 400
        model.reply(stream=text_turn("Cold."))
        answer = {"tool_responses": [{"call_id": "call_9", "tool_name": "get_weather", "content": "-3C"}]}
        events = await self.streamed_turn(http, resume, answer)
        assert [e["event_type"] for e in events][:3] == ["turn_start", "step_start", "step_complete"]
        assert (
            events[-1]["event_type"] == "turn_complete" and events[-1]["turn"]["output_message"]["content"] == "Cold."
        )
        again = await http.post(resume, json=answer)
        assert again.status_code == 400 and "not awaiting" in again.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_max_infer_iters_bounds_the_turn_across_resumptions(self, http: Any, model: ScriptedServer) -> None:
        agent_id = await self.new_agent(http, client_tools=[WEATHER_TOOL], max_infer_iters=1)
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=call_turn("get_weather", {"city": "Oslo"}, call_id="call_1"))
        path = f"/v1/agents/{agent_id}/session/{session_id}/turn"
        waiting = (await http.post(path, json={"messages": [{"role": "user", "content": "weather?"}]})).json()
        calls = len(model.requests)
        answer = {"tool_responses": [{"call_id": "call_1", "tool_name": "get_weather", "content": "-3C"}]}
        done = (await http.post(f"{path}/{waiting['turn_id']}/resume", json=answer)).json()
        assert len(model.requests) == calls  # the budget is spent: no second model call
        assert done["output_message"]["stop_reason"] == "out_of_tokens" and not done["output_message"]["tool_calls"]
        assert [s["step_type"] for s in done["steps"]] == ["inference", "tool_execution"]

    @pytest.mark.anyio
    async def test_a_second_stack_on_the_same_store_sees_the_sessions(
        self, http: Any, run_config: dict[str, Any], model: ScriptedServer
    ) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=text_turn("kept"))
        path = f"/v1/agents/{agent_id}/session/{session_id}"
        await http.post(f"{path}/turn", json={"messages": [{"role": "user", "content": "remember"}]})
        async with stack_client(run_config, PluginManager(extra_plugins=list(self.extra_plugins))) as other:
            session = (await other.get(path)).json()
            assert [t["output_message"]["content"] for t in session["turns"]] == ["kept"]
            assert (await other.get(f"/v1/agents/{agent_id}")).json()["agent_config"]["model"] == MODEL

    # -- bad input -----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unknown_agent_session_turn_and_step_are_404s(self, http: Any, model: ScriptedServer) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        model.reply(stream=text_turn("ok"))
        turn_path = f"/v1/agents/{agent_id}/session/{session_id}/turn"
        turn_id = (await http.post(turn_path, json={"messages": [{"role": "user", "content": "x"}]})).json()["turn_id"]
        user = {"messages": [{"role": "user", "content": "x"}]}
        for method, path, body in [
            ("GET", "/v1/agents/no-such-agent", None),
            ("DELETE", "/v1/agents/no-such-agent", None),
            ("POST", "/v1/agents/no-such-agent/session", {"session_name": "s"}),
            ("GET", f"/v1/agents/{agent_id}/session/no-such-session", None),
            ("POST", f"/v1/agents/{agent_id}/session/no-such-session/turn", user),
            ("GET", f"{turn_path}/no-such-turn", None),
            ("GET", f"{turn_path}/{turn_id}/step/no-such-step", None),
        ]:
            answer = await http.request(method, path, json=body)
            assert answer.status_code == 404, (path, answer.text)
            assert "no-such" in answer.json()["error"]["message"]
        unknown_model = await http.post("/v1/agents", json={"agent_config": {"model": "nope", "instructions": ""}})
        assert unknown_model.status_code == 404 and "nope" in unknown_model.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_bad_bodies_are_422s(self, http: Any) -> None:
        agent_id = await self.new_agent(http)
        session_id = await self.new_session(http, agent_id)
        turn = f"/v1/agents/{agent_id}/session/{session_id}/turn"
        for path, body in [
            ("/v1/agents", {}),
            ("/v1/agents", {"agent_config": {"instructions": "no model"}}),
            ("/v1/agents", {"agent_config": {"model": MODEL, "instructions": "", "max_infer_iters": 0}}),
            (f"/v1/agents/{agent_id}/session", {}),
            (turn, {}),
            (turn, {"messages": []}),
            (turn, {"messages": [{"role": "wizard", "content": "x"}]}),
            (f"{turn}/some-turn/resume", {"tool_responses": []}),
        ]:
            answer = await http.post(path, json=body)
            assert answer.status_code == 422, (path, body, answer.text)
            assert answer.json()["error"]["message"]
