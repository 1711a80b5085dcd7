"""Counts in fixed windows, shared by every process that uses the same KV store.

A count's key names its window (``<name>@<period>:<window index>``), so a new window starts from zero without a
reset, and each increment is atomic across processes (``insert`` for the window's first, ``compare_and_set`` after).

A store round trip per request would cost more than the rest of the gateway, so a process keeps what it counted in
memory (``pending``) while it is far from a limit: once it has read a count from the store (its first use in a
window), it may hold up to ``local_share`` of what the store says is left before it must write. Near a limit that allowance falls below one request and every request is checked and counted
in the store, exactly. Counts in memory are written, and other processes' read, every ``sync_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..storage import KVStore

log = logging.getLogger("llama_stack_core.quota")

#: what :meth:`SharedCounts.take_now` answers besides a refusal's wait (always > 0)
COUNTED = 0.0
ASK_STORE = -1.0


@dataclass(slots=True)
class Count:
    """One name's count in one window, as this process knows it."""

    key: str
    previous_key: str
    end: float  # when the window ends (clock seconds)
    known: int = 0  # the store's count when last read or written
    pending: int = 0  # counted here, not written yet
    writing: int = 0  # being written right now
    stored: bool = False  # the key exists in the store (as far as this process knows)
    synced: bool = False  # read or written at least once: ``known`` is the store's count, not a guess
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def total(self) -> int:
        return self.known + self.writing + self.pending


class SharedCounts:
    """Counters by name and period, in ``store``. ``clock``: seconds since the epoch (injectable for tests)."""

    def __init__(
        self,
        store: KVStore,
        *,
        local_share: float = 0.05,
        sync_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.local_share = local_share
        self.sync_seconds = sync_seconds
        self.clock = clock
        self._counts: dict[tuple[str, float], Count] = {}
        self._task: asyncio.Task[None] | None = None
        self.round_trips = 0  # store calls made, for tests and the benchmark

    def current(self, name: str, period: float) -> tuple[Count, float]:
        """The count of ``name`` in the window of ``period`` that is open now, and now."""
        now = self.clock()
        count = self._counts.get((name, period))
        if count is None or now >= count.end:
            index = int(now // period)
            count = Count(f"{name}@{period:g}:{index}", f"{name}@{period:g}:{index - 1}", (index + 1) * period)
            self._counts[name, period] = count
        return count, now

    def take_now(self, name: str, period: float, limit: int, cost: int) -> float:
        """:meth:`take` without the store: :data:`COUNTED` (in memory), the seconds until the window ends (refused
        for sure), or :data:`ASK_STORE` (too near the limit, or the count not read yet in this window)."""
        count, now = self.current(name, period)
        if count.total + max(cost, 1) > limit:  # over for sure: counts only grow within a window
            return count.end - now
        if count.synced and count.pending + cost <= self.local_share * (limit - count.known):
            count.pending += cost
            return COUNTED
        return ASK_STORE

    async def take(self, name: str, period: float, limit: int, cost: int) -> float | None:
        """Count ``cost`` unless that would go over ``limit`` (``cost`` 0: refuse if the limit is reached). Returns
        None when counted, else the seconds until the window ends."""
        wait = self.take_now(name, period, limit, cost)
        if wait == COUNTED:
            return None
        if wait != ASK_STORE:
            return wait
        count, _ = self.current(name, period)
        if await self._sync(count, limit, cost):
            return None
        return count.end - self.clock()

    def give_back(self, name: str, period: float, cost: int) -> None:
        """Undo a :meth:`take` of the same window (a request refused by another of its limits)."""
        count = self._counts.get((name, period))
        if count is not None:
            count.pending -= cost

    def add_now(self, name: str, period: float, limit: int | None, amount: int) -> bool:
        """Count ``amount`` whatever the limit (tokens already spent); False: it must be written now (near
        ``limit``, or the count not read yet in this window), by :meth:`add`."""
        count, _ = self.current(name, period)
        if limit is None or not count.synced or count.pending + amount > self.local_share * (limit - count.known):
            return False
        count.pending += amount
        return True

    async def add(self, name: str, period: float, limit: int | None, amount: int) -> None:
        """Count ``amount`` whatever the limit; written at once when near ``limit``."""
        if not self.add_now(name, period, limit, amount):
            count, _ = self.current(name, period)
            count.pending += amount
            await self._sync(count, None, 0)

    async def _sync(self, count: Count, limit: int | None, cost: int) -> bool:
        """Write ``pending`` (+ ``cost`` if it stays within ``limit``) to the store and learn its count. Returns
        whether ``cost`` was counted."""
        async with count.lock:
            batch, count.pending = count.pending, 0
            count.writing = batch
            try:
                fits = await self._write(count, batch, limit, cost)
                count.synced = True
                return fits
            except BaseException:
                count.pending += batch
                raise
            finally:
                count.writing = 0

    async def _write(self, count: Count, batch: int, limit: int | None, cost: int) -> bool:
        store = self.store
        expected: int | None = count.known if count.stored else None
        while True:
            if expected is None:
                fits = limit is None or batch + max(cost, 1) <= limit
                value = batch + (cost if fits else 0)
                self.round_trips += 1
                if await store.insert(count.key, str(max(value, 0))):
                    count.known, count.stored = max(value, 0), True
                    self.round_trips += 1
                    with contextlib.suppress(Exception):  # the window before is over: its count is not needed
                        await store.delete(count.previous_key)
                    return fits
                expected = await self._read(count)
                continue
            fits = limit is None or expected + batch + max(cost, 1) <= limit
            value = max(expected + batch + (cost if fits else 0), 0)
            if value == expected:
                count.known = expected
                return fits
            self.round_trips += 1
            if await store.compare_and_set(count.key, str(expected), str(value)):
                count.known = value
                return fits
            expected = await self._read(count)

    async def _read(self, count: Count) -> int | None:
        self.round_trips += 1
        raw = await self.store.get(count.key)
        count.stored = raw is not None
        return int(raw) if raw is not None else None

    async def sync(self) -> None:
        """Write what this process counted and read what the others did (open windows); forget ended windows."""
        now = self.clock()
        for key, count in list(self._counts.items()):
            if now >= count.end:
                del self._counts[key]
            elif count.pending:
                await self._sync(count, None, 0)
            else:
                async with count.lock:
                    known = await self._read(count)
                    count.known, count.synced = max(count.known, known or 0), True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="quota-sync")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.sync()
            except Exception as exc:  # the store is down: keep counting in memory, try again next time
                log.warning("quota counts not synced: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:
        """Stop syncing; write what is still pending."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.sync()
        except Exception as exc:
            log.warning("quota counts not written at shutdown: %s: %s", type(exc).__name__, exc)
