"""Authentication as an ASGI wrapper: the app is wrapped only with ``server.auth`` set, so with auth off it costs
nothing. It sits outside everything else (tracing included): a refused request reaches no route, and the caller is
the current :data:`~llama_stack_core.request_context.PRINCIPAL` (with the access policy that judges them) for the
whole reply, streams included. A public path is answered as with auth off: list there only routes that show nothing
private."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..owners import Policy
from ..request_context import ACCESS_POLICY, PRINCIPAL
from ..server.errors import error_body
from ..server.http import JSON_HEADERS, Receive, Scope, Send
from .authenticator import Authenticator
from .errors import AuthError
from .policy import default_policy

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
REALM = 'Bearer realm="llama-stack"'


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _challenge(error: str | None, description: str) -> bytes:
    """The ``WWW-Authenticate`` value (RFC 6750); no credential: the bare challenge."""
    if error is None:
        return REALM.encode()
    safe = description.replace('"', "'").replace("\\", "/")
    return f'{REALM}, error="{error}", error_description="{safe}"'.encode()


async def _refuse(send: Send, status: int, message: str, challenge: bytes | None) -> None:
    import orjson

    error_type = "authentication_error" if status == 401 else "service_unavailable"
    headers = [*JSON_HEADERS, (b"www-authenticate", challenge)] if challenge is not None else JSON_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(error_body(message, error_type, status))})


class AuthMiddleware:
    """Every request but those to ``public_paths`` needs ``Authorization: Bearer <credential>``: missing or
    refused -> 401 with a ``WWW-Authenticate`` challenge (503 if the identity provider cannot be reached)."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, public_paths: list[str], policy: Policy | None = None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = frozenset(public_paths)
        self.policy = policy if policy is not None else default_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        if token is None:
            await _refuse(
                send, 401, "authentication required: send Authorization: Bearer <key or token>", _challenge(None, "")
            )
            return
        try:
            principal = await self.authenticator.authenticate(token)
        except AuthError as exc:
            challenge = _challenge("invalid_token", exc.message) if exc.status == 401 else None
            await _refuse(send, exc.status, exc.message, challenge)
            return
        reset = PRINCIPAL.set(principal)
        reset_policy = ACCESS_POLICY.set(self.policy)
        try:
            await self.app(scope, receive, send)
        finally:
            ACCESS_POLICY.reset(reset_policy)
            PRINCIPAL.reset(reset)
