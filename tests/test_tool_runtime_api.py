"""Tool runtime routing: the conformance kit on small in-server tools, and the core's own work on every call:
argument checks, the timeout, the result size cap, the concurrency limit, name clashes and the RAG routes."""

from __future__ import annotations

import asyncio

import pytest
import tool_safety_plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.tool_runtime import ToolRuntimeProviderTests

pytestmark = pytest.mark.anyio

TOOLS_PROVIDER = {"provider_id": "local", "provider_type": "inline::local-tools", "config": {}}


class TestLocalTools(ToolRuntimeProviderTests):
    provider_type = "inline::local-tools"
    toolgroup = {"toolgroup_id": "local::math"}
    expected_tools = {"add", "echo"}
    invocation = ("add", {"a": 2, "b": 40})
    invalid_invocation = ("add", {"a": 2, "b": "forty"}, "b")
    extra_plugins = [tool_safety_plugin]

    def check_result(self, result):
        assert result["content"] == "42"


def _stack(tmp_path, **extra):
    config = make_run_config({"tool_runtime": [TOOLS_PROVIDER]}, tmp_path, **extra)
    return stack_client(config, PluginManager(extra_plugins=[tool_safety_plugin]))


async def _invoke(http, tool_name, **kwargs):
    return await http.post("/v1/tool-runtime/invoke", json={"tool_name": tool_name, "kwargs": kwargs})


async def test_arguments_are_checked_before_the_tool_runs(tmp_path):
    async with _stack(tmp_path, tool_groups=[{"toolgroup_id": "g"}]) as http:
        missing = await _invoke(http, "add", a=1)
        assert missing.status_code == 400
        assert missing.json()["error"]["param"] == "kwargs.b"
        extra = await _invoke(http, "add", a=1, b=2, c=3)
        assert extra.status_code == 400
        assert extra.json()["error"]["param"] == "kwargs.c"
        negative = await _invoke(http, "wait", seconds=-1)
        assert negative.status_code == 400
        assert "seconds" in negative.json()["error"]["message"]


async def test_the_flat_parameters_list_is_derived_from_the_schema(tmp_path):
    async with _stack(tmp_path, tool_groups=[{"toolgroup_id": "g"}]) as http:
        add = (await http.get("/v1/tools/add")).json()
        assert add["parameters"] == [
            {"name": "a", "parameter_type": "integer", "description": "an integer", "required": True, "default": None},
            {"name": "b", "parameter_type": "integer", "description": "an integer", "required": True, "default": None},
        ]
        count = (await http.get("/v1/tools/count_calls")).json()
        assert count["parameters"] == [] and count["input_schema"] is None


async def test_a_slow_tool_is_504_within_the_group_timeout(tmp_path):
    groups = [{"toolgroup_id": "g", "limits": {"timeout_seconds": 0.2}}]
    async with _stack(tmp_path, tool_groups=groups) as http:
        started = asyncio.get_running_loop().time()
        response = await _invoke(http, "wait", seconds=5)
        assert response.status_code == 504
        assert "'wait'" in response.json()["error"]["message"] and "0.2 s" in response.json()["error"]["message"]
        assert asyncio.get_running_loop().time() - started < 4
        assert (await _invoke(http, "wait", seconds=0)).status_code == 200


async def test_a_result_over_the_size_cap_is_502(tmp_path):
    async with _stack(tmp_path, tool_groups=[{"toolgroup_id": "g"}], tool_runtime={"max_result_bytes": 1000}) as http:
        assert (await _invoke(http, "blob", size=500)).status_code == 200
        response = await _invoke(http, "blob", size=5000)
        assert response.status_code == 502
        assert "more than the limit of 1000" in response.json()["error"]["message"]


async def test_concurrent_calls_per_group_are_limited(tmp_path):
    groups = [{"toolgroup_id": "g", "limits": {"max_concurrent_invocations": 2}}]
    async with _stack(tmp_path, tool_groups=groups) as http:
        calls = await asyncio.gather(*(_invoke(http, "wait", seconds=0.05) for _ in range(8)))
        assert [c.status_code for c in calls] == [200] * 8
        assert (await _invoke(http, "count_calls")).json()["content"] == "2"


async def test_a_tool_in_two_groups_needs_toolgroup_id(tmp_path):
    groups = [{"toolgroup_id": "first"}, {"toolgroup_id": "second"}]
    async with _stack(tmp_path, tool_groups=groups) as http:
        clash = await _invoke(http, "echo", text="hi")
        assert clash.status_code == 409
        assert "first, second" in clash.json()["error"]["message"]
        body = {"tool_name": "echo", "kwargs": {"text": "hi"}, "toolgroup_id": "second"}
        picked = await http.post("/v1/tool-runtime/invoke", json=body)
        assert picked.status_code == 200
        assert picked.json()["metadata"] == {"group": "second"}


async def test_a_group_the_provider_refuses_is_400_and_not_stored(tmp_path):
    async with _stack(tmp_path) as http:
        refused = await http.post("/v1/toolgroups", json={"toolgroup_id": "bad", "args": {"refuse": True}})
        assert refused.status_code == 400
        assert (await http.get("/v1/toolgroups/bad")).status_code == 404


async def test_the_rag_routes_are_501_without_a_rag_provider(tmp_path):
    async with _stack(tmp_path) as http:
        body = {"content": "q", "vector_db_ids": ["vs"]}
        response = await http.post("/v1/tool-runtime/rag-tool/query", json=body)
        assert response.status_code == 501
        assert "builtin::rag" in response.json()["error"]["message"]


async def test_an_mcp_endpoint_in_bracket_query_style_reaches_the_router(tmp_path):
    """The 0.2 SDK sends ``mcp_endpoint[uri]=...``; with no provider that lists bare endpoints it is a 501."""
    async with _stack(tmp_path) as http:
        response = await http.get("/v1/tool-runtime/list-tools", params={"mcp_endpoint[uri]": "http://127.0.0.1:1/mcp"})
        assert response.status_code == 501, response.text
        assert "MCP endpoint" in response.json()["error"]["message"]


async def test_header_values_in_a_groups_args_are_masked_in_every_answer(tmp_path):
    secret = "Bearer sk-do-not-show-1234"
    group = {"toolgroup_id": "g", "args": {"headers": {"Authorization": secret, "X-Tenant": "t1"}, "depth": 2}}
    async with _stack(tmp_path) as http:
        answers = [await http.post("/v1/toolgroups", json=group)]
        answers += [await http.get("/v1/toolgroups/g"), await http.get("/v1/toolgroups")]
        for answer in answers:
            assert answer.status_code == 200
            assert secret not in answer.text and "t1" not in answer.text
        assert answers[1].json()["args"] == {
            "headers": {"Authorization": "********", "X-Tenant": "********"},
            "depth": 2,
        }
        assert (await _invoke(http, "add", a=1, b=2)).status_code == 200  # the provider still has the real args
