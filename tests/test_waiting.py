"""The one way tests wait for background work: ``eventually`` / ``eventually_sync`` (bounded, never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time

import pytest

from llama_stack_core.testing.waiting import eventually, eventually_sync


class Countdown:
    """A condition met on its ``n``-th check; before that it asserts (or returns ``falsy``) with the checks left."""

    def __init__(self, n: int, falsy: bool = False) -> None:
        self.left = n
        self.falsy = falsy

    def __call__(self) -> str:
        self.left -= 1
        if self.falsy and self.left > 0:
            return ""
        assert self.left <= 0, f"{self.left} checks to go"
        return "done"


@pytest.mark.parametrize("falsy", [False, True])
def test_eventually_sync_returns_the_value_once_met(falsy):
    condition = Countdown(3, falsy=falsy)
    assert eventually_sync(condition, timeout=5, interval=0) == "done"
    assert condition.left == 0


def test_eventually_sync_fails_after_the_timeout_with_the_last_reason():
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"the thing not met within 0.1s: \d+ checks to go"):
        eventually_sync(Countdown(10**9), timeout=0.1, interval=0.01, what="the thing")
    assert time.monotonic() - started < 5
    with pytest.raises(AssertionError, match=r"condition not met within 0.05s: it returned \[\]"):
        eventually_sync(list, timeout=0.05, interval=0.01)


def test_other_errors_are_not_retried():
    calls = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("the server exited")

    with pytest.raises(RuntimeError, match="the server exited"):
        eventually_sync(broken, timeout=5)
    assert calls == [1]


@pytest.mark.anyio
async def test_eventually_awaits_async_conditions_and_lets_the_loop_run():
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, done.set)

    async def is_set() -> bool:
        return done.is_set()

    assert await eventually(is_set, timeout=5) is True
    assert await eventually(Countdown(2), timeout=5, interval=0) == "done"  # a plain function works too
    with pytest.raises(AssertionError, match="the flag not met within 0.05s: it returned False"):
        await eventually(lambda: False, timeout=0.05, what="the flag")
