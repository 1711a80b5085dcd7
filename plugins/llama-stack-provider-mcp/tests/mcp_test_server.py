"""A small MCP server written with the ``mcp`` SDK's server side, for the tests and the bench.

    python mcp_test_server.py stdio
    python mcp_test_server.py http --port-file PATH [--port N]

Over HTTP it serves streamable HTTP at ``/mcp`` on 127.0.0.1, binding the port itself (0: any free port) and writing
it to ``--port-file`` once listening. ``whoami`` appends the ``authorization`` and ``x-tenant`` headers it received
to the file named by ``MCP_TEST_HEADER_LOG`` (one JSON object a line), so a test can check them on the server side.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import sys
from pathlib import Path

from mcp import MCPError
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import EmbeddedResource, ResourceLink, TextContent, TextResourceContents

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

server = MCPServer("llama-stack-test", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def image() -> Image:
    """A 1x1 PNG image."""
    return Image(data=PNG, format="png")


@server.tool()
def resource() -> list[TextContent | EmbeddedResource | ResourceLink]:
    """A text item, an embedded text resource and a resource link."""
    return [
        TextContent(text="see the attached notes"),
        EmbeddedResource(
            resource=TextResourceContents(uri="memo://notes/1", mime_type="text/markdown", text="# Notes")
        ),
        ResourceLink(uri="file:///srv/report.pdf", name="report", mime_type="application/pdf"),
    ]


@server.tool()
def fail(message: str) -> str:
    """Raise an error with this message (reported as an ``isError`` result)."""
    raise ToolError(message)


@server.tool()
def protocol_error() -> str:
    """Answer with a JSON-RPC error instead of a result."""
    raise MCPError(code=-32050, message="backend database unavailable")


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def whoami(ctx: Context) -> str:
    """Record the auth headers of this request on the server side."""
    headers = ctx.headers or {}
    record = {name: headers.get(name) for name in ("authorization", "x-tenant")}
    if path := os.environ.get("MCP_TEST_HEADER_LOG"):
        with open(path, "a") as log:
            log.write(json.dumps(record) + "\n")
    return "recorded"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def exit_process() -> str:
    """Exit the server process at once (a crashed server)."""
    os._exit(3)


def serve_http(port: int, port_file: Path) -> None:
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    partial = port_file.with_suffix(".partial")
    partial.write_text(str(sock.getsockname()[1]))
    partial.rename(port_file)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args(argv)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        serve_http(args.port, args.port_file)


if __name__ == "__main__":
    main(sys.argv[1:])
