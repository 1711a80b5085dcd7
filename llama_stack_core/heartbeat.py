"""Signs of life of background work (a background response, an eval job): its runner, a server process, beats in the
work's store beside the work's record, so any process on that store can tell work whose process died (its beat is
stale) from work still running elsewhere, and the runner notices a cancel made through another process.

A runner keeps the work alive while it runs it::

    beats = Heartbeats(kv)
    keeper = asyncio.create_task(beats.keep_alive(job_id, runner, every=stale_after / 4, stopped=is_cancelled,
                                                  task=asyncio.current_task()))
    ...                                   # the work; ``keeper`` cancels this task if ``stopped()`` turns true
    keeper.cancel(); await beats.forget(job_id)

and a reader takes the work as interrupted once ``await beats.silent_for(job_id, record_written_at) >= stale_after``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from .storage import KVStore


class Beat(BaseModel):
    """The last sign of life of a piece of work's runner (a process)."""

    runner: str
    at: float


class Heartbeats:
    """The beats of one store's background work, under ``prefix`` + work id (kept apart from the records, so a beat
    never overwrites a record another process changed)."""

    def __init__(self, kv: KVStore, prefix: str = "b:") -> None:
        self.kv = kv
        self.prefix = prefix

    async def beat(self, work_id: str, runner: str) -> None:
        """Say that ``runner`` still runs this work."""
        await self.kv.set(self.prefix + work_id, Beat(runner=runner, at=time.time()).model_dump_json())

    async def last(self, work_id: str) -> Beat | None:
        raw = await self.kv.get(self.prefix + work_id)
        return Beat.model_validate_json(raw) if raw is not None else None

    async def forget(self, work_id: str) -> None:
        await self.kv.delete(self.prefix + work_id)

    async def silent_for(self, work_id: str, since: float | None = None) -> float:
        """Seconds since the work's runner last showed life: its last beat, or ``since`` (when its runner last wrote
        the work's record), whichever is later."""
        beat = await self.last(work_id)
        last = max(since or 0.0, beat.at if beat is not None else 0.0)
        return time.time() - last

    async def keep_alive(
        self,
        work_id: str,
        runner: str,
        *,
        every: float,
        stopped: Callable[[], Awaitable[bool]],
        task: asyncio.Task[Any] | None,
    ) -> None:
        """Beat every ``every`` seconds until cancelled. After each wait ask ``stopped()`` (the work was cancelled or
        deleted through another process): then cancel ``task`` (the run) and return."""
        while True:
            await self.beat(work_id, runner)
            await asyncio.sleep(every)
            if task is not None and await stopped():
                task.cancel()
                return
