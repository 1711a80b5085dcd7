"""Thin ASGI plumbing for the hot path: a request view over the raw scope, and replies sent as raw ASGI messages.

The server answers every route through this module instead of a framework's request/response objects and
middleware: each request is a dict lookup (or one regex for routes with path parameters), one body read, and two
``send`` calls. Multipart forms (file uploads) are the exception; they are parsed with starlette's parser.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from ..errors import BadRequestError, PayloadTooLargeError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class HttpRequest:
    """What an endpoint needs of one request."""

    __slots__ = ("_headers", "path_params", "receive", "scope")

    def __init__(
        self, scope: Scope, receive: Receive, path_params: dict[str, str], raw_headers: dict[bytes, bytes] | None = None
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.path_params = path_params
        self._headers = raw_headers

    @property
    def raw_headers(self) -> dict[bytes, bytes]:
        """The request's headers as bytes by lower-case bytes name (a header sent twice: its last value). Built in C,
        once: clients send a dozen or more headers, and a Python loop over them per lookup costs more than the dict."""
        if self._headers is None:
            self._headers = dict(self.scope["headers"])
        return self._headers

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    def header(self, name: bytes) -> str | None:
        """A header's value by lower-case name."""
        value = self.raw_headers.get(name)
        return None if value is None else value.decode("latin-1")

    def query_params(self) -> dict[str, str]:
        """The query's parameters (a name sent twice: its last value)."""
        return dict(self.query_pairs())

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query's ``(name, value)`` pairs in order, repeats included."""
        raw = self.scope.get("query_string", b"")
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []

    async def body(self, limit: int | None = None) -> bytes:
        """The whole body. Over ``limit`` bytes (counted as chunks arrive; the ASGI server hands over at most its
        buffer's worth at a time): :class:`PayloadTooLargeError`, raised before the rest is read."""
        message = await self.receive()
        body = message.get("body", b"")
        if not message.get("more_body"):  # the usual case: the whole body in one message
            if limit is not None and len(body) > limit:
                raise too_large(limit)
            return body
        chunks, size = [body], len(body)
        while True:
            message = await self.receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def form(self, limit: int | None = None) -> Any:
        """The multipart or url-encoded form (starlette's parser; used only by upload routes), refused with
        :class:`PayloadTooLargeError` as soon as more than ``limit`` bytes have arrived."""
        from starlette.requests import Request

        receive = self.receive
        if limit is not None:
            _check_declared_length(self.raw_headers.get(b"content-length"), limit)
            receive = _capped(receive, limit)
        from starlette.formparsers import MultiPartException

        try:
            return await Request(self.scope, receive).form()
        except MultiPartException as exc:  # no boundary, a broken part: the client's mistake
            raise BadRequestError(f"malformed multipart body: {exc}") from None


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the request body is over this server's limit of {limit} bytes")


def _check_declared_length(declared: bytes | None, limit: int) -> None:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises once the body's bytes so far exceed ``limit``."""
    size = 0

    async def capped() -> dict[str, Any]:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise too_large(limit)
        return message

    return capped


@dataclass(slots=True)
class Reply:
    """A complete response body."""

    body: bytes
    status: int = 200
    headers: list[tuple[bytes, bytes]] | None = None

    async def send(self, send: Send, receive: Receive) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers or JSON_HEADERS})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(slots=True)
class HeadReply:
    """The answer to a HEAD request: the GET reply's status and headers, without its body (a stream is closed
    unread)."""

    reply: Reply | StreamReply

    @property
    def status(self) -> int:
        return self.reply.status

    async def send(self, send: Send, receive: Receive) -> None:
        reply = self.reply
        if isinstance(reply, Reply):
            headers = [*(reply.headers or JSON_HEADERS), (b"content-length", str(len(reply.body)).encode())]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        else:
            close = getattr(reply.events, "aclose", None)
            if close is not None:
                await close()
            await send({"type": "http.response.start", "status": reply.status, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": b""})


@dataclass(slots=True)
class StreamReply:
    """Server-sent events, sent as the iterator produces them; stops early if the client goes away."""

    events: AsyncIterator[bytes]
    status: ClassVar[int] = 200

    async def send(self, send: Send, receive: Receive) -> None:
        """Send the events until they end or the client goes away; a client that leaves stops the iterator at once,
        also while it waits for its next event (a model turn, a tool call), not only when it has one to send."""
        await send({"type": "http.response.start", "status": self.status, "headers": SSE_HEADERS})
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        pump = asyncio.ensure_future(self._pump(send))  # one task: the iterator's context stays its own
        try:
            await asyncio.wait({pump, disconnected}, return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():
                pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            if not pump.cancelled() and pump.exception() is not None:
                raise pump.exception()  # type: ignore[misc]
        finally:
            disconnected.cancel()
            pump.cancel()

    async def _pump(self, send: Send) -> None:
        try:
            async for event in self.events:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(self.events, "aclose", None)
            if close is not None:
                await close()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


Handler = Callable[[HttpRequest], Awaitable[Reply | StreamReply]]

_PARAM = re.compile(r"{(\w+)(:path)?}")


def path_regex(path: str) -> re.Pattern[str]:
    """``/v1/models/{model_id:path}`` -> a regex with one named group per parameter."""
    pattern, last = "", 0
    for match in _PARAM.finditer(path):
        pattern += re.escape(path[last : match.start()])
        pattern += f"(?P<{match[1]}>.+)" if match[2] else f"(?P<{match[1]}>[^/]+)"
        last = match.end()
    return re.compile(f"^{pattern}{re.escape(path[last:])}$")


class RouteTable:
    """Method + path -> handler. Fixed paths are one dict lookup; parameterised ones are tried in order."""

    def __init__(self) -> None:
        self._fixed: dict[tuple[str, str], Handler] = {}
        self._fixed_paths: set[str] = set()
        self._patterns: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        if "{" in path:
            self._patterns.append((method, path_regex(path), handler))
        else:
            self._fixed.setdefault((method, path), handler)
            self._fixed_paths.add(path)

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        """``(handler, path params, path exists for another method)``."""
        handler = self._fixed.get((method, path))
        if handler is not None:
            return handler, {}, False
        other_method = path in self._fixed_paths
        for route_method, regex, handler in self._patterns:
            found = regex.match(path)
            if found is not None:
                if route_method == method:
                    return handler, found.groupdict(), False
                other_method = True
        return None, {}, other_method

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route serves at ``path`` (for a 405's ``Allow``; GET implies HEAD), sorted."""
        methods = {method for method, fixed in self._fixed if fixed == path}
        methods.update(method for method, regex, _ in self._patterns if regex.match(path))
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)
