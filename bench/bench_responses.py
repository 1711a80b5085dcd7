"""The Responses engine's own overhead: what an agent step costs above the chat calls it makes.

A zero-latency stub upstream (in a subprocess on core 0) streams canned chat completions: a call of ``get_weather``
when the request offers tools and has no tool result yet, else a 20-piece text answer, usage in the last chunk. A
stack (``remote::openai`` on the stub, ``inline::builtin`` responses on SQLite) runs in this process on core 1 and is
driven straight through its ASGI app, one request at a time (no sockets on the stack's side), alternating between
the ways of doing the same work, so drift of the machine hits all alike:

- ``two-step loop``: ``POST /v1/responses`` with a function tool (the model calls it), then ``POST /v1/responses``
  with ``previous_response_id`` and the ``function_call_output`` (the model answers); stored, and with ``store: false``
  (chained then through ``input`` instead: the call and its output) to show the store's part.
- ``two chat calls``: the same two streamed chat completions (tools, then the tool result) through the stack's
  ``/v1/chat/completions``, read to the end.
- time to first token: a streamed response's first ``response.output_text.delta`` against a streamed chat
  completion's first chunk, from sending the request.

Wall time per operation, median and quartiles over the rounds; the engine's overhead per agent step is half the
loop's difference from the two chat calls. Nothing is asserted.

    .venv/bin/python bench/bench_responses.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import PYTHON, free_port, print_table, wait_ok

MODEL = "bench-llm"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CHAT_TOOL = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}


# == the stub upstream ================================================================================================


def _chunk(delta: dict, finish_reason: str | None = None, usage: dict | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + orjson.dumps(body) + b"\n\n"


USAGE = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
TEXT = [_chunk({"role": "assistant", "content": ""})] + [_chunk({"content": f" tok{i}"}) for i in range(20)]
TEXT_REST = b"".join(TEXT[1:]) + _chunk({}, "stop", USAGE) + b"data: [DONE]\n\n"
CALL = {"index": 0, "id": "call_bench", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
CALL_STREAM = (
    _chunk({"role": "assistant", "tool_calls": [CALL]})
    + _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]})
    + _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]})
    + _chunk({}, "tool_calls", USAGE)
    + b"data: [DONE]\n\n"
)
SSE = [(b"content-type", b"text/event-stream")]


async def stub(scope, receive, send):
    """Streamed chat completions only: a tool call when tools are offered and no tool answered yet, else text."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": SSE})
    compact = body.replace(b" ", b"")
    if b'"tools":[' in compact and b'"role":"tool"' not in compact:
        await send({"type": "http.response.body", "body": CALL_STREAM})
        return
    await send({"type": "http.response.body", "body": TEXT[0], "more_body": True})
    await send({"type": "http.response.body", "body": TEXT_REST})


# == driving the stack ================================================================================================


async def asgi(app, path: str, body: dict, marker: bytes | None = None) -> tuple[float, float | None, bytes]:
    """One POST through the ASGI app: (seconds to the end, seconds to the first body piece holding ``marker``,
    the body)."""
    raw = orjson.dumps(body)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"stack")],
        "client": ("127.0.0.1", 1),
        "server": ("stack", 80),
        "scheme": "http",
    }
    received = False

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects

    pieces: list[bytes] = []
    status: list[int] = []
    first: float | None = None
    started = time.perf_counter()

    async def send(message: dict) -> None:
        nonlocal first
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            piece = message.get("body", b"")
            if first is None and marker is not None and marker in piece:
                first = time.perf_counter() - started
            pieces.append(piece)

    await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    answer = b"".join(pieces)
    if status != [200]:
        raise RuntimeError(f"{path} answered {status}: {answer[:300]!r}")
    return elapsed, first, answer


async def two_step_loop(app, store: bool) -> float:
    first_body = {"model": MODEL, "input": "Weather in Paris?", "tools": [WEATHER], "store": store}
    took, _, answer = await asgi(app, "/v1/responses", first_body)
    first = orjson.loads(answer)
    (call,) = [i for i in first["output"] if i["type"] == "function_call"]
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": '{"sky": "clear"}'}
    if store:
        second_body = {"model": MODEL, "previous_response_id": first["id"], "input": [result], "tools": [WEATHER]}
    else:
        history = [{"type": "message", "role": "user", "content": "Weather in Paris?"}, call, result]
        second_body = {"model": MODEL, "input": history, "tools": [WEATHER], "store": False}
    more, _, answer = await asgi(app, "/v1/responses", second_body)
    second = orjson.loads(answer)
    if second["status"] != "completed" or second["output"][-1]["type"] != "message":
        raise RuntimeError(f"the loop did not end with an answer: {second}")
    return took + more


async def two_chat_calls(app) -> float:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    first = {"model": MODEL, "messages": messages, "tools": [CHAT_TOOL], **stream}
    took, _, _ = await asgi(app, "/v1/chat/completions", first)
    call = {
        "id": "call_bench",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    messages = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_bench", "content": '{"sky": "clear"}'},
    ]
    more, _, _ = await asgi(app, "/v1/chat/completions", {**first, "messages": messages})
    return took + more


async def first_delta(app) -> float:
    body = {"model": MODEL, "input": "Say something.", "stream": True, "store": False}
    _, first, _ = await asgi(app, "/v1/responses", body, marker=b'"response.output_text.delta"')
    assert first is not None
    return first


async def first_chunk(app) -> float:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Say something."}], "stream": True}
    _, first, _ = await asgi(app, "/v1/chat/completions", body, marker=b"data: ")
    assert first is not None
    return first


def stack_config(upstream: str, workdir: Path) -> dict:
    return {
        "version": 2,
        "distro_name": "bench",
        "providers": {
            "inference": [
                {
                    "provider_id": "up",
                    "provider_type": "remote::openai",
                    "config": {"api_key": "k", "base_url": upstream},
                }
            ],
            "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
        },
        "storage": {
            "backends": {"kv": {"type": "kv_sqlite", "db_path": str(workdir / "registry.db")}},
            "stores": {"metadata": {"backend": "kv", "namespace": "registry"}},
        },
        "models": [{"model_id": MODEL, "provider_id": "up", "provider_model_id": MODEL}],
    }


async def measure(upstream: str, rounds: int) -> dict[str, list[float]]:
    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.server.app import create_app

    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})
    work = {
        "two-step loop (stored, chained by id)": lambda app: two_step_loop(app, store=True),
        "two-step loop (store: false, chained by input)": lambda app: two_step_loop(app, store=False),
        "two chat calls (streamed)": two_chat_calls,
        "first output_text.delta (responses)": first_delta,
        "first chunk (chat)": first_chunk,
    }
    with tempfile.TemporaryDirectory(prefix="bench-responses-") as workdir:
        app = create_app(parse_run_config(stack_config(upstream, Path(workdir))), PluginManager())
        async with app.running():
            for run in work.values():
                for _ in range(20):  # warm-up: connections, caches
                    await run(app)
            times: dict[str, list[float]] = {name: [] for name in work}
            for _ in range(rounds):
                for name, run in work.items():
                    times[name].append(await run(app))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stub:
        import uvicorn

        uvicorn.run(stub, host="127.0.0.1", port=args.serve_stub, log_level="error", access_log=False, http="httptools")
        return
    port = free_port()
    stub_process = subprocess.Popen(["taskset", "-c", "0", PYTHON, __file__, "--serve-stub", str(port)])
    try:
        wait_ok(f"http://127.0.0.1:{port}/v1/models")
        times = asyncio.run(measure(f"http://127.0.0.1:{port}/v1", args.rounds))
    finally:
        stub_process.terminate()
        stub_process.wait()
    ms = {name: [1000 * t for t in values] for name, values in times.items()}
    rows = []
    for name, values in ms.items():
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        rows.append((name, f"{median:.2f}", f"{q1:.2f} - {q3:.2f}"))
    print_table(("operation", "ms (median)", "quartiles"), rows)
    median = {name: statistics.median(values) for name, values in ms.items()}
    chat = median["two chat calls (streamed)"]
    print()
    print_table(
        ("engine overhead", "ms"),
        [
            ("per agent step, stored", f"{(median['two-step loop (stored, chained by id)'] - chat) / 2:.2f}"),
            (
                "per agent step, store: false",
                f"{(median['two-step loop (store: false, chained by input)'] - chat) / 2:.2f}",
            ),
            (
                "added to time to first token",
                f"{median['first output_text.delta (responses)'] - median['first chunk (chat)']:.2f}",
            ),
        ],
    )
    print(f"\n{args.rounds} rounds, alternating; stack in-process on core 1 via ASGI, stub upstream on core 0")


if __name__ == "__main__":
    main()
