"""Quotas as an ASGI wrapper, inside authentication (it needs the caller) and outside everything else: the app is
wrapped only with ``server.quota`` set. A request over a budget is answered 429 with ``Retry-After`` before any
route runs; the tokens a request spent are counted once its answer (a stream included) has been sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson

from ..errors import TooManyRequestsError
from ..request_context import PRINCIPAL
from ..server.errors import error_body
from ..server.http import JSON_HEADERS, Receive, Scope, Send
from .budgets import Budget, Plan, Quotas, Refusal
from .tokens import CHARGE, Charge

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
log = logging.getLogger("llama_stack_core.quota")


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


async def refuse(send: Send, refusal: Refusal) -> None:
    """429, the JSON error body, and ``Retry-After``: the seconds until the refusing budget's window frees."""
    error = TooManyRequestsError.error_type
    headers = [*JSON_HEADERS, (b"retry-after", str(refusal.retry_after).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(error_body(refusal.message, error, 429))})


async def unavailable(send: Send) -> None:
    body = error_body("the quota store cannot be reached; try again shortly", "service_unavailable", 503)
    await send({"type": "http.response.start", "status": 503, "headers": [*JSON_HEADERS, (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


class QuotaMiddleware:
    """Every request but those to ``exempt_paths`` counts against its caller's budgets (:class:`Quotas`)."""

    def __init__(self, app: ASGIApp, quotas: Quotas, exempt_paths: list[str]) -> None:
        self.app = app
        self.quotas = quotas
        self.exempt_paths = frozenset(exempt_paths)
        self._late: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        quotas = self.quotas
        plan = quotas.plan(PRINCIPAL.get(), client_address(scope))
        refusal = quotas.admit_now(plan)  # far from every limit: decided in memory
        if refusal is False:
            try:
                refusal = await quotas.admit(plan)
            except Exception as exc:
                log.warning("quota store failed: %s: %s", type(exc).__name__, exc)
                await unavailable(send)
                return
        if refusal is not None:
            await refuse(send, refusal)
            return
        if not plan.tokens:
            await self.app(scope, receive, send)
            return
        charge = Charge(plan, self._spend_later)
        reset = CHARGE.set(charge)
        try:
            await self.app(scope, receive, send)
        finally:
            CHARGE.reset(reset)
            tokens = charge.close()
            if write := quotas.spend_now(plan, tokens):
                await self._spend(write, tokens)

    async def _spend(self, budgets: list[Budget], tokens: int) -> None:
        try:
            await self.quotas.spend(budgets, tokens)
        except Exception as exc:  # the answer is sent; the tokens stay counted in memory and are written later
            log.warning("quota store failed while counting tokens: %s: %s", type(exc).__name__, exc)

    def _spend_later(self, plan: Plan, tokens: int) -> None:
        """Count the tokens of a call that ended after its request (a task the request started)."""
        if write := self.quotas.spend_now(plan, tokens):
            task = asyncio.ensure_future(self._spend(write, tokens))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
