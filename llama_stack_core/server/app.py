"""The ASGI application: every declared route in one route table; the stack started and stopped with the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from ..apis import all_api_specs
from ..apis.routes import Api, Route
from ..config.model import RunConfig
from ..plugins import PluginManager
from ..stack import Stack
from ..tracing import CURRENT, SpanRecord, activate
from .core_routes import INFO_ROUTES, RESOURCE_ROUTES
from .endpoints import core_endpoint, provider_endpoint, unconfigured_endpoint
from .errors import error_reply, exception_reply
from .http import HttpRequest, Receive, Reply, RouteTable, Scope, Send, StreamReply
from .openapi import build_openapi

log = logging.getLogger("llama_stack_core.server")
TRACEPARENT_HEADER = b"traceparent"


class ServerContext:
    """What core route handlers see: the stack and every declared route with the tag (API) it belongs to."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.tagged_routes: list[tuple[str, Route]] = [
            *(("inspect", r) for r in INFO_ROUTES),
            *(("resources", r) for r in RESOURCE_ROUTES),
            *((spec.api.value, r) for spec in all_api_specs() for r in spec.routes),
        ]
        self._tag = {id(route): tag for tag, route in self.tagged_routes}

    @property
    def routes(self) -> list[Route]:
        return [route for _, route in self.tagged_routes]

    def api_of(self, route: Route) -> str:
        return self._tag[id(route)]

    def provider_types(self, route: Route) -> list[str]:
        instances = self.stack.providers.get(self.api_of(route), {}) if route.handler is None else {}
        return sorted({i.provider_type for i in instances.values()})

    @cached_property
    def _openapi(self) -> dict[str, Any]:
        return build_openapi(self.tagged_routes)

    def openapi(self) -> dict[str, Any]:
        return self._openapi

    def route_table(self) -> RouteTable:
        table = RouteTable()
        for tag, route in self.tagged_routes:
            if route.handler is not None:
                handler = core_endpoint(route, self)
            elif (router := self.stack.routers.get(Api(tag))) is not None:
                handler = provider_endpoint(route, router)
            else:
                handler = unconfigured_endpoint(route, tag)
            for path in route.paths:
                table.add(route.method, path, handler)
        return table


class StackApp:
    """The ASGI app. ``state.stack`` is the Stack; routes exist once the stack has started."""

    def __init__(self, stack: Stack) -> None:
        self.state = SimpleNamespace(stack=stack, context=None)
        self._routes = RouteTable()
        #: called with the exception when start-up under an ASGI server's lifespan fails (``stack serve`` workers)
        self.on_start_failure: Callable[[Exception], None] | None = None

    async def start(self) -> None:
        """Start the stack's providers and build the route table (once; later calls do nothing)."""
        if self.state.context is not None:
            return
        await self.state.stack.start()
        self.state.context = ServerContext(self.state.stack)
        self._routes = self.state.context.route_table()

    async def stop(self) -> None:
        await self.state.stack.stop()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StackApp]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        tracer = self.state.stack.tracer
        if not tracer.enabled:
            await (await self._reply(scope, receive)).send(send, receive)
            return
        # every request has a trace context (continuing an incoming W3C traceparent); only sampled ones are
        # recorded, and an unsampled one that fails with a server error keeps its root span after all. The headers
        # are read once, for the trace context and the endpoint (a traceparent sent twice: its last value).
        request_headers = dict(scope["headers"])
        traceparent = request_headers.get(TRACEPARENT_HEADER)
        span = tracer.request_span(
            scope["method"], scope["path"], None if traceparent is None else traceparent.decode("latin-1")
        )
        if span.recording:
            await self._recorded(span, scope, receive, send, request_headers)
            return
        token = CURRENT.set(span)
        try:
            reply = await self._reply(scope, receive, request_headers)
            await reply.send(send, receive)
        finally:
            CURRENT.reset(token)
        if reply.status >= 500:
            tracer.record_failure(span, scope["method"], scope["path"], reply.status)

    async def _reply(
        self, scope: Scope, receive: Receive, request_headers: dict[bytes, bytes] | None = None
    ) -> Reply | StreamReply:
        handler, params, other_method = self._routes.match(scope["method"], scope["path"])
        if handler is not None:
            return await handler(HttpRequest(scope, receive, params, request_headers))
        if other_method:
            return error_reply(f"method {scope['method']} not allowed on {scope['path']}", "method_not_allowed", 405)
        return error_reply(f"no route {scope['method']} {scope['path']}; see GET /v1/inspect/routes", "not_found", 404)

    async def _recorded(
        self, span: SpanRecord, scope: Scope, receive: Receive, send: Send, request_headers: dict[bytes, bytes]
    ) -> None:
        """A sampled request: its root span, with the status of the answer."""
        with activate(span):
            reply = await self._reply(scope, receive, request_headers)
            span.set("http.status_code", reply.status)
            if reply.status >= 400:
                span.status = "error"
            await reply.send(send, receive)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            try:
                message = await receive()
            except asyncio.CancelledError:  # the server quit without a lifespan shutdown (a second Ctrl-C)
                log.warning("forced exit: the providers were not stopped (queued spans or writes may be lost)")
                return
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.error("start-up failed: %s", exc)
                    if self.on_start_failure is not None:
                        self.on_start_failure(exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(config: RunConfig, pm: PluginManager | None = None) -> StackApp:
    """The ASGI app for a run config; providers start with the server (ASGI lifespan) or via ``app.running()``."""
    return StackApp(Stack(config, pm or PluginManager()))


__all__ = ["ServerContext", "StackApp", "create_app", "exception_reply"]
