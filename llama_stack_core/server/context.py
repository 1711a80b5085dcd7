"""What the core's own route handlers see: the stack and every declared route with the tag (API) it belongs to."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..apis.routes import Route
from .openapi import build_openapi

if TYPE_CHECKING:
    from ..stack import Stack


class ServerContext:
    """The stack and the server's routes, each tagged with its API (``inspect`` and ``resources`` for the core's)."""

    def __init__(self, stack: Stack, tagged_routes: list[tuple[str, Route]]) -> None:
        self.stack = stack
        self.tagged_routes = tagged_routes
        self._tag = {id(route): tag for tag, route in tagged_routes}

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
