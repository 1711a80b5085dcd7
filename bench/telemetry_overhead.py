"""Telemetry overhead: the gateway benchmark's workloads through three stacks that differ only in tracing.

- ``off``: no telemetry provider.
- ``sampled``: ``inline::trace-store`` with the default sampling (bursts of up to 100 new traces, 10 a second over
  time; a failed request is still kept).
- ``all``: ``inline::trace-store`` recording every request (``max_traces_per_second: null``).

All three stacks run at once on core 1 (an idle stack costs nothing), the load generator and the zero-latency
upstream on core 0, as in ``gateway_overhead.py``. Each workload runs in rounds that alternate between the stacks;
the table shows each stack's median over the rounds, so drift of the machine hits all three alike. The steadiest
figure is the stack's own CPU time per request (user + system, from /proc), which does not depend on whether the
stack or the load generator is the bottleneck; its change is the median of each round's change against ``off`` in
the same round (with the quartiles of those changes), since this machine's speed drifts by a few percent between
runs. Throughput and latency are shown too. Nothing is asserted.

    .venv/bin/python bench/telemetry_overhead.py [--seconds 3] [--rounds 3]

``--in-process`` measures the tracing cost more finely: ``off``, ``unrecorded`` (tracing on, no trace recorded: the
work every request pays) and ``all`` run in this process (pinned to core 1) and chat requests are driven straight
through their ASGI apps (16 at a time, no sockets or HTTP parsing on the stack's side, which cost the same in every
mode), alternating batches between the stacks; each batch's time includes handing its spans and token usage to the
trace store and writing them. The table shows the CPU time per request (median and quartiles over the batches), its
change against ``off`` (of the medians, and the median of each round's change against ``off`` in the same round; a
round is one batch per stack), and ``sampled`` estimated from them (see ``sampled_estimate``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import (
    CHAT,
    EMBED,
    PYTHON,
    ROOT,
    free_port,
    print_table,
    run_load,
    start_stack,
    stop,
    use_default_sampling,
    wait_ok,
)

STACKS = {
    "off": None,
    "sampled": {},
    "all": {"max_traces_per_second": None},
}
# --in-process (and telemetry_instructions.py) measure the default mode's two costs apart: the work every request pays
# (trace context, sampling decision, token accounting) and recording a trace. Batches that alternate between stacks
# would let the sampler record its budget of several seconds in one batch, so `sampled` is estimated instead.
IN_PROCESS_STACKS = {"off": None, "unrecorded": {"max_traces_per_second": 0}, "all": STACKS["all"]}


def sampled_estimate(unrecorded: float, recorded: float, requests_per_second: float) -> tuple[float, float]:
    """The default mode's cost per request at a load of ``requests_per_second``, from the cost of a request that is
    not recorded and of one that is: the sampler records its budget of traces a second. Returns (cost, share)."""
    from llama_stack_core.config.model import TelemetryConfig

    budget = TelemetryConfig.model_fields["max_traces_per_second"].default
    share = min(1.0, budget / requests_per_second) if budget is not None else 1.0
    return unrecorded + share * (recorded - unrecorded), share


WORKLOADS = [
    ("chat", "/chat/completions", CHAT, 1, False),
    ("chat", "/chat/completions", CHAT, 64, False),
    ("chat stream", "/chat/completions", {**CHAT, "stream": True}, 64, True),
    ("embeddings", "/embeddings", EMBED, 64, False),
]


def stack_config(direct: str, workdir: Path, telemetry: dict | None) -> dict:
    config = {
        "version": 2,
        "distro_name": "bench",
        "providers": {
            "inference": [
                {
                    "provider_id": "up",
                    "provider_type": "remote::openai",
                    "config": {"api_key": "bench-key", "base_url": direct},
                }
            ]
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
    if telemetry is not None:
        config["providers"]["telemetry"] = [
            {
                "provider_id": "traces",
                "provider_type": "inline::trace-store",
                "config": {"persistence": {"backend": "default", "namespace": "telemetry"}},
            }
        ]
        config["telemetry"] = telemetry
    return config


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def change(value: float, base: float) -> str:
    return f"{100 * (value - base) / base:+.1f}%"


def paired_change(values: list[float], bases: list[float]) -> str:
    """The median change against ``off`` measured in the same round (each round's pair shares the machine's state
    of the moment, so drift cancels), with the quartiles of the per-round changes."""
    changes = [100 * (value - base) / base for value, base in zip(values, bases, strict=True)]
    q1, median, q3 = statistics.quantiles(changes, n=4, method="inclusive") if len(changes) > 1 else changes * 3
    return f"{median:+.1f}% ({q1:+.1f} .. {q3:+.1f})"


async def asgi_chat(app, body: bytes) -> None:
    """One chat completion through the ASGI app, as uvicorn would hand it over."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"stack")],
    }
    received = False

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects

    status = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"chat completion answered {status}")


async def hand_over(app) -> None:
    """Everything a stack's requests left to the background, done: spans and usage exported, and written."""
    tracer = app.state.stack.tracer
    await tracer.flush()
    for exporter in tracer.exporters:
        flush = getattr(exporter, "flush", None)
        if flush is not None:
            await flush()


async def in_process(direct: str, batches: int, batch_size: int) -> None:
    import gc

    from llama_stack_core.cli.serve import tune_garbage_collector
    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    os.sched_setaffinity(0, {1})
    body = json.dumps(CHAT).encode()
    apps = {}
    workdir = tempfile.TemporaryDirectory(prefix="bench-telemetry-")
    for name, telemetry in IN_PROCESS_STACKS.items():
        (Path(workdir.name) / name).mkdir()
        config = stack_config(direct, Path(workdir.name) / name, telemetry)
        apps[name] = create_app(parse_run_config(config), PluginManager())
        await apps[name].start()
    tune_garbage_collector()

    async def batch(app) -> float:
        async def client() -> None:
            for _ in range(batch_size // 16):
                await asgi_chat(app, body)

        started = time.process_time()
        await asyncio.gather(*(client() for _ in range(16)))
        await hand_over(app)  # in this batch's time, not in the next stack's
        return (time.process_time() - started) * 1e6 / (batch_size // 16 * 16)

    try:
        for app in apps.values():
            await batch(app)  # warm-up
        cpu: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(batches):
            for name, app in apps.items():
                cpu[name].append(await batch(app))
            gc.collect()
    finally:
        for app in apps.values():
            await app.stop()
        workdir.cleanup()
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    rate = 1e6 / medians["off"]
    sampled, share = sampled_estimate(medians["unrecorded"], medians["all"], rate)
    cpu = {
        **cpu,
        "sampled": [
            sampled_estimate(unrecorded, recorded, rate)[0]
            for unrecorded, recorded in zip(cpu["unrecorded"], cpu["all"])
        ],
    }
    medians["sampled"] = sampled
    rows = []
    for name in ("off", "unrecorded", "sampled", "all"):
        q1, _, q3 = statistics.quantiles(cpu[name], n=4, method="inclusive")
        spread = f"{q1:.1f} - {q3:.1f}" + (" (estimated)" if name == "sampled" else "")
        rows.append(
            (
                name,
                f"{medians[name]:.1f}",
                spread,
                change(medians[name], medians["off"]),
                paired_change(cpu[name], cpu["off"]),
            )
        )
    print_table(
        ("stack", "CPU us per chat request (median)", "quartiles", "vs off", "vs off in the same round (quartiles)"),
        rows,
    )
    print(
        f"\n{batches} batches of {batch_size} requests per stack, alternating, each with its export and writes; "
        f"stacks: {json.dumps(IN_PROCESS_STACKS)}; sampled = unrecorded + {share:.2%} recorded (the default budget "
        f"of traces/s at the {rate:,.0f} requests/s the off stack serves on one core)"
    )


def main() -> None:
    use_default_sampling()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="Run only the workloads whose 'label/concurrency' contains this, e.g. chat/64.")
    parser.add_argument("--in-process", action="store_true", help="Drive the stacks' ASGI apps in this process.")
    parser.add_argument("--batches", type=int, default=30, help="--in-process: batches per stack")
    parser.add_argument("--batch-size", type=int, default=1600, help="--in-process: requests per batch")
    args = parser.parse_args()
    workloads = [w for w in WORKLOADS if not args.only or args.only in f"{w[0]}/{w[3]}"]

    upstream_port = free_port()
    upstream = subprocess.Popen(["taskset", "-c", "0", PYTHON, str(ROOT / "bench/upstream.py"), str(upstream_port)])
    direct = f"http://127.0.0.1:{upstream_port}/v1"
    processes = []
    rows = []
    workdirs = tempfile.TemporaryDirectory(prefix="bench-telemetry-")
    try:
        wait_ok(f"{direct}/models")
        if args.in_process:
            asyncio.run(in_process(direct, args.batches, args.batch_size))
            return
        bases, pids = {}, {}
        for name, telemetry in STACKS.items():
            workdir = Path(workdirs.name) / name
            workdir.mkdir()
            config_path = workdir / "run.yaml"
            config_path.write_text(yaml.safe_dump(stack_config(direct, workdir, telemetry)))
            port = free_port()
            process, _ = start_stack(config_path, port, {**os.environ})
            processes.append(process)
            bases[name] = f"http://127.0.0.1:{port}/v1"
            pids[name] = process.pid
            run_load(bases[name], "/chat/completions", CHAT, 8, 1.0)  # warm-up
        for label, path, body, concurrency, stream in workloads:
            results: dict[str, list[dict]] = {name: [] for name in STACKS}
            for _ in range(args.rounds):
                for name, base in bases.items():
                    before = cpu_seconds(pids[name])
                    result = run_load(base, path, body, concurrency, args.seconds, stream)
                    result["cpu_us"] = (cpu_seconds(pids[name]) - before) * 1e6 / max(result["requests"], 1)
                    results[name].append(result)
            rps = {n: statistics.median(r["rps"] for r in rs) for n, rs in results.items()}
            cpu_rounds = {n: [r["cpu_us"] for r in rs] for n, rs in results.items()}
            cpu = {n: statistics.median(values) for n, values in cpu_rounds.items()}
            p50 = {n: statistics.median(r["p50"] for r in rs) for n, rs in results.items()}
            errors = sum(r["errors"] for rs in results.values() for r in rs)
            rows.append(
                (
                    label,
                    str(concurrency),
                    f"{cpu['off']:.0f}",
                    f"{cpu['sampled']:.0f}: {paired_change(cpu_rounds['sampled'], cpu_rounds['off'])}",
                    f"{cpu['all']:.0f}: {paired_change(cpu_rounds['all'], cpu_rounds['off'])}",
                    f"{rps['off']:.0f}",
                    f"{rps['sampled']:.0f} ({change(rps['sampled'], rps['off'])})",
                    f"{rps['all']:.0f} ({change(rps['all'], rps['off'])})",
                    f"{p50['off']:.2f} / {p50['sampled']:.2f} / {p50['all']:.2f}",
                    str(errors),
                )
            )
    finally:
        for process in processes:
            stop(process)
        upstream.terminate()
        workdirs.cleanup()

    headers = (
        "workload",
        "conc",
        "off CPU us/req",
        "sampled CPU us/req",
        "all CPU us/req",
        "off req/s",
        "sampled req/s",
        "all req/s",
        "p50 ms off / sampled / all",
        "errors",
    )
    print_table(headers, rows)
    print(
        f"\nmedian of {args.rounds} rounds of {args.seconds:g} s per stack and workload; stacks: {json.dumps(STACKS)}"
    )


if __name__ == "__main__":
    main()
