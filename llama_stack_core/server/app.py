"""The starlette application: every declared route mounted, the stack started and stopped with the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route as StarletteRoute

from ..apis import all_api_specs
from ..apis.routes import Api, Route
from ..config.model import RunConfig
from ..plugins import PluginManager
from ..stack import Stack
from .core_routes import INFO_ROUTES, RESOURCE_ROUTES
from .endpoints import core_endpoint, provider_endpoint, unconfigured_endpoint
from .errors import http_exception_handler, unhandled_exception_handler
from .openapi import build_openapi


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

    def starlette_routes(self) -> list[StarletteRoute]:
        routes = []
        for tag, route in self.tagged_routes:
            if route.handler is not None:
                endpoint = core_endpoint(route, self)
            elif (router := self.stack.routers.get(Api(tag))) is not None:
                endpoint = provider_endpoint(route, router)
            else:
                endpoint = unconfigured_endpoint(route, tag)
            routes.extend(StarletteRoute(path, endpoint, methods=[route.method]) for path in route.paths)
        return routes


async def start_app(app: Starlette) -> None:
    """Start the stack's providers and mount the routes."""
    stack: Stack = app.state.stack
    await stack.start()
    context = ServerContext(stack)
    app.state.context = context
    app.router.routes[:] = context.starlette_routes()


async def stop_app(app: Starlette) -> None:
    await app.state.stack.stop()


@asynccontextmanager
async def running_stack(app: Starlette) -> AsyncIterator[None]:
    """Lifespan: start the stack and mount the routes; stop the stack on exit."""
    await start_app(app)
    try:
        yield
    finally:
        await stop_app(app)


def create_app(config: RunConfig, pm: PluginManager | None = None) -> Starlette:
    """The ASGI app for a run config; providers start in the app's lifespan."""
    app = Starlette(
        lifespan=running_stack,
        exception_handlers={HTTPException: http_exception_handler, Exception: unhandled_exception_handler},
    )
    app.state.stack = Stack(config, pm or PluginManager())
    return app
