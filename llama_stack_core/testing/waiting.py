"""Waiting for something that happens in the background, always with a deadline.

Tests never sleep a fixed time for a result and never poll without a bound: they wait with :func:`eventually` (in
async code) or :func:`eventually_sync` (in blocking code). A *condition* is met when it returns a truthy value without
raising ``AssertionError``; that value is returned. A condition may assert, to say why it is not met yet::

    async def stored() -> dict:
        response = await http.get(f"/v1/telemetry/traces/{trace_id}")
        assert response.status_code == 200, response.text
        return response.json()

    trace = await eventually(stored, what="the trace")
    eventually_sync(lambda: marker.exists(), timeout=5)

Any other exception propagates at once (a server process that exited is not worth waiting for).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds a condition gets unless the caller says otherwise: ample for background work on a loaded machine.
DEFAULT_TIMEOUT = 30.0
#: Seconds between two checks.
DEFAULT_INTERVAL = 0.02


class _Attempts:
    """The deadline and the reason the condition was last not met."""

    def __init__(self, timeout: float, what: str | None) -> None:
        self.timeout = timeout
        self.what = what
        self.deadline = time.monotonic() + timeout
        self.last: str = "it never returned a truthy value"

    def met(self, outcome: Any) -> bool:
        if outcome:
            return True
        self.last = f"it returned {outcome!r}"
        return False

    def failed(self, exc: AssertionError) -> None:
        self.last = str(exc) or "AssertionError"

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise AssertionError(f"{self.what or 'condition'} not met within {self.timeout}s: {self.last}")


async def eventually(
    condition: Callable[[], Awaitable[T] | T],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
) -> T:
    """Check ``condition`` (sync or async) every ``interval`` seconds until it is met; fail after ``timeout``."""
    attempts = _Attempts(timeout, what)
    while True:
        try:
            outcome = condition()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if attempts.met(outcome):
                return outcome
        except AssertionError as exc:
            attempts.failed(exc)
        attempts.check_deadline()
        await asyncio.sleep(interval)


def eventually_sync(
    condition: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
) -> T:
    """Check ``condition`` every ``interval`` seconds, blocking, until it is met; fail after ``timeout``."""
    attempts = _Attempts(timeout, what)
    while True:
        try:
            outcome = condition()
            if attempts.met(outcome):
                return outcome
        except AssertionError as exc:
            attempts.failed(exc)
        attempts.check_deadline()
        time.sleep(interval)
