"""Latency of one MCP tool call (``echo``) through the stack against the same call made directly with the ``mcp``
client, side by side, over streamable HTTP and stdio.

Through the stack: ``POST /v1/tool-runtime/invoke`` on a served stack (``stack serve`` subprocess; the provider keeps
its session open). Directly: ``mcp.Client.call_tool`` on one open session to the same kind of server. Sequential calls
after a warm-up; p50/p99 in ms and calls/s. Needs llama-stack-provider-mcp installed (its entry point).

    python plugins/llama-stack-provider-mcp/bench/bench_mcp_tool_call.py [--calls 300] [--protocol auto|legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from llama_stack_core.testing.harness import make_run_config, served_stack, stop_process, wait_for_port

SERVER = Path(__file__).parents[1] / "tests" / "mcp_test_server.py"
STDIO = [sys.executable, str(SERVER), "stdio"]


async def timed(call: Callable[[], Awaitable[object]], calls: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"| {label:<34} | {p50:7.2f} | {p99:7.2f} | {1000 * len(samples) / sum(samples):8.0f} |"


async def direct(server: str | StdioServerParameters, protocol: str, calls: int) -> list[float]:
    transport = streamable_http_client(server) if isinstance(server, str) else server
    async with Client(transport, mode=protocol) as client:
        return await timed(lambda: client.call_tool("echo", {"text": "ping"}), calls)


async def through_stack(base_url: str, group: dict, calls: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        (await http.post("/v1/toolgroups", json={**group, "provider_id": "mcp"})).raise_for_status()
        body = {"tool_name": "echo", "kwargs": {"text": "ping"}, "toolgroup_id": group["toolgroup_id"]}

        async def call() -> None:
            response = await http.post("/v1/tool-runtime/invoke", json=body)
            response.raise_for_status()

        return await timed(call, calls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--protocol", choices=["auto", "legacy"], default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port_file, log_path = directory / "mcp.port", directory / "mcp.log"
        with open(log_path, "wb") as log:
            mcp_server = subprocess.Popen(
                [sys.executable, str(SERVER), "http", "--port-file", str(port_file)], stdout=log, stderr=log
            )
        try:
            uri = f"http://127.0.0.1:{wait_for_port(mcp_server, port_file, log_path)}/mcp"
            entry = {"provider_id": "mcp", "provider_type": "remote::model-context-protocol"}
            config = make_run_config({"tool_runtime": [{**entry, "config": {"protocol": args.protocol}}]}, directory)
            with served_stack(config, directory) as base_url:
                http_group = {"toolgroup_id": "mcp::bench-http", "mcp_endpoint": {"uri": uri}}
                stdio_group = {"toolgroup_id": "mcp::bench-stdio", "args": {"command": STDIO}}
                stdio = StdioServerParameters(command=STDIO[0], args=STDIO[1:])
                results = [
                    ("streamable HTTP, direct mcp client", asyncio.run(direct(uri, args.protocol, args.calls))),
                    (
                        "streamable HTTP, through the stack",
                        asyncio.run(through_stack(base_url, http_group, args.calls)),
                    ),
                    ("stdio, direct mcp client", asyncio.run(direct(stdio, args.protocol, args.calls))),
                    ("stdio, through the stack", asyncio.run(through_stack(base_url, stdio_group, args.calls))),
                ]
        finally:
            stop_process(mcp_server)
    print(f"echo tool, {args.calls} sequential calls each, protocol={args.protocol}")
    print("| path                               | p50 ms  | p99 ms  | calls/s  |")
    print("|------------------------------------|---------|---------|----------|")
    for label, samples in results:
        print(row(label, samples))


if __name__ == "__main__":
    main()
