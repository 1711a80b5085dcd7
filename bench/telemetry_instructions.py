"""Telemetry overhead in CPU instructions per chat request: a figure that does not move with a shared machine's noise.

The stacks of ``telemetry_overhead.py --in-process`` (``off``: no telemetry provider; ``unrecorded``: tracing on,
no trace recorded; ``all``: every request recorded) each run in their own process under valgrind's callgrind, with
instrumentation switched on only while N chat completions go through the stack's ASGI app (16 at a time, against the
zero-latency upstream, which runs natively and is not counted) and everything they left to the background is
exported and written. Instructions per request are that count divided by N.

The default mode (``sampled``) is every request's unrecorded cost plus, for up to ``max_traces_per_second`` requests a
second, the cost of recording: computed here for a stack saturating one core, at the request rate the ``off`` stack
reaches natively on this machine (measured first, CPU time per request). Instructions leave out cache misses and
system calls, so they complement the CPU-time tables of ``telemetry_overhead.py``. Needs valgrind.

    .venv/bin/python bench/telemetry_instructions.py [--requests 1600]
    .venv/bin/python bench/telemetry_instructions.py --http 20    # stack serve over HTTP, uvicorn included

``--http`` counts what the gateway benchmark's server does per request: ``stack serve`` runs under callgrind and the
gateway benchmark's load generator drives it over HTTP for the given time (instrumentation on only then).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from gateway_overhead import CHAT, PYTHON, ROOT, free_port, print_table, run_load, stop, use_default_sampling, wait_ok
from telemetry_overhead import IN_PROCESS_STACKS, asgi_chat, change, hand_over, sampled_estimate, stack_config

MEASURED = tuple(IN_PROCESS_STACKS)
VALGRIND_SLOWDOWN = 50  # about how much slower the stack runs under callgrind here


def valgrind_config(name: str, direct: str, workdir: Path) -> dict:
    """The stack's run config with the trace-store's writes (a fixed cost per write, on a clock) slowed as much as
    valgrind slows the program, so they weigh on each request as they do natively. The tracer's hand-over keeps its
    native interval: its fixed cost is small, and the answers whose usage it reads must be read within the window
    that served them (a 25-s interval let a 20-s window read the warm-up's answers, or leave its own to the idle
    window)."""
    config = stack_config(direct, workdir, IN_PROCESS_STACKS[name])
    for provider in config["providers"].get("telemetry", []):
        provider["config"]["flush_interval_seconds"] = 0.5 * VALGRIND_SLOWDOWN
    return config


def callgrind_control(pid: int, *command: str) -> None:
    """Send a command (``-i on``, ``--dump``...) to a process running under callgrind."""
    subprocess.run(["callgrind_control", *command, str(pid)], capture_output=True, check=True)


def _instrument(on: bool) -> None:
    if os.environ.get("BENCH_UNDER_CALLGRIND"):
        callgrind_control(os.getpid(), "-i", "on" if on else "off")


async def child(name: str, direct: str, requests: int) -> None:
    """One stack in this process: warm up, then N requests measured (instructions, or CPU time natively)."""
    from llama_stack_core.cli.serve import tune_garbage_collector
    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    with tempfile.TemporaryDirectory(prefix=f"bench-instructions-{name}-") as workdir:
        app = create_app(parse_run_config(valgrind_config(name, direct, Path(workdir))), PluginManager())
        await app.start()
        tune_garbage_collector()
        body = json.dumps(CHAT).encode()

        async def client(count: int) -> None:
            for _ in range(count):
                await asgi_chat(app, body)

        await asyncio.gather(*(client(8) for _ in range(16)))
        await hand_over(app)
        per_client = requests // 16
        _instrument(True)
        started = time.process_time()
        await asyncio.gather(*(client(per_client) for _ in range(16)))
        await hand_over(app)
        cpu = time.process_time() - started
        _instrument(False)
        await app.stop()
    print(json.dumps({"cpu_us": cpu * 1e6 / (per_client * 16)}))


def instructions(name: str, direct: str, requests: int) -> float:
    """Instructions per request of one stack, counted by callgrind."""
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--callgrind-out-file=/dev/null",
            PYTHON,
            __file__,
            "--child",
            name,
            "--direct",
            direct,
            "--requests",
            str(requests),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_UNDER_CALLGRIND": "1", "PYTHONHASHSEED": "0"},
        check=True,
    )
    return _instructions_in(result.stderr) / (requests // 16 * 16)


def served_instructions(name: str, direct: str, seconds: float) -> float:
    """Instructions per request of ``stack serve`` (uvicorn and the stack) under callgrind, driven over HTTP by the
    gateway benchmark's load generator (16 concurrent chat completions, not counted).

    Other background work that runs on the clock (uvicorn's timers, the trace-store's retention loop) would weigh
    ~50x more per request under valgrind than natively, so an idle window as long as the loaded one is counted too
    and subtracted."""
    with tempfile.TemporaryDirectory(prefix=f"bench-instructions-{name}-") as workdir:
        config_path = Path(workdir) / "run.yaml"
        config_path.write_text(yaml.safe_dump(valgrind_config(name, direct, Path(workdir))))
        counts = Path(workdir) / "callgrind.out"
        port = free_port()
        base = f"http://127.0.0.1:{port}/v1"
        server = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={counts}",
                PYTHON,
                "-c",
                "from llama_stack_core.cli.main import main; main()",
                "serve",
                str(config_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        try:
            wait_ok(f"{base}/health", timeout=600)
            run_load(base, "/chat/completions", CHAT, 16, 5.0)  # warm-up
            callgrind_control(server.pid, "-i", "on")
            load = run_load(base, "/chat/completions", CHAT, 16, seconds)
            callgrind_control(server.pid, "--dump")  # callgrind.out.1: the loaded window
            time.sleep(seconds)
            callgrind_control(server.pid, "--dump")  # callgrind.out.2: the idle window
            callgrind_control(server.pid, "-i", "off")
            loaded, idle = (_totals(Path(f"{counts}.{n}")) for n in (1, 2))
        finally:
            stop(server)
    if load["errors"]:
        raise RuntimeError(f"{name}: {load['errors']} requests failed")
    return (loaded - idle) / load["requests"]


def _totals(dump: Path) -> int:
    return int(re.search(r"^totals: (\d+)", dump.read_text(), re.MULTILINE)[1])


def _instructions_in(valgrind_output: str) -> int:
    collected = re.search(r"I\s+refs:\s+([\d,]+)", valgrind_output)
    if collected is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{valgrind_output[-2000:]}")
    return int(collected[1].replace(",", ""))


def native_cpu_us(name: str, direct: str, requests: int) -> float:
    result = subprocess.run(
        ["taskset", "-c", "1", PYTHON, __file__, "--child", name, "--direct", direct, "--requests", str(requests)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["cpu_us"]


def main() -> None:
    use_default_sampling()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1600, help="measured requests per stack")
    parser.add_argument(
        "--http",
        type=float,
        metavar="SECONDS",
        help="measure `stack serve` over HTTP instead, for this many seconds of load per stack",
    )
    parser.add_argument("--child", choices=MEASURED, help=argparse.SUPPRESS)
    parser.add_argument("--direct", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.direct, args.requests))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")

    upstream_port = free_port()
    upstream = subprocess.Popen(["taskset", "-c", "0", PYTHON, str(ROOT / "bench/upstream.py"), str(upstream_port)])
    direct = f"http://127.0.0.1:{upstream_port}/v1"
    try:
        wait_ok(f"{direct}/models")
        rate = 1e6 / min(native_cpu_us("off", direct, 3200) for _ in range(3))
        if args.http:
            counts = {name: served_instructions(name, direct, args.http) for name in MEASURED}
        else:
            counts = {name: instructions(name, direct, args.requests) for name in MEASURED}
    finally:
        upstream.terminate()
    counts["sampled"], recorded_share = sampled_estimate(counts["unrecorded"], counts["all"], rate)
    rows = [
        (name, f"{counts[name]:,.0f}", change(counts[name], counts["off"]))
        for name in ("off", "unrecorded", "sampled", "all")
    ]
    print_table(("stack", "instructions per chat request", "vs off"), rows)
    measured = f"{args.http:g} s of HTTP load" if args.http else f"{args.requests} requests through the ASGI app"
    print(
        f"\n{measured} per stack under callgrind; sampled = unrecorded + {recorded_share:.2%} "
        f"recorded: the default budget of traces/s at the {rate:,.0f} requests/s the off stack serves natively on one core"
    )


if __name__ == "__main__":
    main()
