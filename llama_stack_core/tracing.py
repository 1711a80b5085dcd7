"""Request tracing: spans for every request, router call, provider call and outbound HTTP call.

Tracing is on when a telemetry provider that exports spans is configured. The root span of a request is opened by
the server with that stack's :class:`Tracer`; everything below finds the current span in a context variable and
opens children with the same tracer, so there is no global switch. With tracing off, ``child_span`` returns a
shared no-op at the cost of one context-variable read.

Finished spans are queued and handed to the exporters by a background task in batches, never on the request path.
Trace ids follow W3C Trace Context: an incoming ``traceparent`` is continued, and outbound calls send one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SpanRecord:
    """One finished (or running) span, as exporters receive it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    tracer: Tracer | None = field(default=None, repr=False, compare=False)

    def set(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def fail(self, exc: BaseException) -> None:
        self.status = "error"
        self.attributes["error.type"] = type(exc).__name__
        self.attributes["error.message"] = str(exc)[:500]

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


class _NoSpan:
    """What ``child_span`` yields when there is nothing to trace into."""

    __slots__ = ()
    traceparent = None

    def set(self, key: str, value: Any) -> None:
        pass

    def fail(self, exc: BaseException) -> None:
        pass


NO_SPAN = _NoSpan()
CURRENT: ContextVar[SpanRecord | None] = ContextVar("current_span", default=None)


class SpanExporter(Protocol):
    async def export_spans(self, spans: list[SpanRecord]) -> None: ...


def _new_id(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


def parse_traceparent(header: str | None) -> tuple[str, str] | None:
    """``(trace_id, parent_span_id)`` from a W3C ``traceparent`` header, or None if absent or malformed."""
    if not header:
        return None
    parts = header.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    if parts[1] == "0" * 32 or parts[2] == "0" * 16:
        return None
    return parts[1], parts[2]


class Tracer:
    """Creates spans and ships finished ones to exporters in the background."""

    def __init__(self, exporters: list[SpanExporter], *, max_queue: int = 50_000, flush_every: float = 0.5,
                 batch_size: int = 512) -> None:
        self.exporters = exporters
        self._queue: deque[SpanRecord] = deque()
        self._max_queue = max_queue
        self._flush_every = flush_every
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self.exporters)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="span-export")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    def root_span(self, name: str, traceparent: str | None = None, **attributes: Any) -> SpanRecord:
        parent = parse_traceparent(traceparent)
        trace_id, parent_id = parent if parent else (_new_id(16), None)
        return SpanRecord(trace_id, _new_id(8), parent_id, name, time.time_ns(), attributes=attributes, tracer=self)

    def finish(self, span: SpanRecord) -> None:
        span.end_ns = time.time_ns()
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._queue.append(span)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_every)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Hand every queued span to the exporters; returns once they have all been handed over."""
        async with self._flushing:
            await self._drain()

    async def _drain(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            for exporter in self.exporters:
                try:
                    await exporter.export_spans(batch)
                except Exception as exc:  # a failing exporter must not break the others or the server
                    log.warning("span exporter %s failed: %s", type(exporter).__name__, exc)


def current_span() -> SpanRecord | None:
    return CURRENT.get()


@contextmanager
def activate(span: SpanRecord) -> Iterator[SpanRecord]:
    """Make ``span`` current for the block; finish it at the end (marking errors)."""
    token = CURRENT.set(span)
    try:
        yield span
    except BaseException as exc:
        if not isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
            span.fail(exc)
        raise
    finally:
        CURRENT.reset(token)
        if span.tracer is not None:
            span.tracer.finish(span)


@contextmanager
def child_span(name: str, **attributes: Any) -> Iterator[SpanRecord | _NoSpan]:
    """A span under the current one, or a no-op when the request is not traced."""
    span = start_child(name, **attributes)
    if span is None:
        yield NO_SPAN
        return
    with activate(span):
        yield span


def start_child(name: str, **attributes: Any) -> SpanRecord | None:
    """A span under the current one that the caller finishes (``activate`` or ``traced_stream``); None if untraced."""
    parent = CURRENT.get()
    if parent is None:
        return None
    return SpanRecord(parent.trace_id, _new_id(8), parent.span_id, name, time.time_ns(), attributes=attributes,
                      tracer=parent.tracer)


async def traced_stream(span: SpanRecord, events: AsyncIterator[Any], observe: Any = None) -> AsyncIterator[Any]:
    """Pass a stream through, keeping ``span`` open until it ends; ``observe(span, item, first)`` sees each item."""
    first = True
    try:
        async for item in events:
            if observe is not None:
                observe(span, item, first)
            first = False
            yield item
    except Exception as exc:
        span.fail(exc)
        raise
    finally:
        if span.tracer is not None:
            span.tracer.finish(span)


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (or empty strings) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = CURRENT.get()
        record.trace_id = span.trace_id if span else ""
        record.span_id = span.span_id if span else ""
        return True
