"""The ASGI application: every declared route in one route table; the stack started and stopped with the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ..apis import all_api_specs
from ..apis.routes import Api, Route
from ..config.model import RunConfig
from ..plugins import PluginManager
from ..stack import Stack
from .context import ServerContext
from .core_routes import INFO_ROUTES, RESOURCE_ROUTES
from .cors import CorsMiddleware
from .endpoints import core_endpoint, provider_endpoint, unconfigured_endpoint
from .errors import error_reply, exception_reply
from .http import JSON_HEADERS, HeadReply, HttpRequest, Receive, Reply, RouteTable, Scope, Send, StreamReply
from .limits import AllSlots, StreamSlots
from .tracing_middleware import TracingMiddleware

if TYPE_CHECKING:
    from ..auth.authenticator import Authenticator
    from ..quota.budgets import Quotas

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("llama_stack_core.server")


def tagged_routes() -> list[tuple[str, Route]]:
    """Every route the server declares, with the tag (API) it belongs to: the core's own first."""
    return [
        *(("inspect", r) for r in INFO_ROUTES),
        *(("resources", r) for r in RESOURCE_ROUTES),
        *((spec.api.value, r) for spec in all_api_specs() for r in spec.routes),
    ]


def route_table(context: ServerContext) -> RouteTable:
    """Each route's endpoint: the core's own handler, the API's operation (routed to a provider), or a 501 for an
    API with no provider here."""
    table = RouteTable()
    limits = context.stack.config.server.limits
    streams: StreamSlots | AllSlots = StreamSlots(limits.max_concurrent_streams_per_client)
    quota = context.stack.config.server.quota
    if quota is not None and quota.limits_streams:
        from ..quota.streams import CallerStreamSlots

        streams = AllSlots(streams, CallerStreamSlots(quota))
    for tag, route in context.tagged_routes:
        if route.handler is not None:
            handler = core_endpoint(route, context, limits)
        elif (router := context.stack.routers.get(Api(tag))) is not None:
            handler = provider_endpoint(route, router.operations[route.name], limits, streams)
        else:
            handler = unconfigured_endpoint(route, tag)
        for path in route.paths:
            table.add(route.method, path, handler)
    return table


def _no_route(scope: Scope, allowed: list[str]) -> Reply:
    if allowed:
        reply = error_reply(f"method {scope['method']} not allowed on {scope['path']}", "method_not_allowed", 405)
        reply.headers = [*JSON_HEADERS, (b"allow", ", ".join(allowed).encode())]
        return reply
    return error_reply(f"no route {scope['method']} {scope['path']}; see GET /v1/inspect/routes", "not_found", 404)


class RoutedApp:
    """The HTTP side of the server (HTTP scopes only): each request matched in the route table and answered by its
    endpoint."""

    def __init__(self, routes: RouteTable) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self.reply(scope, receive)).send(send, receive)

    async def reply(
        self, scope: Scope, receive: Receive, request_headers: dict[bytes, bytes] | None = None
    ) -> Reply | StreamReply | HeadReply:
        """The reply to a request, not sent yet (``request_headers``: the headers as a dict, if already built)."""
        handler, params, other_method = self.routes.match(scope["method"], scope["path"])
        if handler is not None:
            return await handler(HttpRequest(scope, receive, params, request_headers))
        if scope["method"] == "HEAD":  # a GET route answers HEAD: its status and headers, no body
            handler, params, _ = self.routes.match("GET", scope["path"])
            if handler is not None:
                return HeadReply(await handler(HttpRequest(scope, receive, params, request_headers)))
        return _no_route(scope, self.routes.allowed_methods(scope["path"]) if other_method else [])


class StackApp:
    """The ASGI app. ``state.stack`` is the Stack; routes exist once the stack has started. HTTP requests go to
    ``http``: the routed app, wrapped in :class:`TracingMiddleware` only if the stack traces."""

    def __init__(self, stack: Stack) -> None:
        self.state = SimpleNamespace(stack=stack, context=None)
        self.http: ASGIApp = RoutedApp(RouteTable())
        self._serve_http = self.http.__call__  # bound once: calling it skips the per-call lookup of ``__call__``
        #: called with the exception when start-up under an ASGI server's lifespan fails (``stack serve`` workers)
        self.on_start_failure: Callable[[Exception], None] | None = None
        self.authenticator: Authenticator | None = None  # with server.auth set, once started
        self.quotas: Quotas | None = None  # with server.quota set, once started

    async def start(self) -> None:
        """Start the stack's providers and build the route table (once; later calls do nothing)."""
        if self.state.context is not None:
            return
        stack = self.state.stack
        auth = stack.config.server.auth
        if auth is not None:  # first: a config asking for auth this install cannot give fails before providers start
            from ..auth.authenticator import Authenticator

            self.authenticator = Authenticator(auth)
        await stack.start()
        quota = stack.config.server.quota
        if quota is not None:  # before the route table: token budgets wrap the inference operations
            from ..quota import open_quotas

            self.quotas = await open_quotas(stack, quota)
        self.state.context = ServerContext(stack, tagged_routes())
        routed = RoutedApp(route_table(self.state.context))
        self.http = TracingMiddleware(routed, stack.tracer) if stack.tracer.enabled else routed
        if self.quotas is not None:  # wrapped only when configured; inside auth, which names the caller
            from ..quota.middleware import QuotaMiddleware

            self.http = QuotaMiddleware(self.http, self.quotas, quota.exempt_paths)
        if self.authenticator is not None:  # wrapped only when configured: with auth off, requests skip it
            from ..auth.middleware import AuthMiddleware
            from ..auth.policy import policy_for

            self.http = AuthMiddleware(self.http, self.authenticator, auth.public_paths, policy_for(auth.access_policy))
        cors = stack.config.server.cors
        if cors.allowed_origins:  # CORS off (the default): not wrapped; outermost, so preflights need no credentials
            self.http = CorsMiddleware(self.http, cors)
        self._serve_http = self.http.__call__

    async def stop(self) -> None:
        if self.quotas is not None:  # what is counted in memory is written before the stores close
            await self.quotas.counts.close()
        if self.authenticator is not None:
            await self.authenticator.close()
        await self.state.stack.stop()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StackApp]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._serve_http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

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


__all__ = ["RoutedApp", "ServerContext", "StackApp", "create_app", "exception_reply"]
