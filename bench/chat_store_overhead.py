"""Inference store overhead: chat completions through two stacks that differ only in ``inference_store.enabled``.

Both stacks run in this process (pinned to core 1), against the zero-latency upstream (``upstream.py``, on core 0),
with tracing off; chat requests are driven straight through their ASGI apps (16 at a time), in batches that
alternate between the stacks, as ``telemetry_overhead.py --in-process`` does. Each ``on`` batch ends by writing
everything it queued (``flush``), so its CPU time holds the whole cost of storing: the request path's share (queueing
the answer, and for a stream keeping its chunks) and the background writer's (building the records and one SQLite
transaction per 256 completions, on the store's thread). The table shows the CPU time per request (median and
quartiles over the batches), and the change against ``off`` of each round's pair. Nothing is asserted.

    .venv/bin/python bench/chat_store_overhead.py [--batches 12] [--batch-size 800]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import CHAT, PYTHON, ROOT, free_port, print_table, wait_ok
from telemetry_overhead import asgi_chat, paired_change, stack_config

STACKS = {"off": {"enabled": False}, "on": {}}
WORKLOADS = {"chat": CHAT, "chat stream": {**CHAT, "stream": True}}
CONCURRENCY = 16


async def measure(direct: str, batches: int, batch_size: int) -> list[tuple[str, ...]]:
    from llama_stack_core.cli.serve import tune_garbage_collector
    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    os.sched_setaffinity(0, {1})
    workdir = tempfile.TemporaryDirectory(prefix="bench-chat-store-")
    apps = {}
    for name, settings in STACKS.items():
        (Path(workdir.name) / name).mkdir()
        config = stack_config(direct, Path(workdir.name) / name, None)
        config["inference_store"] = settings
        apps[name] = create_app(parse_run_config(config), PluginManager())
        await apps[name].start()
    tune_garbage_collector()
    per_client = batch_size // CONCURRENCY

    async def batch(app, body: bytes) -> tuple[float, float]:
        """CPU us per request: answering, and answering plus writing what was queued."""

        async def client() -> None:
            for _ in range(per_client):
                await asgi_chat(app, body)

        started = time.process_time()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        answered = time.process_time()
        store = app.state.stack.chat_completions
        if store is not None:
            await store.flush()
        done = time.process_time()
        count = per_client * CONCURRENCY
        return (answered - started) * 1e6 / count, (done - started) * 1e6 / count

    rows = []
    try:
        for workload, request in WORKLOADS.items():
            body = json.dumps(request).encode()
            for app in apps.values():
                await batch(app, body)  # warm-up
            path: dict[str, list[float]] = {name: [] for name in apps}
            total: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(batches):
                for name, app in apps.items():
                    answering, with_writes = await batch(app, body)
                    path[name].append(answering)
                    total[name].append(with_writes)
                gc.collect()
            for name in apps:
                q1, median, q3 = statistics.quantiles(total[name], n=4, method="inclusive")
                rows.append(
                    (
                        workload,
                        name,
                        f"{statistics.median(path[name]):.1f}",
                        f"{median:.1f} ({q1:.1f} - {q3:.1f})",
                        ""
                        if name == "off"
                        else f"{statistics.median(total[name]) - statistics.median(total['off']):+.1f}",
                        "" if name == "off" else paired_change(total[name], total["off"]),
                        ""
                        if name == "off"
                        else f"{statistics.median(t - p for t, p in zip(total[name], path[name])):.1f}",
                    )
                )
        written = apps["on"].state.stack.chat_completions.written
    finally:
        for app in apps.values():
            await app.stop()
        workdir.cleanup()
    print_table(
        (
            "workload",
            "store",
            "CPU us/req, answering",
            "CPU us/req, with writes (quartiles)",
            "us vs off",
            "vs off in the same round (quartiles)",
            "writing, CPU us/completion",
        ),
        rows,
    )
    print(
        f"\n{batches} batches of {per_client * CONCURRENCY} requests per stack and workload, {CONCURRENCY} at a time, "
        f"alternating; {written:,} completions written by the `on` stack (SQLite, default batch settings)"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=800)
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen(["taskset", "-c", "0", PYTHON, str(ROOT / "bench/upstream.py"), str(port)])
    direct = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ok(f"{direct}/models")
        asyncio.run(measure(direct, args.batches, args.batch_size))
    finally:
        upstream.terminate()


if __name__ == "__main__":
    main()
