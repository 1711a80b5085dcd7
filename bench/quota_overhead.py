"""Quota overhead: the cost per request of the whole ASGI app (echo inference provider, no network), quota off
against quota on, in one run.

Each request is a chat completion driven straight through the app (scope, receive, send), so the figure is the
server's own cost: routing, the provider call, and the wrappers. Two tables: CPU time (``time.process_time``, which
includes the SQLite store's thread; rounds interleaved, the best round of each, since a shared machine only adds),
and instructions per request counted by valgrind's callgrind (each configuration in its own process, instrumented
only while its requests run), which do not move with the machine's load. Store round trips are counted by the
quota's counters.

    .venv/bin/python bench/quota_overhead.py [--requests 3000] [--rounds 5] [--instructions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "support"))

import gateway_overhead as gw  # noqa: E402
from telemetry_instructions import _instructions_in, callgrind_control  # noqa: E402

KEY = "lsk-bench-0123456789abcdefghijklmnopqrstuvwxyz"
CHAT = orjson.dumps({"model": "alpha/m", "messages": [{"role": "user", "content": "Say something about foxes."}]})
FAR = 1_000_000_000  # a limit never reached: the steady state of a caller far from their budget


def variants() -> dict[str, tuple[dict[str, Any] | None, bool]]:
    """name -> (server.quota, auth on)"""
    near_all = {"anonymous_max_requests": FAR, "local_share": 0}
    full = {
        "authenticated_max_requests": FAR,
        "per_user": {"requests_per_minute": FAR, "tokens_per_day": FAR},
        "per_team": {"requests_per_minute": FAR, "tokens_per_day": FAR},
    }
    return {
        "quota off": (None, False),
        "quota: anonymous requests/day": ({"anonymous_max_requests": FAR}, False),
        "quota: + rpm + tokens/day": (
            {"anonymous_max_requests": FAR, "anonymous": {"requests_per_minute": FAR, "tokens_per_day": FAR}},
            False,
        ),
        "quota, local_share 0 (a store write per request)": (near_all, False),
        "auth (static key), quota off": (None, True),
        "auth + quota: user and team, requests and tokens": (full, True),
    }


def config(workdir: Path, name: str, quota: dict | None, auth: bool, sync_seconds: float = 1.0) -> dict:
    from stack_test_plugin import echo_providers

    from llama_stack_core.auth.keys import hash_key
    from llama_stack_core.testing.harness import make_run_config

    directory = workdir / str(abs(hash(name)))
    result = make_run_config({"inference": echo_providers("alpha")}, directory)
    result["models"] = [{"model_id": "alpha/m", "provider_id": "alpha", "provider_model_id": "m"}]
    server: dict[str, Any] = {}
    if quota is not None:
        server["quota"] = {**quota, "sync_seconds": sync_seconds}
    if auth:
        server["auth"] = {"api_keys": [{"name": "bench", "key_hash": hash_key(KEY), "teams": ["t1", "t2"]}]}
    result["server"] = server
    return result


async def drive(app: Any, count: int, auth: bool) -> tuple[float, int]:
    """CPU seconds for ``count`` chat completions; how many were not 200."""
    headers = [(b"content-type", b"application/json")]
    if auth:
        headers.append((b"authorization", f"Bearer {KEY}".encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query_string": b"",
        "headers": headers,
        "client": ("10.0.0.1", 40000),
    }
    message = {"type": "http.request", "body": CHAT, "more_body": False}
    failed = 0

    async def receive() -> dict:
        return message

    async def send(event: dict) -> None:
        nonlocal failed
        if event["type"] == "http.response.start" and event["status"] != 200:
            failed += 1

    began = time.process_time()
    for _ in range(count):
        await app(dict(scope), receive, send)
    return time.process_time() - began, failed


async def measure(requests: int, rounds: int) -> list[tuple[str, ...]]:
    import stack_test_plugin

    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-quota-"))
    apps = {}
    for name, (quota, auth) in variants().items():
        app = create_app(
            parse_run_config(config(workdir, name, quota, auth)), PluginManager(extra_plugins=[stack_test_plugin])
        )
        await app.start()
        apps[name] = (app, auth)
        await drive(app, 200, auth)  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    trips: dict[str, int] = dict.fromkeys(apps, 0)
    errors: dict[str, int] = dict.fromkeys(apps, 0)
    for _ in range(rounds):
        for name, (app, auth) in apps.items():
            before = app.quotas.counts.round_trips if app.quotas else 0
            spent, failed = await drive(app, requests, auth)
            cpu[name].append(spent / requests * 1e6)
            trips[name] += (app.quotas.counts.round_trips if app.quotas else 0) - before
            errors[name] += failed
    full = apps["auth + quota: user and team, requests and tokens"][0].quotas.counts
    began = time.process_time()
    for _ in range(200):
        await full.sync()
    sync_us = (time.process_time() - began) / 200 * 1e6
    for app, _ in apps.values():
        await app.stop()
    rows = []
    baseline = {
        False: min(cpu["quota off"]),
        True: min(cpu["auth (static key), quota off"]),
    }
    for name, (quota, auth) in variants().items():
        best = min(cpu[name])
        rows.append(
            (
                name,
                f"{best:.1f}",
                "-" if quota is None else f"{best - baseline[auth]:+.1f}",
                ", ".join(f"{v:.1f}" for v in cpu[name]),
                f"{trips[name] / (requests * rounds):.3f}",
                str(errors[name]),
            )
        )
    rows.append(
        (
            f"background sync of the {len(full._counts)} open counts of the last row, once a second",
            f"{sync_us:.0f}",
            "",
            "",
            "",
            "",
        )
    )
    return rows


async def child(name: str, requests: int) -> None:
    """One configuration in this process (under callgrind): warm up, then ``requests`` counted."""
    import stack_test_plugin

    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    quota, auth = variants()[name]
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as workdir:
        # the background sync (a store read per open count, once a second) is left out here: under callgrind a
        # second holds ~50x fewer requests than natively, so it would weigh ~50x too much; it is timed on its own
        run_config = parse_run_config(config(Path(workdir), name, quota, auth, sync_seconds=60))
        app = create_app(run_config, PluginManager(autoload=False, extra_plugins=[stack_test_plugin]))
        await app.start()
        await drive(app, 200, auth)
        callgrind_control(os.getpid(), "-i", "on")
        _, failed = await drive(app, requests, auth)
        callgrind_control(os.getpid(), "-i", "off")
        await app.stop()
    print(json.dumps({"failed": failed}))


def instructions(name: str, requests: int) -> float:
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null"]
        + [gw.PYTHON, __file__, "--child", name, "--instructions", str(requests)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
    )
    return _instructions_in(result.stderr) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", type=int, default=1000, help="requests counted under callgrind; 0: skip")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.instructions))
        return
    rows = asyncio.run(measure(args.requests, args.rounds))
    print(f"chat completions through the ASGI app in process, {args.rounds} interleaved rounds of {args.requests}\n")
    gw.print_table(("configuration", "CPU µs/req (best)", "added µs", "per round", "store trips/req", "errors"), rows)
    if not args.instructions:
        return
    counted = {name: instructions(name, args.instructions) for name in variants()}
    rows = []
    for name, (quota, auth) in variants().items():
        base = counted["auth (static key), quota off" if auth else "quota off"]
        added = "-" if quota is None else f"{counted[name] - base:+,.0f}"
        rows.append((name, f"{counted[name]:,.0f}", added))
    print(f"\ninstructions per request (callgrind, {args.instructions} requests each)\n")
    gw.print_table(("configuration", "instructions/req", "added"), rows)


if __name__ == "__main__":
    main()
