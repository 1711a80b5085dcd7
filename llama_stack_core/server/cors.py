"""CORS (``server.cors``): browsers on the listed origins may call the API. The app is wrapped only when origins are
listed, so by default no ``Access-Control-*`` header is ever sent and serving costs nothing more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..config.hardening import CorsSettings
from .http import Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METHODS = b"GET, POST, PUT, DELETE, OPTIONS"


class CorsMiddleware:
    """Answers preflight requests from allowed origins, and marks the answers to their other requests readable."""

    def __init__(self, app: ASGIApp, settings: CorsSettings) -> None:
        self.app = app
        self.any_origin = "*" in settings.allowed_origins and not settings.allow_credentials
        self.origins = {origin.rstrip("/").encode("latin-1") for origin in settings.allowed_origins}
        self.credentials = settings.allow_credentials
        self.preflight_headers = [
            (b"access-control-allow-methods", METHODS),
            (b"access-control-allow-headers", ", ".join(settings.allowed_headers).encode("latin-1")),
            (b"access-control-max-age", str(settings.max_age_seconds).encode()),
        ]

    def _allowed(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def _cors_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        headers = [(b"access-control-allow-origin", b"*" if self.any_origin else origin), (b"vary", b"Origin")]
        if self.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = next((value for name, value in scope["headers"] if name == b"origin"), None)
        if origin is None:
            await self.app(scope, receive, send)
            return
        is_preflight = scope["method"] == "OPTIONS" and any(
            name == b"access-control-request-method" for name, _ in scope["headers"]
        )
        if is_preflight:
            await self._preflight(origin, send)
            return
        if not self._allowed(origin):
            await self.app(scope, receive, send)  # served, but the browser will not let the page read it
            return
        extra = self._cors_headers(origin)

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: bytes, send: Send) -> None:
        if self._allowed(origin):
            status, headers, body = 204, [*self._cors_headers(origin), *self.preflight_headers], b""
        else:
            message = f"origin {origin.decode('latin-1')} is not allowed (server.cors.allowed_origins)"
            body = orjson.dumps({"error": {"message": message, "type": "cors_origin_not_allowed", "code": "403"}})
            status, headers = 403, [(b"content-type", b"application/json"), (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
