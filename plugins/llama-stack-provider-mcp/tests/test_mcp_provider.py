"""remote::model-context-protocol against real MCP servers (tests/mcp_test_server.py, written with the ``mcp`` SDK's
server side), over streamable HTTP (a subprocess on its own port) and stdio (a subprocess per group)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_mcp import plugin
from llama_stack_provider_mcp.config import PROVIDER_TYPE, MCPConfig
from llama_stack_provider_mcp.provider import MCPToolRuntime

from llama_stack_core.apis.resources import URL, ToolGroup
from llama_stack_core.apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest
from llama_stack_core.errors import BadRequestError, UpstreamError, UpstreamTimeoutError
from llama_stack_core.request_context import PROVIDER_DATA
from llama_stack_core.testing.harness import free_port, make_run_config, plugin_stack, stop_process, wait_for_port
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.tool_runtime import ToolRuntimeProviderTests
from llama_stack_core.testing.waiting import eventually_sync

pytestmark = pytest.mark.anyio

SERVER = Path(__file__).with_name("mcp_test_server.py")
STDIO_COMMAND = [sys.executable, str(SERVER), "stdio"]
SECRET = "Bearer sk-mcp-test-4f9a1c"
REQUEST_SECRET = "Bearer per-request-7d2e"
EXPECTED_TOOLS = {"echo", "add", "image", "resource", "fail", "protocol_error", "sleep", "whoami", "pid"}


class HttpMCPServer:
    """The test server over streamable HTTP in a subprocess; ``restart`` brings it back on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.header_log = directory / "headers.jsonl"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port_file = self.directory / f"mcp-{time.monotonic_ns()}.port"
        log_path = port_file.with_suffix(".log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER), "http", "--port", str(self.port), "--port-file", str(port_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MCP_TEST_HEADER_LOG": str(self.header_log)},
            )
        self.port = wait_for_port(self.process, port_file, log_path)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def seen_headers(self) -> list[dict[str, Any]]:
        return (
            [json.loads(line) for line in self.header_log.read_text().splitlines()] if self.header_log.exists() else []
        )


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpMCPServer]:
    server = HttpMCPServer(tmp_path_factory.mktemp("mcp-http"))
    server.start()
    yield server
    server.stop()


def http_group(uri: str, name: str = "mcp::test", **args: Any) -> ToolGroup:
    return ToolGroup(
        identifier=name, provider_id="mcp", provider_resource_id=name, mcp_endpoint=URL(uri=uri), args=args or None
    )


def stdio_group(name: str = "mcp::stdio", command: list[str] = STDIO_COMMAND, **args: Any) -> ToolGroup:
    return ToolGroup(identifier=name, provider_id="mcp", provider_resource_id=name, args={"command": command, **args})


@pytest.fixture(params=["http", "stdio"])
async def runtime(request: pytest.FixtureRequest, http_server: HttpMCPServer) -> Any:
    """A provider with one group, ``mcp::test``, on the transport of the parameter."""
    provider = MCPToolRuntime(MCPConfig(request_timeout_seconds=5))
    group = http_group(http_server.uri) if request.param == "http" else stdio_group("mcp::test")
    await provider.register_tool_group(group)
    yield provider
    await provider.shutdown()


def content_of(result: Any) -> list[dict[str, Any]]:
    return result.model_dump()["content"]


async def invoke(provider: MCPToolRuntime, tool: str, group: str = "mcp::test", **kwargs: Any) -> Any:
    return await provider.invoke_tool(InvokeToolRequest(tool_name=tool, kwargs=kwargs, toolgroup_id=group))


# -- listing and invoking --------------------------------------------------------------------------------------


async def test_tools_are_listed_with_their_whole_input_schema(runtime: MCPToolRuntime) -> None:
    tools = {
        tool.name: tool
        for tool in (await runtime.list_runtime_tools(ListRuntimeToolsRequest(tool_group_id="mcp::test"))).data
    }
    assert set(tools) >= EXPECTED_TOOLS
    add = tools["add"]
    assert add.description == "Add two integers."
    assert add.input_schema["properties"] == {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    }
    assert add.input_schema["required"] == ["a", "b"]
    assert add.parameters is None  # the core derives the flattened list, not the provider
    assert add.output_schema["properties"]["result"]["type"] == "integer"


async def test_text_results(runtime: MCPToolRuntime) -> None:
    echoed = await invoke(runtime, "echo", text="héllo")
    assert content_of(echoed) == [{"type": "text", "text": "héllo"}] and echoed.error_message is None
    added = await invoke(runtime, "add", a=2, b=40)
    assert content_of(added) == [{"type": "text", "text": "42"}]
    assert added.metadata == {"structured_content": {"result": 42}}


async def test_an_image_result_is_an_image_item_with_base64_data(runtime: MCPToolRuntime) -> None:
    result = await invoke(runtime, "image")
    [item] = content_of(result)
    assert item["type"] == "image" and item["mime_type"] == "image/png"
    assert item["image"]["data"].startswith("iVBORw0KGgo")  # base64 of the PNG signature


async def test_resources_are_text_items_and_metadata(runtime: MCPToolRuntime) -> None:
    result = await invoke(runtime, "resource")
    texts = [item["text"] for item in content_of(result)]
    assert texts[0] == "see the attached notes"
    assert texts[1] == "[resource memo://notes/1 (text/markdown)]\n# Notes"
    assert texts[2] == "[resource link report: file:///srv/report.pdf (application/pdf)]"
    assert result.metadata["resources"] == [
        {"type": "resource", "uri": "memo://notes/1", "mime_type": "text/markdown", "text": "# Notes"},
        {"type": "resource_link", "uri": "file:///srv/report.pdf", "name": "report", "mime_type": "application/pdf"},
    ]


async def test_a_tool_error_is_a_result_with_error_message(runtime: MCPToolRuntime) -> None:
    result = await invoke(runtime, "fail", message="disk is full")
    assert result.error_message == "Error executing tool fail: disk is full"  # the server's wording
    assert content_of(result) == [{"type": "text", "text": result.error_message}]


async def test_a_json_rpc_error_is_a_502_naming_the_group(runtime: MCPToolRuntime) -> None:
    with pytest.raises(UpstreamError, match=r"tool group 'mcp::test'.*backend database unavailable") as caught:
        await invoke(runtime, "protocol_error")
    assert caught.value.status_code == 502


async def test_a_hanging_tool_is_a_504_and_the_session_stays_usable(http_server: HttpMCPServer) -> None:
    provider = MCPToolRuntime(MCPConfig(request_timeout_seconds=0.5))
    await provider.register_tool_group(http_group(http_server.uri))
    try:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError, match="mcp::test"):
            await invoke(provider, "sleep", seconds=30)
        assert time.monotonic() - started < 5
        assert content_of(await invoke(provider, "echo", text="after")) == [{"type": "text", "text": "after"}]
    finally:
        await provider.shutdown()


async def test_calls_share_one_open_session(runtime: MCPToolRuntime) -> None:
    pool = runtime._pools["mcp::test"]
    await invoke(runtime, "echo", text="one")
    [session] = pool._sessions.values()
    await invoke(runtime, "echo", text="two")
    assert list(pool._sessions.values()) == [session] and session.alive


# -- stdio: one process per group ------------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie child of this process counts as gone
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


async def test_a_stdio_server_is_one_process_stopped_on_unregister() -> None:
    provider = MCPToolRuntime(MCPConfig())
    group = stdio_group()
    await provider.register_tool_group(group)
    first = int(content_of(await invoke(provider, "pid", "mcp::stdio"))[0]["text"])
    assert int(content_of(await invoke(provider, "pid", "mcp::stdio"))[0]["text"]) == first
    await provider.unregister_tool_group(group)
    eventually_sync(lambda: _gone(first), timeout=10, what="the stdio server to exit")
    await provider.shutdown()


async def test_a_stdio_server_that_exits_is_a_502_then_restarted() -> None:
    provider = MCPToolRuntime(MCPConfig())
    await provider.register_tool_group(stdio_group())
    try:
        with pytest.raises(UpstreamError, match="mcp::stdio") as caught:
            await invoke(provider, "exit_process", "mcp::stdio")
        assert caught.value.status_code == 502
        assert content_of(await invoke(provider, "echo", "mcp::stdio", text="back")) == [
            {"type": "text", "text": "back"}
        ]
    finally:
        await provider.shutdown()


async def test_stdio_env_and_cwd_reach_the_server(tmp_path: Path) -> None:
    provider = MCPToolRuntime(MCPConfig())
    header_log = tmp_path / "seen.jsonl"
    await provider.register_tool_group(stdio_group(env={"MCP_TEST_HEADER_LOG": str(header_log)}, cwd=str(tmp_path)))
    try:
        await invoke(provider, "whoami", "mcp::stdio")
        assert json.loads(header_log.read_text()) == {"authorization": None, "x-tenant": None}
    finally:
        await provider.shutdown()


# -- HTTP: headers, down, restarted ------------------------------------------------------------------------------


async def test_group_and_request_headers_reach_the_server_and_never_the_logs(
    http_server: HttpMCPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = MCPToolRuntime(MCPConfig())
    await provider.register_tool_group(
        http_group(http_server.uri, headers={"Authorization": SECRET, "X-Tenant": "acme"})
    )
    try:
        before = len(http_server.seen_headers())
        await invoke(provider, "whoami")
        token = PROVIDER_DATA.set({"mcp_headers": {http_server.uri: {"Authorization": REQUEST_SECRET}}})
        try:
            await invoke(provider, "whoami")
        finally:
            PROVIDER_DATA.reset(token)
        await invoke(provider, "whoami")
        seen = http_server.seen_headers()[before:]
        assert seen == [
            {"authorization": SECRET, "x-tenant": "acme"},
            {"authorization": REQUEST_SECRET, "x-tenant": "acme"},
            {"authorization": SECRET, "x-tenant": "acme"},
        ]
        assert len(provider._pools["mcp::test"]._sessions) == 2  # one session per header set
    finally:
        await provider.shutdown()
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert "sk-mcp-test" not in logged and "per-request-7d2e" not in logged


async def test_a_server_that_is_down_is_a_502_naming_the_group() -> None:
    provider = MCPToolRuntime(MCPConfig(connect_timeout_seconds=5))
    await provider.register_tool_group(http_group(f"http://127.0.0.1:{free_port()}/mcp", "mcp::down"))
    try:
        started = time.monotonic()
        with pytest.raises(UpstreamError, match=r"tool group 'mcp::down'.*connection refused") as caught:
            await invoke(provider, "echo", "mcp::down", text="x")
        assert caught.value.status_code == 502 and time.monotonic() - started < 5
    finally:
        await provider.shutdown()


async def test_a_server_that_never_answers_the_handshake_is_a_504(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        provider = MCPToolRuntime(MCPConfig(connect_timeout_seconds=0.5))
        await provider.register_tool_group(http_group(f"http://127.0.0.1:{silent.getsockname()[1]}/mcp", "mcp::mute"))
        try:
            with pytest.raises(UpstreamTimeoutError, match=r"mcp::mute.*handshake"):
                await invoke(provider, "echo", "mcp::mute", text="x")
        finally:
            await provider.shutdown()


async def test_a_restarted_server_is_reconnected_once(tmp_path: Path) -> None:
    server = HttpMCPServer(tmp_path)
    server.start()
    provider = MCPToolRuntime(MCPConfig())
    await provider.register_tool_group(http_group(server.uri))
    try:
        assert content_of(await invoke(provider, "echo", text="before"))[0]["text"] == "before"
        server.stop()
        server.start()  # same port, new process: the old session is gone
        assert content_of(await invoke(provider, "echo", text="after"))[0]["text"] == "after"
    finally:
        await provider.shutdown()
        server.stop()


async def test_an_ad_hoc_endpoint_is_listed_without_a_group(http_server: HttpMCPServer) -> None:
    provider = MCPToolRuntime(MCPConfig())
    listed = await provider.list_runtime_tools(ListRuntimeToolsRequest(mcp_endpoint=URL(uri=http_server.uri)))
    assert {tool.name for tool in listed.data} >= EXPECTED_TOOLS


# -- validation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (http_group("ftp://example.com/mcp"), "http:// or https://"),
        (http_group("not a url"), "http:// or https://"),
        (stdio_group(command=["no-such-mcp-server-binary"]), "not an executable on PATH"),
        (stdio_group(command=[]), "args.command"),
        (stdio_group(cwd="/no/such/dir"), "not a directory"),
        (http_group("http://localhost/mcp", headers={"A": "b"}, command=["x"]), "not both"),
        (http_group("http://localhost/mcp", header={"A": "b"}), "args.header: unknown key"),
        (ToolGroup(identifier="mcp::none", provider_id="mcp"), "needs mcp_endpoint"),
        (http_group("http://localhost/mcp", name="files"), "'mcp::<name>'"),
    ],
)
async def test_a_bad_group_is_refused_with_one_line(group: ToolGroup, message: str) -> None:
    with pytest.raises(BadRequestError, match=message) as caught:
        await MCPToolRuntime(MCPConfig()).register_tool_group(group)
    assert "\n" not in caught.value.message


async def test_malformed_provider_data_headers_are_a_400(http_server: HttpMCPServer) -> None:
    provider = MCPToolRuntime(MCPConfig())
    await provider.register_tool_group(http_group(http_server.uri))
    token = PROVIDER_DATA.set({"mcp_headers": {http_server.uri: "Bearer x"}})
    try:
        with pytest.raises(BadRequestError, match="mcp_headers"):
            await invoke(provider, "echo", text="x")
    finally:
        PROVIDER_DATA.reset(token)
        await provider.shutdown()


def test_importing_the_plugin_is_cheap() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_mcp.plugin", {"mcp", "httpx2"}, call=["register_tool_runtime_providers"]
    )


# -- through the stack: the conformance kit over both transports -------------------------------------------------


class _MCPKit(ToolRuntimeProviderTests):
    provider_type = PROVIDER_TYPE
    extra_plugins = [plugin]
    expected_tools = EXPECTED_TOOLS
    invocation = ("add", {"a": 2, "b": 3})
    invalid_invocation = ("add", {"a": "two", "b": 3}, "a")

    def check_result(self, result: dict[str, Any]) -> None:
        assert result["content"] == [{"type": "text", "text": "5"}]
        assert result["error_message"] is None


class TestMCPOverHttp(_MCPKit):
    @pytest.fixture(scope="class")
    @classmethod
    def toolgroup_body(cls, http_server: HttpMCPServer) -> dict[str, Any]:
        return {"toolgroup_id": "mcp::kit-http", "mcp_endpoint": {"uri": http_server.uri}}


class TestMCPOverStdio(_MCPKit):
    toolgroup = {"toolgroup_id": "mcp::kit-stdio", "args": {"command": STDIO_COMMAND}}


# -- through the stack: registration, errors, headers, the llama-stack-client SDK ------------------------------


def stack_config(directory: Path, **extra: Any) -> dict[str, Any]:
    entry = {"provider_id": "mcp", "provider_type": PROVIDER_TYPE, "config": {"connect_timeout_seconds": 5}}
    return make_run_config({"tool_runtime": [entry]}, directory, **extra)


def register_body(group_id: str, uri: str, **args: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"toolgroup_id": group_id, "provider_id": "mcp", "mcp_endpoint": {"uri": uri}}
    return {**body, "args": args} if args else body


async def test_bad_groups_are_400_on_register(tmp_path: Path) -> None:
    async with plugin_stack(plugin, stack_config(tmp_path)) as client:
        bad = await client.post("/v1/toolgroups", json=register_body("mcp::bad", "localhost:8000"))
        assert bad.status_code == 400 and "http://" in bad.json()["error"]["message"]
        missing = {"toolgroup_id": "mcp::gone", "provider_id": "mcp", "args": {"command": ["no-such-mcp-binary"]}}
        answer = await client.post("/v1/toolgroups", json=missing)
        assert answer.status_code == 400 and "no-such-mcp-binary" in answer.json()["error"]["message"]
        assert (await client.get("/v1/toolgroups/mcp::gone")).status_code == 404


async def test_down_hanging_and_failing_servers_answer_json_errors(tmp_path: Path, http_server: HttpMCPServer) -> None:
    config = stack_config(tmp_path, tool_runtime={"invocation_timeout_seconds": 1})
    async with plugin_stack(plugin, config) as client:
        await client.post("/v1/toolgroups", json=register_body("mcp::up", http_server.uri))
        await client.post("/v1/toolgroups", json=register_body("mcp::down", f"http://127.0.0.1:{free_port()}/mcp"))
        down = await client.get("/v1/tools", params={"toolgroup_id": "mcp::down"})
        assert down.status_code == 502 and "mcp::down" in down.json()["error"]["message"], down.text
        echo_on_down = {"tool_name": "echo", "kwargs": {"text": "x"}, "toolgroup_id": "mcp::down"}
        invoked = await client.post("/v1/tool-runtime/invoke", json=echo_on_down)
        assert invoked.status_code == 502 and "mcp::down" in invoked.json()["error"]["message"], invoked.text
        slow = {"tool_name": "sleep", "kwargs": {"seconds": 30}, "toolgroup_id": "mcp::up"}
        started = time.monotonic()
        hung = await client.post("/v1/tool-runtime/invoke", json=slow)
        assert hung.status_code == 504 and time.monotonic() - started < 10, hung.text
        failing = await client.post("/v1/tool-runtime/invoke", json={"tool_name": "protocol_error"})
        assert failing.status_code == 502 and "backend database unavailable" in failing.text
        tool_error = await client.post(
            "/v1/tool-runtime/invoke", json={"tool_name": "fail", "kwargs": {"message": "no"}}
        )
        assert tool_error.status_code == 200 and "no" in tool_error.json()["error_message"]


async def test_provider_data_headers_reach_the_server_through_the_stack(
    tmp_path: Path, http_server: HttpMCPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with plugin_stack(plugin, stack_config(tmp_path)) as client:
        body = register_body("mcp::auth", http_server.uri, headers={"X-Tenant": "acme"})
        assert (await client.post("/v1/toolgroups", json=body)).status_code == 200
        before = len(http_server.seen_headers())
        data = json.dumps({"mcp_headers": {http_server.uri: {"Authorization": REQUEST_SECRET}}})
        answer = await client.post(
            "/v1/tool-runtime/invoke",
            json={"tool_name": "whoami", "toolgroup_id": "mcp::auth"},
            headers={"X-LlamaStack-Provider-Data": data},
        )
        assert answer.status_code == 200, answer.text
        assert http_server.seen_headers()[before:] == [{"authorization": REQUEST_SECRET, "x-tenant": "acme"}]
        assert "per-request-7d2e" not in (await client.get("/v1/providers")).text
    assert "per-request-7d2e" not in caplog.text


async def test_llama_stack_client_sdk(tmp_path: Path, http_server: HttpMCPServer) -> None:
    from llama_stack_client import AsyncLlamaStackClient

    async with plugin_stack(plugin, stack_config(tmp_path)) as http:
        sdk = AsyncLlamaStackClient(base_url="http://stack", http_client=http)
        await sdk.toolgroups.register(toolgroup_id="mcp::sdk", provider_id="mcp", mcp_endpoint={"uri": http_server.uri})
        assert "mcp::sdk" in [group.identifier for group in await sdk.toolgroups.list()]
        tools = await sdk.tool_runtime.list_tools(tool_group_id="mcp::sdk")
        add = next(tool for tool in tools if tool.name == "add")
        assert {p.name for p in add.parameters} == {"a", "b"}  # the 0.2 shape, derived by the core
        ad_hoc = await sdk.tool_runtime.list_tools(mcp_endpoint={"uri": http_server.uri})
        assert {tool.name for tool in ad_hoc} >= EXPECTED_TOOLS
        result = await sdk.tool_runtime.invoke_tool(tool_name="echo", kwargs={"text": "from the sdk"})
        assert result.content == "from the sdk" or result.content[0].text == "from the sdk"
        assert result.error_message is None


async def test_a_tool_of_a_bare_endpoint_is_invoked_through_the_stack(
    tmp_path: Path, http_server: HttpMCPServer
) -> None:
    """What an agent's ``mcp`` tool does: no tool group, the endpoint and its headers with the call."""
    async with plugin_stack(plugin, stack_config(tmp_path)) as client:
        before = len(http_server.seen_headers())
        data = json.dumps({"mcp_headers": {http_server.uri: {"Authorization": REQUEST_SECRET}}})
        body = {"tool_name": "add", "kwargs": {"a": 2, "b": 3}, "mcp_endpoint": {"uri": http_server.uri}}
        answer = await client.post("/v1/tool-runtime/invoke", json=body, headers={"X-LlamaStack-Provider-Data": data})
        assert answer.status_code == 200, answer.text
        assert "5" in json.dumps(answer.json()["content"])
        whoami = {"tool_name": "whoami", "mcp_endpoint": {"uri": http_server.uri}}
        answer = await client.post("/v1/tool-runtime/invoke", json=whoami, headers={"X-LlamaStack-Provider-Data": data})
        assert answer.status_code == 200, answer.text
        assert http_server.seen_headers()[before:] == [{"authorization": REQUEST_SECRET, "x-tenant": None}]
        down = {**body, "mcp_endpoint": {"uri": f"http://127.0.0.1:{free_port()}/mcp"}}
        refused = await client.post("/v1/tool-runtime/invoke", json=down)
        assert refused.status_code == 502, refused.text
