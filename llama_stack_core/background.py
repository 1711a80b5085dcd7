"""Background work a provider starts beyond a request (file ingestion, ...), awaited with a deadline at stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import ServiceUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundTasks:
    """The tasks one provider runs in the background. ``spawn`` starts one and keeps a reference until it ends;
    ``drain(timeout)`` (the :class:`~llama_stack_core.provider_contracts.DrainsBackgroundWork` contract) refuses new
    work, waits for the running tasks up to the deadline, then cancels and awaits the rest.

    A provider keeps one and forwards its ``drain``::

        self.background = BackgroundTasks("my-provider")
        self.background.spawn(self._ingest(file_id), name=f"ingest-{file_id}")

        async def drain(self, timeout: float) -> None:
            await self.background.drain(timeout)
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def ensure_open(self) -> None:
        """Refuse (503: the server is stopping) once ``drain`` has begun; call it before recording work to spawn."""
        if self._closed:
            raise ServiceUnavailableError(f"{self.owner} is shutting down; no new background work")

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``work`` as a task held here until it ends (refused as :meth:`ensure_open` says)."""
        if self._closed:
            work.close()
        self.ensure_open()
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the running tasks, then cancel what is left and wait for it to end."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            log.warning(
                "%s: %d background task(s) still running after %.1f s, cancelled: %s",
                self.owner,
                len(pending),
                timeout,
                ", ".join(sorted(t.get_name() for t in pending)),
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
