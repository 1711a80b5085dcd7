"""Tool runtime conformance tests every tool_runtime provider runs: a tool group registered, its tools listed on every
route clients use, one tool invoked for real, arguments checked against the tool's schema, the group removed.

Subclass :class:`ToolRuntimeProviderTests`, name a group and one call that works::

    class TestAcmeTools(ToolRuntimeProviderTests):
        provider_type = "remote::acme-tools"
        provider_config = {"base_url": "http://127.0.0.1:9999"}
        toolgroup = {"toolgroup_id": "acme::tools"}
        expected_tools = {"lookup"}
        invocation = ("lookup", {"query": "llamas"})
        invalid_invocation = ("lookup", {"query": 42}, "query")

        def check_result(self, result):
            assert "llama" in str(result["content"])

Override the class-scoped fixtures ``config_under_test`` or ``toolgroup_body`` when they need other fixtures (a test
server's URL).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from .kit import PROVIDER_ID, StackKit


class ToolRuntimeProviderTests(StackKit):
    api = "tool_runtime"
    #: The register body of one tool group on the provider under test (``provider_id`` is filled in).
    toolgroup: ClassVar[dict[str, Any]]
    #: Names of tools the group must list.
    expected_tools: ClassVar[set[str]]
    #: A call that works: ``(tool name, kwargs)``; :meth:`check_result` looks at its answer.
    invocation: ClassVar[tuple[str, dict[str, Any]]]
    #: A call whose kwargs break the tool's input schema, and the argument the 400 must name.
    invalid_invocation: ClassVar[tuple[str, dict[str, Any], str]]

    def check_result(self, result: dict[str, Any]) -> None:
        """Assert what ``invocation`` should answer (``result`` is the JSON body); override it."""
        assert result.get("content"), result

    @pytest.fixture(scope="class")
    @classmethod
    def toolgroup_body(cls) -> dict[str, Any]:
        return dict(cls.toolgroup)

    @pytest.fixture(scope="class")
    @classmethod
    async def group_id(cls, http: Any, toolgroup_body: dict[str, Any]) -> str:
        """The tool group, registered through the API (replacing a plugin default of the same id)."""
        group_id = toolgroup_body["toolgroup_id"]
        if (await http.get(f"/v1/toolgroups/{group_id}")).status_code == 200:
            await http.delete(f"/v1/toolgroups/{group_id}")
        response = await http.post("/v1/toolgroups", json={**toolgroup_body, "provider_id": PROVIDER_ID})
        assert response.status_code == 200, response.text
        return group_id

    async def invoke(self, http: Any, tool_name: str, kwargs: dict[str, Any], **extra: Any) -> Any:
        return await http.post("/v1/tool-runtime/invoke", json={"tool_name": tool_name, "kwargs": kwargs, **extra})

    # -- listing -------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_group_is_listed_and_fetched(self, http: Any, group_id: str) -> None:
        listed = (await http.get("/v1/toolgroups")).json()["data"]
        assert group_id in [g["identifier"] for g in listed]
        group = (await http.get(f"/v1/toolgroups/{group_id}")).json()
        assert group["provider_id"] == PROVIDER_ID
        assert group["type"] == "tool_group"

    @pytest.mark.anyio
    async def test_tools_are_listed_with_their_schema(self, http: Any, group_id: str) -> None:
        response = await http.get("/v1/tools", params={"toolgroup_id": group_id})
        assert response.status_code == 200, response.text
        tools = {t["identifier"]: t for t in response.json()["data"]}
        assert self.expected_tools <= set(tools)
        for tool in tools.values():
            assert tool["toolgroup_id"] == group_id
            assert tool["provider_id"] == PROVIDER_ID
            assert tool["type"] == "tool"
            schema = tool["input_schema"]
            assert schema is None or schema.get("type") == "object"
            assert {p["name"] for p in tool["parameters"]} == set((schema or {}).get("properties") or {})

    @pytest.mark.anyio
    async def test_every_listing_route_agrees(self, http: Any, group_id: str) -> None:
        runtime = await http.get("/v1/tool-runtime/list-tools", params={"tool_group_id": group_id})
        assert runtime.status_code == 200, runtime.text
        names = {t["name"] for t in runtime.json()["data"]}
        assert self.expected_tools <= names
        everything = {t["identifier"] for t in (await http.get("/v1/tools")).json()["data"]}
        assert names <= everything
        tool_name = self.invocation[0]
        one = await http.get(f"/v1/tools/{tool_name}")
        assert one.status_code == 200, one.text
        assert one.json()["toolgroup_id"] == group_id

    # -- invocation ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_invoke(self, http: Any, group_id: str) -> None:
        tool_name, kwargs = self.invocation
        response = await self.invoke(http, tool_name, kwargs)
        assert response.status_code == 200, response.text
        result = response.json()
        assert not result.get("error_message"), result
        self.check_result(result)

    @pytest.mark.anyio
    async def test_invoke_in_a_named_group(self, http: Any, group_id: str) -> None:
        tool_name, kwargs = self.invocation
        response = await self.invoke(http, tool_name, kwargs, toolgroup_id=group_id)
        assert response.status_code == 200, response.text
        self.check_result(response.json())

    @pytest.mark.anyio
    async def test_arguments_that_break_the_schema_are_400(self, http: Any, group_id: str) -> None:
        tool_name, kwargs, argument = self.invalid_invocation
        response = await self.invoke(http, tool_name, kwargs)
        assert response.status_code == 400, response.text
        assert argument in response.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_unknown_tool_and_group_are_404(self, http: Any, group_id: str) -> None:
        assert (await self.invoke(http, "no_such_tool_anywhere", {})).status_code == 404
        assert (await http.get("/v1/tools/no_such_tool_anywhere")).status_code == 404
        assert (await http.get("/v1/tools", params={"toolgroup_id": "no::such-group"})).status_code == 404
        missing = await http.post("/v1/tool-runtime/invoke", json={"kwargs": {}})
        assert missing.status_code == 422
        assert "tool_name" in missing.text

    # -- removal (last: it unregisters the group) ----------------------------------------------------------------

    @pytest.mark.anyio
    async def test_zz_unregistered_group_has_no_tools(self, http: Any, group_id: str) -> None:
        assert (await http.delete(f"/v1/toolgroups/{group_id}")).status_code in (200, 204)
        tool_name, kwargs = self.invocation
        listed = {t["toolgroup_id"] for t in (await http.get("/v1/tools")).json()["data"]}
        assert group_id not in listed
        assert (await self.invoke(http, tool_name, kwargs, toolgroup_id=group_id)).status_code == 404
