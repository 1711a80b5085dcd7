"""Open MCP client sessions, kept per tool group so a call does not pay the connect and initialize handshake.

An ``mcp.Client`` must be entered and left in one task (its transport runs an anyio task group), so each session is
owned by a background task that opens it, waits to be told to stop, and closes it; callers in any request task use
the open client. When the transport fails (server down, stdio process exited) the owner task ends, and the calls in
flight on it are cancelled and see :class:`SessionLost`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from llama_stack_core.errors import UpstreamError, UpstreamTimeoutError

from .config import MCPConfig
from .endpoints import HttpServer, Server, headers_key

log = logging.getLogger(__name__)

T = TypeVar("T")
_CLOSE_TIMEOUT = 5.0


class SessionLost(Exception):
    """The session ended under a call (transport failure, connection closed, stdio server exited)."""


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for a transport failure (the innermost exception's type and message)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, FileNotFoundError):
        return "command not found"
    if isinstance(exc, MCPError):
        return exc.message
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Session:
    """One open MCP client session to one server with one header set, owned by a background task."""

    def __init__(self, server: Server, headers: dict[str, str], config: MCPConfig, label: str) -> None:
        self.label = label
        self._server = server
        self._headers = headers
        self._config = config
        self._client: Client | None = None
        self._error: BaseException | None = None
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._done = anyio.Event()
        self._inflight: set[anyio.CancelScope] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._client is not None and not self._done.is_set()

    def _client_of(self) -> Client:
        server, config = self._server, self._config
        if isinstance(server, HttpServer):
            timeout = httpx2.Timeout(config.request_timeout_seconds, connect=config.connect_timeout_seconds)
            http = httpx2.AsyncClient(headers=self._headers, timeout=timeout)
            transport: Any = streamable_http_client(server.uri, http_client=http)
        else:
            program, *args = server.command
            transport = StdioServerParameters(command=program, args=args, env=server.env or None, cwd=server.cwd)
        return Client(transport, mode=config.protocol, read_timeout_seconds=config.request_timeout_seconds)

    async def open(self) -> None:
        """Connect and handshake, bounded by ``connect_timeout_seconds``."""
        # A fresh context: the session outlives the request that opened it (its provider data, its trace).
        self._task = asyncio.get_running_loop().create_task(self._own(), context=contextvars.Context())
        with anyio.move_on_after(self._config.connect_timeout_seconds):
            await self._ready.wait()
        if self._client is None:
            error = self._error
            await self.close()
            if error is None:
                raise UpstreamTimeoutError(
                    f"MCP server of {self.label} did not complete the handshake within "
                    f"{self._config.connect_timeout_seconds:g}s"
                )
            raise UpstreamError(f"cannot connect to the MCP server of {self.label}: {describe(error)}")

    async def _own(self) -> None:
        try:
            async with self._client_of() as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            if not isinstance(exc, asyncio.CancelledError) and not self._stop.is_set():
                log.warning("MCP session of %s ended: %s", self.label, describe(exc))
        finally:
            self._done.set()
            self._ready.set()
            for scope in list(self._inflight):
                scope.cancel()

    async def request(self, operation: Callable[[Client], Awaitable[T]]) -> T:
        """Run one request on the open client; :class:`SessionLost` if the session ends before it answers."""
        if not self.alive:
            raise SessionLost(describe(self._error) if self._error else "session closed")
        assert self._client is not None
        scope = anyio.CancelScope()
        self._inflight.add(scope)
        try:
            with scope:
                return await operation(self._client)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise SessionLost("the server closed the connection") from None
            if exc.code == REQUEST_TIMEOUT and "timed out" in exc.message:
                raise UpstreamTimeoutError(
                    f"MCP server of {self.label} did not answer within {self._config.request_timeout_seconds:g}s"
                ) from None
            raise
        finally:
            self._inflight.discard(scope)
            if scope.cancelled_caught:
                raise SessionLost(describe(self._error) if self._error else "session closed")

    async def close(self) -> None:
        """Stop the owner task (closing the transport, stopping a stdio server), bounded."""
        self._stop.set()
        if self._task is None:
            return
        with anyio.move_on_after(_CLOSE_TIMEOUT):
            await self._done.wait()
        if not self._done.is_set():
            self._task.cancel()
            with anyio.move_on_after(_CLOSE_TIMEOUT):
                await self._done.wait()


class SessionPool:
    """The open sessions of one server (a tool group): one per distinct header set, least recently used closed."""

    def __init__(self, server: Server, config: MCPConfig, label: str) -> None:
        self.server = server
        self.label = label
        self._config = config
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = asyncio.Lock()

    async def _session(self, headers: dict[str, str], fresh: bool) -> Session:
        key = headers_key(headers)
        async with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.alive and not fresh:
                self._sessions.move_to_end(key)
                return session
            if session is not None:
                del self._sessions[key]
                await session.close()
            session = Session(self.server, headers, self._config, self.label)
            await session.open()
            self._sessions[key] = session
            while len(self._sessions) > self._config.max_sessions_per_group:
                _, oldest = self._sessions.popitem(last=False)
                await oldest.close()
            return session

    async def request(self, operation: Callable[[Client], Awaitable[T]], extra_headers: dict[str, str]) -> T:
        """Run a request on this server's session for these headers, reconnecting once if the session was lost."""
        headers = {**self.server.headers, **extra_headers} if isinstance(self.server, HttpServer) else {}
        session = await self._session(headers, fresh=False)
        try:
            return await session.request(operation)
        except SessionLost as lost:
            log.info("MCP session of %s lost (%s); reconnecting once", self.label, lost)
        session = await self._session(headers, fresh=True)
        try:
            return await session.request(operation)
        except SessionLost as lost:
            raise UpstreamError(f"MCP server of {self.label} failed: {lost}") from None

    async def close(self) -> None:
        async with self._lock:
            sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            await session.close()


async def one_shot(
    server: HttpServer, headers: dict[str, str], config: MCPConfig, label: str, operation: Callable[[Client], Any]
) -> Any:
    """A request on a session opened for it alone (an endpoint named by a request, not a registered group)."""
    session = Session(server, {**server.headers, **headers}, config, label)
    await session.open()
    try:
        return await session.request(operation)
    except SessionLost as lost:
        raise UpstreamError(f"MCP server of {label} failed: {lost}") from None
    finally:
        await session.close()
