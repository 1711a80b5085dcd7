"""Request tracing as an ASGI wrapper around the routed app (HTTP scopes; ``StackApp`` answers the lifespan itself):
the app is wrapped only when the stack traces, so with tracing off it is served unwrapped, at no cost."""

from __future__ import annotations

from typing import Protocol

import orjson

from ..owners import OWNER_ATTRIBUTE, OWNER_ATTRIBUTES_ATTRIBUTE
from ..request_context import PRINCIPAL
from ..tracing import CURRENT, Tracer, activate
from .http import Receive, Reply, Scope, Send, StreamReply

TRACEPARENT_HEADER = b"traceparent"


class AnsweringApp(Protocol):
    """An app that hands its reply back unsent, so the wrapper learns the status without wrapping ``send``."""

    async def reply(
        self, scope: Scope, receive: Receive, request_headers: dict[bytes, bytes] | None = None
    ) -> Reply | StreamReply: ...


class TracingMiddleware:
    """Every HTTP request gets a trace context (continuing an incoming W3C ``traceparent``) as the current span; only
        sampled ones are recorded, with the reply's status on their root span, and an unsampled one that fails with a
        server error keeps its root span after all (``Tracer.record_failure``). With auth on, a recorded root span names the
    caller (``auth.principal``, and their attributes as JSON in ``auth.attributes``): the trace's owner."""

    def __init__(self, app: AnsweringApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        self._reply = app.reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the headers are read once, for the trace context and the endpoint (a traceparent sent twice: its last value)
        request_headers = dict(scope["headers"])
        traceparent = request_headers.get(TRACEPARENT_HEADER)
        span = self.tracer.request_span(
            scope["method"], scope["path"], None if traceparent is None else traceparent.decode("latin-1")
        )
        if span.recording:
            who = PRINCIPAL.get()
            if who is not None:  # the trace's owner, for access rules on the trace store
                span.set(OWNER_ATTRIBUTE, who.user)
                if who.attributes:
                    span.set(OWNER_ATTRIBUTES_ATTRIBUTE, orjson.dumps(dict(who.attributes)).decode())
            with activate(span):
                reply = await self._reply(scope, receive, request_headers)
                span.set("http.status_code", reply.status)
                if reply.status >= 400:
                    span.status = "error"
                await reply.send(send, receive)
            return
        token = CURRENT.set(span)
        try:
            reply = await self._reply(scope, receive, request_headers)
            await reply.send(send, receive)
        finally:
            CURRENT.reset(token)
        if reply.status >= 500:
            self.tracer.record_failure(span, scope["method"], scope["path"], reply.status)
