"""Responses, Conversations and the older Agents API: three APIs, each served (or answered 501) on its own."""

from __future__ import annotations

import re

import agent_apis_plugin
import pytest
import stack_test_plugin
from agent_apis_plugin import memory_providers

from llama_stack_core.apis import api_spec
from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio

#: API -> (operations, paths with their aliases as /v1/inspect/routes lists them)
ROUTE_COUNTS = {"responses": (6, 11), "conversations": (8, 8), "agents": (12, 24)}


def _filled(path: str) -> str:
    """A concrete path for a route template (``{agent_id}`` -> ``agent_id-1``)."""
    return re.sub(r"{(\w+)(?::\w+)?}", r"\1-1", path)


@pytest.fixture
def agent_pm() -> PluginManager:
    return PluginManager(extra_plugins=[stack_test_plugin, agent_apis_plugin])


@pytest.mark.parametrize("api", list(ROUTE_COUNTS))
async def test_every_route_answers_501_naming_its_api_without_a_provider(api, full_config, pm):
    spec = api_spec(Api(api))
    operations, paths = ROUTE_COUNTS[api]
    assert len(spec.routes) == operations
    async with stack_client(full_config, pm) as client:
        listed = (await client.get("/v1/inspect/routes", params={"api_filter": api})).json()["data"]
        answers = [
            (path, await client.request(route.method, _filled(path), json={} if route.method == "POST" else None))
            for route in spec.routes
            for path in route.paths
        ]
    assert len(listed) == paths
    assert sorted((r["method"], r["route"]) for r in listed) == sorted(
        (route.method, path) for route in spec.routes for path in route.paths
    )
    assert all(r["provider_types"] == [] for r in listed)
    for path, answer in answers:
        assert answer.status_code == 501, (path, answer.text)
        assert f"add one under providers.{api} " in answer.json()["error"]["message"], path


async def test_each_api_is_served_by_the_provider_configured_for_it(tmp_path, agent_pm):
    config = make_run_config(memory_providers("conversations", "responses"), tmp_path)
    async with stack_client(config, agent_pm) as client:
        created = await client.post(
            "/v1/conversations", json={"items": [{"role": "user", "content": "hi"}], "metadata": {"topic": "t"}}
        )
        conversation = created.json()
        answered = await client.post(
            "/v1/responses", json={"model": "m", "input": "and then?", "conversation": conversation["id"]}
        )
        items = await client.get(f"/v1/conversations/{conversation['id']}/items")
        missing = await client.get("/v1/conversations/conv_missing")
        not_implemented = await client.delete(f"/v1/conversations/{conversation['id']}")
        agents = await client.post("/v1/agents", json={"agent_config": {"model": "m", "instructions": "be brief"}})
        listed = (await client.get("/v1/inspect/routes", params={"api_filter": "conversations"})).json()["data"]
        providers = (await client.get("/v1/providers")).json()["data"]
    assert created.status_code == 200, created.text
    assert conversation["object"] == "conversation" and conversation["metadata"] == {"topic": "t"}
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "completed"
    assert [item["content"] for item in items.json()["data"]] == ["hi", "and then?"]
    assert missing.status_code == 404
    assert not_implemented.status_code == 501 and "delete_conversation" in not_implemented.json()["error"]["message"]
    assert agents.status_code == 501 and "providers.agents" in agents.json()["error"]["message"]
    assert {r["provider_types"][0] for r in listed} == {"inline::memory"}
    assert {(p["api"], p["provider_id"]) for p in providers} == {
        ("conversations", "conversations-memory"),
        ("responses", "responses-memory"),
    }


async def test_the_older_agents_api_is_served_on_both_prefixes(tmp_path, agent_pm):
    config = make_run_config(memory_providers("agents"), tmp_path)
    async with stack_client(config, agent_pm) as client:
        created = await client.post("/v1/agents", json={"agent_config": {"model": "m", "instructions": "be brief"}})
        agent_id = created.json()["agent_id"]
        current = await client.get(f"/v1alpha/agents/{agent_id}")
        invalid = await client.post("/v1alpha/agents", json={"agent_config": {"instructions": "no model"}})
        responses = await client.get("/v1/responses")
    assert created.status_code == 200, created.text
    assert current.status_code == 200, current.text
    assert current.json()["agent_config"]["instructions"] == "be brief"
    assert invalid.status_code == 422 and invalid.json()["error"]["param"] == "agent_config.model"
    assert responses.status_code == 501 and "providers.responses" in responses.json()["error"]["message"]
