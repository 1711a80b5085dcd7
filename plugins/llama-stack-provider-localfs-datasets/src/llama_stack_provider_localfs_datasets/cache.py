"""Parsed source files kept in memory, so paging through a file parses it once.

Entries are keyed by what identifies one version of a file (a path with its mtime and size, a Files API id), and
grouped by the file itself: a new version of a file replaces the old one's entry. The least recently used files are
dropped once the cache holds more than ``max_rows`` rows (the newest entry is always kept). Concurrent requests for
a file that is being parsed wait for that one parse.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class RowCache(Generic[T]):
    def __init__(self, max_rows: int, size: Callable[[T], int]) -> None:
        self.max_rows = max_rows
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Hashable, T]] = OrderedDict()  # key -> (file, value)
        self._loading: dict[Hashable, asyncio.Future[T]] = {}
        #: parses done (tests check that paging does not re-parse)
        self.loads = 0

    async def get(self, file: Hashable, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key`` (one version of ``file``), loading it once if absent."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry[1]
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(self._load(file, key, load))
            self._loading[key] = future
            future.add_done_callback(lambda done: self._done(key, done))
        return await asyncio.shield(future)  # a cancelled caller does not cancel the parse others wait for

    def _done(self, key: Hashable, future: asyncio.Future[T]) -> None:
        self._loading.pop(key, None)
        if not future.cancelled():
            future.exception()  # retrieved here too, in case every caller was cancelled

    async def _load(self, file: Hashable, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        value = await load()
        self.loads += 1
        self.forget(file)
        self._entries[key] = (file, value)
        self._evict()
        return value

    def forget(self, file: Hashable) -> None:
        """Drop every cached version of ``file``."""
        for key in [k for k, (f, _) in self._entries.items() if f == file]:
            del self._entries[key]

    def _evict(self) -> None:
        total = sum(self._size(value) for _, value in self._entries.values())
        while total > self.max_rows and len(self._entries) > 1:
            _, (_, value) = self._entries.popitem(last=False)
            total -= self._size(value)
