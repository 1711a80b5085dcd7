"""Client-given locations reach only what the config allows (``server.local_access``, ``server.outbound``): file://
URIs and bare paths inside file_roots (``..`` and symlinks out refused), stdio commands inside command_roots, and
outbound URLs never to metadata services, and only to allowed hosts when those are listed. Through the register API
too: 400, nothing stored."""

from __future__ import annotations

import os
import sys

import pytest
from stack_test_plugin import recorder_providers

from llama_stack_core import access
from llama_stack_core.config.hardening import LocalAccessSettings, OutboundSettings
from llama_stack_core.errors import BadRequestError
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def roots(tmp_path):
    """A data root holding a file, a link to a file outside it, and a directory outside it."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (data / "rows.jsonl").write_text("{}\n")
    (outside / "secret.txt").write_text("no")
    (data / "link.txt").symlink_to(outside / "secret.txt")
    (data / "dirlink").symlink_to(outside)
    access.configure(OutboundSettings(), LocalAccessSettings(file_roots=[str(data)]))
    yield data, outside
    access.configure(OutboundSettings(), LocalAccessSettings())


async def test_file_uris_inside_the_roots_are_allowed(roots):
    data, _ = roots
    await access.check_uri(f"file://{data}/rows.jsonl", "source.uri")
    await access.check_uri(f"{data}/rows.jsonl", "source.uri")  # a bare path, same rule
    assert access.file_uri_path(f"file://{data}/sub/../rows.jsonl", "x") == data / "rows.jsonl"


@pytest.mark.parametrize(
    "where",
    [
        "file:///etc/passwd",
        "file://{data}/../outside/secret.txt",  # traversal
        "file://{data}/link.txt",  # a symlink out
        "file://{data}/dirlink/secret.txt",  # through a linked directory
        "file://{data}/%2E%2E/outside/secret.txt",  # traversal, percent-encoded
        "file://other-host/{data}/rows.jsonl",  # not local
        "/etc/passwd",
        "../../etc/passwd",
    ],
)
async def test_paths_out_of_the_roots_are_refused(roots, where):
    data, _ = roots
    with pytest.raises(BadRequestError) as refused:
        await access.check_uri(where.format(data=data), "source.uri", "source")
    assert refused.value.status_code == 400 and refused.value.param == "source"


async def test_file_uris_are_off_when_no_root_is_configured(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(BadRequestError, match="file_roots"):
        await access.check_uri(f"file://{tmp_path}/f.txt", "source.uri")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://169.254.170.2/v2/credentials",  # ECS task credentials
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
    ],
)
async def test_metadata_endpoints_are_refused_by_default(url):
    with pytest.raises(BadRequestError, match="blocked address range"):
        await access.check_url(url, "mcp_endpoint.uri")


async def test_localhost_stays_reachable_by_default():
    await access.check_url("http://127.0.0.1:8000/mcp", "mcp_endpoint.uri")
    await access.check_url("http://localhost:8000/mcp", "mcp_endpoint.uri")


async def test_an_allow_list_refuses_every_other_host():
    access.configure(OutboundSettings(allowed_hosts=["mcp.example.com", "*.tools.example"]), LocalAccessSettings())
    try:
        await access.check_url("https://mcp.example.com/sse", "x")
        access.url_host("https://a.tools.example/mcp", "x")
        for url in ("http://127.0.0.1:8000/mcp", "https://example.com/", "https://mcp.example.com.evil.io/"):
            with pytest.raises(BadRequestError, match="allowed_hosts"):
                await access.check_url(url, "x")
    finally:
        access.configure(OutboundSettings(), LocalAccessSettings())


async def test_stdio_commands_outside_the_command_roots_are_refused(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    script = tools / "server.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tools / "sh-link").symlink_to("/bin/sh")
    assert access.command_path("sh", None, "args.command")  # no roots: anything on PATH
    access.configure(OutboundSettings(), LocalAccessSettings(command_roots=[str(tools)]))
    try:
        assert access.command_path(str(script), None, "args.command") == script
        assert access.command_path("server.sh", str(tools), "args.command") == script
        for program in ("sh", sys.executable, str(tools / "sh-link")):  # the link resolves to /bin/sh: out
            with pytest.raises(BadRequestError, match="command_roots"):
                access.command_path(program, None, "args.command")
        with pytest.raises(BadRequestError, match="outside"):
            access.working_directory(str(tmp_path), "args.cwd")
        access.working_directory(str(tools), "args.cwd")
    finally:
        access.configure(OutboundSettings(), LocalAccessSettings())


# -- through the register API --------------------------------------------------------------------------------------


def _dataset(uri: str) -> dict:
    return {"dataset_id": "d", "purpose": "eval/question-answer", "source": {"type": "uri", "uri": uri}}


async def test_registering_a_dataset_or_tool_group_out_of_bounds_is_400(tmp_path, pm):
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.jsonl").write_text("{}\n")
    os.symlink("/etc/passwd", data / "passwd")
    server = {"local_access": {"file_roots": [str(data)]}}
    async with stack_client(make_run_config(recorder_providers(), tmp_path, server=server), pm) as client:
        refused = [
            await client.post("/v1/datasets", json=_dataset(uri))
            for uri in (f"file://{data}/../x", f"file://{data}/passwd", "http://169.254.169.254/latest/")
        ]
        group = {"toolgroup_id": "mcp::meta", "mcp_endpoint": {"uri": "http://169.254.169.254/mcp"}}
        refused.append(await client.post("/v1/toolgroups", json=group))
        allowed = await client.post("/v1/datasets", json=_dataset(f"file://{data}/ok.jsonl"))
        listed = (await client.get("/v1/datasets")).json()["data"]
    for response in refused:
        assert response.status_code == 400, response.text
        assert "Traceback" not in response.text
    assert allowed.status_code == 200, allowed.text
    assert [d["identifier"] for d in listed] == ["d"]


def test_the_defaults_block_only_metadata_ranges():
    settings = OutboundSettings()
    assert settings.allowed_hosts is None
    assert "169.254.0.0/16" in settings.blocked_networks and "fd00:ec2::254/128" in settings.blocked_networks
    assert LocalAccessSettings().file_roots == [] and LocalAccessSettings().command_roots is None
