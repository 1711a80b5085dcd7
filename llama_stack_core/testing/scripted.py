"""A scripted OpenAI-wire server on localhost, for vendor quirks and failure modes a real local server can't show.

It speaks the real wire format (JSON bodies, ``data: ...`` SSE events, ``[DONE]``), records every request it gets,
and answers from a script the test sets::

    with ScriptedServer() as server:
        server.reply(json={"id": "chatcmpl-1", ...})            # next request gets this
        server.reply(status=400, json={"error": {"message": "bad model"}})
        server.reply(stream=[chunk1, chunk2], hold_after=1)      # waits for server.release() after chunk 1
        ... point a provider at server.base_url ...
        server.requests[-1].json                                 # what the provider sent
        server.reply(status=429, json={...}, headers={"Retry-After": "7"})
        server.requests[-1].params                               # its query string, e.g. {"q": "llamas"}

When the script is empty, ``respond`` (if set) computes the reply from the request, for a server that must answer
by content rather than by order (a classifier model, a moderation endpoint): ``ScriptedServer(respond=fn)``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .waiting import eventually_sync


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""  # the raw query string
    #: the client closed the connection before the reply was complete (a stream it stopped reading)
    closed_early: bool = False
    _complete: bool = field(default=False, repr=False)

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @property
    def params(self) -> dict[str, str]:
        """The query string's parameters, decoded (the last value of a repeated one)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    stream: list[Any] | None = None
    hold_after: int | None = None
    delay: float = 0.0
    drop_after: int | None = None  # close the connection abruptly after this many events
    raw: bytes | None = None
    headers: dict[str, str] | None = None  # extra response headers (e.g. Retry-After)


@dataclass
class ScriptedServer:
    default: Reply = field(default_factory=lambda: Reply(json={"object": "list", "data": []}))
    requests: list[RecordedRequest] = field(default_factory=list)
    #: Computes the reply to a request when the script is empty (else ``default`` answers).
    respond: Callable[[RecordedRequest], Reply] | None = None

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._gate = threading.Event()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))  # bound here, served by uvicorn: the port is known and stays ours
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def reply(self, **kwargs: Any) -> None:
        self._script.append(Reply(**kwargs))

    def release(self) -> None:
        """Let a held stream continue."""
        self._gate.set()

    def reset(self) -> None:
        """Forget the script, the recorded requests and ``respond``, and hold streams again (``hold_after``): a server
        shared by several tests starts each one as new (a stream still held from before goes on)."""
        self._gate.set()
        self._script.clear()
        self.requests.clear()
        self.respond = None
        self._gate = threading.Event()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode()
        request = RecordedRequest(scope["method"], scope["path"], headers, body, query)
        self.requests.append(request)
        watcher = asyncio.create_task(self._watch_disconnect(request, receive))
        try:
            await self._answer(request, send)
        finally:
            watcher.cancel()

    @staticmethod
    async def _watch_disconnect(request: RecordedRequest, receive: Any) -> None:
        if (await receive())["type"] == "http.disconnect" and not request._complete:
            request.closed_early = True

    async def _answer(self, request: RecordedRequest, send: Any) -> None:
        if self._script:
            reply = self._script.popleft()
        else:
            reply = self.respond(request) if self.respond is not None else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        extra_headers = [(k.lower().encode(), v.encode()) for k, v in (reply.headers or {}).items()]
        if reply.stream is None:
            payload = reply.raw if reply.raw is not None else orjson.dumps(reply.json)
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [(b"content-type", b"application/json"), *extra_headers],
                }
            )
            request._complete = True
            await send({"type": "http.response.body", "body": payload})
            return
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(b"content-type", b"text/event-stream"), *extra_headers],
            }
        )
        for i, event in enumerate(reply.stream):
            if reply.drop_after is not None and i == reply.drop_after:
                raise ConnectionResetError("scripted drop")
            data = event if isinstance(event, bytes) else orjson.dumps(event)
            await send({"type": "http.response.body", "body": b"data: " + data + b"\n\n", "more_body": True})
            if reply.hold_after is not None and i + 1 == reply.hold_after:
                await asyncio.get_running_loop().run_in_executor(None, self._gate.wait, 30)
        request._complete = True
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    def __enter__(self) -> ScriptedServer:
        import uvicorn

        config = uvicorn.Config(self._app, log_level="error", lifespan="on", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        eventually_sync(lambda: self._server.started, timeout=10, interval=0.005, what="the scripted server")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._gate.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def chat_completion(content: str = "ok", model: str = "m", **extra: Any) -> dict[str, Any]:
    """A minimal ``chat.completion`` body."""
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        **extra,
    }


def chat_chunk(content: str, model: str = "m", finish_reason: str | None = None) -> dict[str, Any]:
    """A minimal ``chat.completion.chunk`` event."""
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}],
    }


# -- a streamed model turn, for scripting agent loops ------------------------------------------------------------


def delta_chunk(delta: dict[str, Any], finish_reason: str | None = None, usage: dict[str, int] | None = None) -> dict:
    """A ``chat.completion.chunk`` carrying one ``delta`` (content or tool-call fragments)."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "upstream",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **({"usage": usage} if usage else {}),
    }


def text_turn(*pieces: str, finish_reason: str = "stop") -> list[dict]:
    """A streamed text answer, usage in the last chunk."""
    chunks = [delta_chunk({"role": "assistant", "content": ""})]
    chunks += [delta_chunk({"content": piece}) for piece in pieces]
    usage = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 7 + len(pieces)}
    chunks.append(delta_chunk({}, finish_reason, usage))
    return chunks


def call_turn(name: str, arguments: dict[str, Any] | str, call_id: str = "call_1") -> list[dict]:
    """A streamed tool call: id and name first, then the arguments (JSON, or this raw string) in two pieces."""
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    half = len(encoded) // 2
    first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    return [
        delta_chunk({"role": "assistant", "tool_calls": [first]}),
        delta_chunk({"tool_calls": [{"index": 0, "function": {"arguments": encoded[:half]}}]}),
        delta_chunk({"tool_calls": [{"index": 0, "function": {"arguments": encoded[half:]}}]}),
        delta_chunk({}, "tool_calls", {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    ]
