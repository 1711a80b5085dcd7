"""Request tracing: spans for every request, router call, provider call and outbound HTTP call.

Tracing is on when a telemetry provider that exports spans is configured (and ``telemetry.enabled`` is not false).
The server's tracing middleware opens each request's root span with that stack's :class:`Tracer`; everything below
(each provider call, by ``routing.Operation``) finds the current span in a context variable and opens children with
the same tracer, so there is no global switch. With tracing off,
``child_span`` returns a shared no-op at the cost of one context-variable read.

Every request gets a trace context (its ids reach the logs and, as ``traceparent``, the upstream services), but only
*recorded* requests create span objects: the :class:`~llama_stack_core.trace_sampling.Sampler` decides per new trace,
an incoming ``traceparent`` decides by its sampled flag. Finished spans are queued and handed to the exporters by a
background task in batches, never on the request path. Trace ids follow W3C Trace Context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import msgspec

from .redaction import mask_secrets
from .token_usage import TokenMeter, UsagePoint
from .trace_sampling import Sampler

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SpanRecord:
    """One finished (or running) span, as exporters receive it.

    ``root`` marks the first span of the trace in this process: a request's span, whose parent (if any) is the
    caller's span in another service.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    root: bool = False
    tracer: Tracer | None = field(default=None, repr=False, compare=False)
    recording: ClassVar[bool] = True

    def set(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def child(self, name: str, attributes: dict[str, Any]) -> SpanRecord:
        """A new span under this one (its caller makes it current and finishes it)."""
        now = time.time_ns()
        return SpanRecord(
            self.trace_id, new_span_id(now), self.span_id, name, now, attributes=attributes, tracer=self.tracer
        )

    def fail(self, exc: BaseException) -> None:
        self.status = "error"
        self.attributes["error.type"] = type(exc).__name__
        self.attributes["error.message"] = mask_secrets(str(exc))[:500]

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


class UnsampledSpan(msgspec.Struct, gc=False):
    """The trace context of a request that is not recorded. Nothing is measured or exported; the ids exist only if
    something asks (a log line, a failure kept after all). A request that came with a caller's ``traceparent``
    passes that context on to upstream calls (sampled flag off); a new trace that is not recorded sends none.

    Every request not recorded creates one, so it is a msgspec Struct: its constructor is C (half the cost of a
    Python ``__init__``) and, holding no cycles, it is not tracked by the garbage collector."""

    tracer: Tracer
    start_ns: int
    parent_span_id: str | None = None  # the caller's span, when the trace came with a traceparent
    _trace_id: str | None = None
    _span_id: str | None = None
    traceparent: str | None = None  # what upstream calls carry: the caller's context, sampled flag off (or none)
    recording: ClassVar[bool] = False

    @property
    def trace_id(self) -> str:
        if self._trace_id is None:
            self._trace_id = new_trace_id(self.start_ns)
        return self._trace_id

    @property
    def span_id(self) -> str:
        if self._span_id is None:
            self._span_id = new_span_id(self.start_ns)
        return self._span_id

    def set(self, key: str, value: Any) -> None:
        pass

    def fail(self, exc: BaseException) -> None:
        pass


class _NoSpan:
    """What ``child_span`` yields when there is nothing to trace into."""

    __slots__ = ()
    traceparent = None
    recording = False

    def set(self, key: str, value: Any) -> None:
        pass

    def fail(self, exc: BaseException) -> None:
        pass


NO_SPAN = _NoSpan()
CURRENT: ContextVar[SpanRecord | UnsampledSpan | None] = ContextVar("current_span", default=None)


# Ids are random where W3C needs it and time-ordered in front, so the B-tree indexes of a trace store grow at one
# end instead of touching a random page per span (bench/README.md, "Figures behind the design"). Not secret, so the
# fast generator (reseeded after fork).


def new_trace_id(now_ns: int) -> str:
    """Microseconds since the epoch in the first 7 bytes, then 9 random bytes (W3C Trace Context level 2 asks for
    the right-most 7 to be random; samplers that read the low 64 bits see random bits)."""
    return f"{(((now_ns // 1000) & 0xFFFFFFFFFFFFFF) << 72) | random.getrandbits(72):032x}"


def new_span_id(now_ns: int) -> str:
    """About the second (16 bits, wrapping every 20 hours) in front, then 48 random bits; never zero."""
    return f"{(((now_ns >> 30) & 0xFFFF) << 48) | (random.getrandbits(48) or 1):016x}"


class TraceParent(NamedTuple):
    trace_id: str
    parent_span_id: str
    sampled: bool


def parse_traceparent(header: str | None) -> TraceParent | None:
    """The caller's trace context from a W3C ``traceparent`` header, or None if absent or malformed."""
    if not header:
        return None
    parts = header.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) < 2:
        return None
    try:
        int(parts[1], 16), int(parts[2], 16)
        flags = int(parts[3][:2], 16)
    except ValueError:
        return None
    if parts[1] == "0" * 32 or parts[2] == "0" * 16:
        return None
    return TraceParent(parts[1].lower(), parts[2].lower(), bool(flags & 1))


@runtime_checkable
class SpanExporter(Protocol):
    """For telemetry providers: called from the tracer's background task with batches of finished spans (never on
    the request path). A telemetry provider with this method turns request tracing on."""

    async def export_spans(self, spans: list[SpanRecord]) -> None: ...


@runtime_checkable
class UsageExporter(Protocol):
    """For telemetry providers that also export spans: called before each span batch with the per-minute token
    usage of every inference call since the last call, sampled or not."""

    async def export_usage(self, points: list[UsagePoint]) -> None: ...


class Tracer:
    """Opens request spans (recorded or not, as the sampler decides) and ships finished ones to exporters in the
    background."""

    def __init__(
        self,
        exporters: list[SpanExporter],
        *,
        sampler: Sampler | None = None,
        record_failed_requests: bool = True,
        max_queue: int = 50_000,
        flush_every: float = 0.5,
        batch_size: int = 512,
    ) -> None:
        self.exporters = exporters
        self._usage_exporters = [e for e in exporters if isinstance(e, UsageExporter)]
        self.sampler = sampler or Sampler()
        self.record_failed_requests = record_failed_requests
        self._queue: deque[SpanRecord] = deque()
        self._max_queue = max_queue
        self._flush_every = flush_every
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.dropped = 0
        self.tokens = TokenMeter()  # every inference call's usage, recorded or not (call_telemetry.meter_answer)
        self.enabled = bool(exporters)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="span-export")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # a cancelled caller still sees its cancellation
            self._task = None
        await self.flush()

    def request_span(self, method: str, path: str, traceparent: str | None) -> SpanRecord | UnsampledSpan:
        """The span of one HTTP request: recorded if the caller's sampled flag says so, or (for a new trace) if the
        sampler picks it; otherwise only a trace context."""
        if traceparent is None:
            if not self.sampler.sample():  # the common case under load: nothing to record
                return UnsampledSpan(self, time.time_ns())
            parent, recorded = None, True
        else:
            parent = parse_traceparent(traceparent)
            recorded = parent.sampled if parent else self.sampler.sample()
        now = time.time_ns()
        if recorded:
            return SpanRecord(
                parent.trace_id if parent else new_trace_id(now),
                new_span_id(now),
                parent.parent_span_id if parent else None,
                f"{method} {path}",
                now,
                attributes={"http.method": method, "http.target": path},
                root=True,
                tracer=self,
            )
        if parent is None:
            return UnsampledSpan(self, now)
        # the caller's context goes on unchanged: its span stands for this request's upstream calls too
        return UnsampledSpan(
            self,
            now,
            parent_span_id=parent.parent_span_id,
            _trace_id=parent.trace_id,
            _span_id=parent.parent_span_id,
            traceparent=f"00-{parent.trace_id}-{parent.parent_span_id}-00",
        )

    def record_failure(self, span: UnsampledSpan, method: str, path: str, status: int) -> None:
        """Keep the root span of a request that failed with a server error even though it was not sampled."""
        if not self.record_failed_requests:
            return
        span_id = new_span_id(span.start_ns) if span.parent_span_id else span.span_id
        self.finish(
            SpanRecord(
                span.trace_id,
                span_id,
                span.parent_span_id,
                f"{method} {path}",
                span.start_ns,
                attributes={
                    "http.method": method,
                    "http.target": path,
                    "http.status_code": status,
                    "sampling.recorded_because": "error",
                },
                status="error",
                root=True,
                tracer=self,
            )
        )

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
            # asyncio.timeout, not wait_for: on Python 3.11 a wait_for whose event fires as the task is cancelled can
            # leave the task waiting forever (seen as a hung shutdown)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_every):
                    await self._wake.wait()
            self._wake.clear()
            self.sampler.refill()
            await self.flush()

    async def flush(self) -> None:
        """Hand every queued span to the exporters; returns once they have all been handed over."""
        async with self._flushing:
            await self._drain()

    async def _drain(self) -> None:
        # usage first: once a request's spans can be seen, its tokens have been handed over too
        usage = self.tokens.drain()
        for exporter in self._usage_exporters if usage else ():
            try:
                await exporter.export_usage(usage)
            except Exception as exc:  # a failing exporter must not break the others or the server
                log.warning("usage exporter %s failed: %s", type(exporter).__name__, exc)
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            for exporter in self.exporters:
                try:
                    await exporter.export_spans(batch)
                except Exception as exc:
                    log.warning("span exporter %s failed: %s", type(exporter).__name__, exc)


def current_span() -> SpanRecord | UnsampledSpan | None:
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
def child_span(name: str, **attributes: Any) -> Iterator[SpanRecord | UnsampledSpan | _NoSpan]:
    """A span under the current one; in a request that is not recorded, its trace context (a caller's
    ``traceparent`` still propagates); a no-op when there is no trace at all."""
    parent = CURRENT.get()
    if parent is None:
        yield NO_SPAN
        return
    if not parent.recording:
        yield parent
        return
    with activate(parent.child(name, attributes)) as span:
        yield span


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (or empty strings) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = CURRENT.get()
        record.trace_id = span.trace_id if span else ""
        record.span_id = span.span_id if span else ""
        return True
