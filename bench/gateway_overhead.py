"""Gateway overhead: the same workload sent straight to a zero-latency upstream and through ``stack serve``.

The stack is pinned to core 1, the load generator and the upstream to core 0 (``taskset``), so the stack has one
core to itself and figures compare across runs. Prints one table; nothing is asserted.

    .venv/bin/python bench/gateway_overhead.py [--seconds 5] [--provider-type remote::openai]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHAT = {
    "model": "bench-llm",
    "messages": [{"role": "user", "content": "Say something about foxes."}],
    "max_tokens": 32,
    "temperature": 0.2,
}
EMBED = {"model": "bench-embed", "input": "a sentence to embed"}


# -- load generator (runs in its own pinned process) ----------------------------------------------------------------


async def _load(
    base: str, path: str, body: dict, concurrency: int, seconds: float, stream: bool, headers: dict | None = None
) -> dict:
    import aiohttp

    payload = json.dumps(body).encode()
    latencies: list[float] = []
    first_chunks: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    session_headers = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession(connector=connector, headers=session_headers) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    async with session.post(base + path, data=payload) as response:
                        if stream:
                            first = None
                            async for _ in response.content.iter_any():
                                if first is None:
                                    first = time.perf_counter() - start
                            first_chunks.append(first or 0.0)
                        else:
                            await response.read()
                        if response.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": _pct(latencies, 50),
        "p99": _pct(latencies, 99),
        "ttfc_p50": _pct(first_chunks, 50) if stream else None,
    }


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def run_load(
    base: str,
    path: str,
    body: dict,
    concurrency: int,
    seconds: float,
    stream: bool = False,
    headers: dict | None = None,
) -> dict:
    """Run one load phase in a process pinned to core 0 (``headers``: sent with every request)."""
    spec = json.dumps(
        {
            "base": base,
            "path": path,
            "body": body,
            "concurrency": concurrency,
            "seconds": seconds,
            "stream": stream,
            "headers": headers,
        }
    )
    out = subprocess.run(
        ["taskset", "-c", "0", PYTHON, __file__, "--load-spec", spec], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


# -- processes ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ok(url: str, timeout: float = 60) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_stack(config_path: Path, port: int, env: dict) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            str(ROOT / ".venv/bin/stack"),
            "serve",
            str(config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_ok(f"http://127.0.0.1:{port}/v1/health")
    return process, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A Markdown table, columns padded to their widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")


# -- the benchmark -------------------------------------------------------------------------------------------------


def use_default_sampling() -> None:
    """The benchmarks measure the stacks' default trace sampling, which a caller's OTEL_TRACES_SAMPLER would replace
    (in this process and in the stacks it starts)."""
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        os.environ.pop(name, None)


def main() -> None:
    use_default_sampling()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--provider-type", default="remote::openai")
    parser.add_argument("--provider-config", default='{"api_key": "bench-key"}', help="JSON, base_url is added")
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="Also configure the inline::trace-store telemetry provider (tracing on).",
    )
    parser.add_argument("--load-spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_spec:
        spec = json.loads(args.load_spec)
        print(json.dumps(asyncio.run(_load(**spec))))
        return

    upstream_port, stack_port = free_port(), free_port()
    upstream = subprocess.Popen(["taskset", "-c", "0", PYTHON, str(ROOT / "bench/upstream.py"), str(upstream_port)])
    direct = f"http://127.0.0.1:{upstream_port}/v1"
    wait_ok(f"{direct}/models")
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    provider_config = {**json.loads(args.provider_config), "base_url": direct}
    config = {
        "version": 2,
        "distro_name": "bench",
        "providers": {
            "inference": [{"provider_id": "up", "provider_type": args.provider_type, "config": provider_config}]
        },
        "storage": {
            "backends": {"kv": {"type": "kv_sqlite", "db_path": str(workdir / "registry.db")}},
            "stores": {"metadata": {"backend": "kv", "namespace": "registry"}},
        },
        "models": [
            {"model_id": "bench-llm", "provider_id": "up"},
            {
                "model_id": "bench-embed",
                "provider_id": "up",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 384},
            },
        ],
    }
    if args.telemetry:
        config["providers"]["telemetry"] = [
            {
                "provider_id": "traces",
                "provider_type": "inline::trace-store",
                "config": {"persistence": {"backend": "default", "namespace": "telemetry"}},
            }
        ]
    config_path = workdir / "run.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**os.environ}
    rows: list[tuple[str, ...]] = []
    try:
        cold = []
        for _ in range(3):
            process, seconds = start_stack(config_path, stack_port, env)
            cold.append(seconds)
            stop(process)
        stack, _ = start_stack(config_path, stack_port, env)
        via = f"http://127.0.0.1:{stack_port}/v1"
        run_load(via, "/chat/completions", CHAT, 8, 1.0)  # warm-up
        idle_rss = rss_mib(stack.pid)
        peak_rss = idle_rss

        def compare(label: str, path: str, body: dict, concurrency: int, stream: bool = False) -> None:
            nonlocal peak_rss
            base = run_load(direct, path, body, concurrency, args.seconds, stream)
            through = run_load(via, path, body, concurrency, args.seconds, stream)
            peak_rss = max(peak_rss, rss_mib(stack.pid))
            overhead = through["p50"] - base["p50"]
            ttfc = (
                f"{base['ttfc_p50']:.2f} / {through['ttfc_p50']:.2f} (+{through['ttfc_p50'] - base['ttfc_p50']:.2f})"
                if stream
                else "-"
            )
            rows.append(
                (
                    label,
                    str(concurrency),
                    f"{base['rps']:.0f}",
                    f"{through['rps']:.0f}",
                    f"{base['p50']:.2f} / {through['p50']:.2f}",
                    f"{base['p99']:.2f} / {through['p99']:.2f}",
                    f"{overhead:+.2f}",
                    ttfc,
                    str(base["errors"] + through["errors"]),
                )
            )

        for concurrency in (1, 8, 64):
            compare("chat", "/chat/completions", CHAT, concurrency)
        compare("chat stream", "/chat/completions", {**CHAT, "stream": True}, 1, stream=True)
        compare("chat stream", "/chat/completions", {**CHAT, "stream": True}, 64, stream=True)
        compare("embeddings", "/embeddings", EMBED, 1)
        compare("embeddings", "/embeddings", EMBED, 64)
        stop(stack)
    finally:
        upstream.terminate()

    headers = (
        "workload",
        "conc",
        "direct req/s",
        "stack req/s",
        "p50 ms direct / stack",
        "p99 ms direct / stack",
        "added p50 ms",
        "first chunk p50 ms direct / stack (+added)",
        "errors",
    )
    print_table(headers, rows)
    print(
        f"\ncold start (spawn to first 200), median of 3: {statistics.median(cold):.2f} s "
        f"({', '.join(f'{c:.2f}' for c in cold)})"
    )
    print(f"RSS: idle {idle_rss:.0f} MiB, under load (peak sampled) {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
