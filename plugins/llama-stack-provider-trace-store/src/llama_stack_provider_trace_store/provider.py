"""inline::trace-store: the stack's spans (and events logged through the API) in SQL tables, queryable through the
Telemetry API.

The stack's tracer hands finished spans to :meth:`TraceStore.export_spans` from its background task; they are queued
here and written in batches (one transaction each) by this provider's own writer task, so neither requests nor the
tracer ever wait for the database. A query first writes whatever is still queued, so a process reads its own
spans. Retention runs in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

from llama_stack_core.apis.common import DataList
from llama_stack_core.apis.datasetio import AppendRowsRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.telemetry import (
    MAX_TTL_SECONDS,
    GetSpanRequest,
    GetSpanTreeRequest,
    GetTraceRequest,
    LogEventRequest,
    MetricDataPoint,
    MetricEvent,
    MetricLabel,
    MetricSeries,
    QueryMetricsRequest,
    QuerySpansRequest,
    QueryTracesRequest,
    SaveSpansToDatasetRequest,
    Span,
    SpanStartPayload,
    SpanTree,
    SpanWithStatus,
    StructuredLogEvent,
    Trace,
    UnstructuredLogEvent,
)
from llama_stack_core.errors import BadRequestError, NotConfiguredError, NotFoundError, UnprocessableError
from llama_stack_core.owners import (
    OWNER_ATTRIBUTE,
    OWNER_ATTRIBUTES_ATTRIBUTE,
    Action,
    Owner,
    authorize,
    guarded,
    may,
)
from llama_stack_core.token_usage import UsagePoint
from llama_stack_core.tracing import SpanRecord

from .config import TraceStoreConfig
from .db import loads, open_database
from .tables import BUCKET_SECONDS, Batch, EventRow, MetricPoint, SpanEnd, Tables

log = logging.getLogger(__name__)

#: query_spans and save_spans_to_dataset look at the spans of at most this many (most recent) matching traces.
MAX_TRACES_PER_SPAN_QUERY = 1000
_ORDER_COLUMNS = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "trace_id": "trace_id",
    "root_span_id": "root_span_id",
    "root_span_name": "root_name",
    "span_count": "span_count",
}
_BATCH_LISTS = {"span": "spans", "logged": "logged", "end": "ends", "event": "events", "metric": "metrics"}
_GRANULARITY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def now_ns() -> int:
    return time.time_ns()


def to_datetime(ns: int | None) -> datetime | None:
    if ns is None:
        return None
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1000)


def to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def parse_granularity(value: str | None) -> int:
    """Seconds in a granularity such as ``1m``, ``5m``, ``1h``, ``1d``, ``1w`` (whole minutes)."""
    match = _GRANULARITY.match(value or "1d")
    if not match or int(match.group(1)) == 0:
        raise BadRequestError(
            f"granularity {value!r}: expected a count and a unit (s, m, h, d, w), e.g. 1m, 1h, 1d", param="granularity"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_TTL_SECONDS:  # a step the store's 64-bit buckets could not count in
        raise BadRequestError(f"granularity {value!r}: at most a century", param="granularity")
    if seconds % BUCKET_SECONDS:
        raise BadRequestError(
            f"granularity {value!r}: metrics are kept per minute; use a whole number of minutes", param="granularity"
        )
    return seconds


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matcher(matcher: Any):
    name, value, operator = matcher.name, matcher.value, matcher.operator
    if operator in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise BadRequestError(
                f"label matcher {name}{operator}{value!r}: bad regular expression: {exc}", param="label_matchers"
            ) from None
        if operator == "=~":
            return lambda labels: pattern.fullmatch(labels.get(name, "")) is not None
        return lambda labels: pattern.fullmatch(labels.get(name, "")) is None
    if operator == "=":
        return lambda labels: labels.get(name, "") == value
    return lambda labels: labels.get(name, "") != value


class TraceStore:
    """A Telemetry provider and span exporter backed by SQL tables."""

    def __init__(self, config: TraceStoreConfig, tables: Tables, datasetio: Any = None) -> None:
        self.config = config
        self.tables = tables
        self.datasetio = datasetio
        self._queue: deque[tuple[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {"spans_written": 0, "dropped": 0, "write_errors": 0, "skipped": 0}
        self._skip_paths = tuple(config.skip_paths)
        self._skip_telemetry_api = any("/v1/telemetry".startswith(p) for p in self._skip_paths)
        self.last_retention: dict[str, Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._writer(), name="trace-store-writer"),
            asyncio.create_task(self._retention_loop(), name="trace-store-retention"),
        ]

    async def shutdown(self) -> None:
        async with self._write_lock:  # never cancel the writer in the middle of a batch (it would be lost)
            for task in self._tasks:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # a cancelled caller still sees its cancellation
        self._tasks = []
        await self.flush()
        await self.tables.db.close()

    async def health(self) -> dict[str, Any]:
        return {
            "status": "OK",
            "backend": self.tables.d.name,
            "queued": len(self._queue),
            **self.stats,
            "last_retention": self.last_retention,
        }

    # -- the write path --------------------------------------------------------------------------------------

    def _skipped(self, span: SpanRecord) -> bool:
        """The root span of a request to a skipped path (or a Telemetry API call, when that API is skipped)."""
        target = span.attributes.get("http.target")
        if isinstance(target, str) and target.startswith(self._skip_paths):
            return True
        return self._skip_telemetry_api and span.attributes.get("api") == "telemetry"

    def _drop_skipped(self, spans: list[SpanRecord]) -> list[SpanRecord]:
        """Spans minus skipped requests' spans and their descendants (those in the same batch: a request's spans
        finish together, children first)."""
        if not self._skip_paths:
            return spans
        dropped = {(s.trace_id, s.span_id) for s in spans if self._skipped(s)}
        if not dropped:
            return spans
        grew = True
        while grew:
            before = len(dropped)
            dropped.update((s.trace_id, s.span_id) for s in spans if (s.trace_id, s.parent_span_id) in dropped)
            grew = len(dropped) > before
        kept = [s for s in spans if (s.trace_id, s.span_id) not in dropped]
        self.stats["skipped"] += len(spans) - len(kept)
        return kept

    def _enqueue(self, kind: str, item: Any) -> None:
        if len(self._queue) >= self.config.max_queue:
            self.stats["dropped"] += 1
            return
        self._queue.append((kind, item))
        if len(self._queue) >= self.config.batch_size:
            self._wake.set()

    async def export_spans(self, spans: list[SpanRecord]) -> None:
        """Called by the stack's tracer (in the background) with finished spans: queued, written by the writer."""
        room = self.config.max_queue - len(self._queue)
        if room < len(spans):
            self.stats["dropped"] += len(spans) - max(room, 0)
            spans = spans[: max(room, 0)]
        self._queue.extend(zip(repeat("span"), spans))
        if len(self._queue) >= self.config.batch_size:
            self._wake.set()

    async def export_usage(self, points: list[UsagePoint]) -> None:
        """Called by the stack's tracer with the per-minute token usage of every inference call (sampled or not)."""
        for point in points:
            self._enqueue(
                "metric", MetricPoint(point.metric, point.labels, point.minute_ns, point.value, "tokens", point.count)
            )

    async def _writer(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # not wait_for: see Tracer._run (a hung shutdown on 3.11)
                async with asyncio.timeout(self.config.flush_interval_seconds):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued when the write lock is taken (in batches of ``batch_size``); spans queued meanwhile
        wait for the next flush, so a query never waits on a stream of new writes."""
        async with self._write_lock:
            remaining = len(self._queue)
            while remaining and self._queue:
                batch = Batch()
                size = min(self.config.batch_size, remaining, len(self._queue))
                remaining -= size
                for _ in range(size):
                    kind, item = self._queue.popleft()
                    getattr(batch, _BATCH_LISTS[kind]).append(item)
                batch.spans = self._drop_skipped(batch.spans)
                try:
                    self.stats["spans_written"] += await self.tables.write(batch)
                except Exception as exc:  # keep the stack serving; the batch is lost
                    self.stats["write_errors"] += 1
                    self.stats["dropped"] += len(batch)
                    log.warning(
                        "trace-store: could not write %d spans/events: %s: %s", len(batch), type(exc).__name__, exc
                    )

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.enforce_retention()
            except Exception as exc:
                log.warning("trace-store: retention failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.config.retention_interval_seconds)

    async def enforce_retention(self) -> dict[str, int]:
        await self.flush()
        now = now_ns()
        cutoff = now - int(self.config.retention_days * 86400 * 1_000_000_000)
        deleted = await self.tables.enforce_retention(cutoff, now, self.config.max_spans)
        self.last_retention = {"at": to_datetime(now).isoformat(), "deleted": deleted}
        if any(deleted.values()):
            log.info("trace-store retention deleted %s", deleted)
        return deleted

    # -- events ----------------------------------------------------------------------------------------------

    async def log_event(self, request: LogEventRequest) -> None:
        event = request.event
        ts = to_ns(event.timestamp)
        if not -(2**63) <= ts < 2**63:  # the store keeps nanoseconds in 64 bits
            raise BadRequestError(
                "event.timestamp: the trace store keeps times from 1677 to 2262", param="event.timestamp"
            )
        attributes = dict(event.attributes or {})
        expires = now_ns() + request.ttl_seconds * 1_000_000_000
        if isinstance(event, UnstructuredLogEvent):
            self._enqueue(
                "event",
                EventRow(
                    event.trace_id,
                    event.span_id,
                    ts,
                    event.type,
                    attributes,
                    expires,
                    severity=event.severity,
                    message=event.message,
                ),
            )
        elif isinstance(event, MetricEvent):
            self._enqueue(
                "event",
                EventRow(
                    event.trace_id,
                    event.span_id,
                    ts,
                    event.type,
                    attributes,
                    expires,
                    metric=event.metric,
                    value=float(event.value),
                    unit=event.unit,
                ),
            )
            labels = {k: _label_value(v) for k, v in attributes.items() if v is not None}
            self._enqueue("metric", MetricPoint(event.metric, labels, ts, float(event.value), event.unit))
        elif isinstance(event, StructuredLogEvent):
            payload = event.payload
            if isinstance(payload, SpanStartPayload):
                self._enqueue(
                    "logged",
                    SpanRecord(
                        event.trace_id, event.span_id, payload.parent_span_id, payload.name, ts, None, attributes
                    ),
                )
            else:
                self._enqueue("end", SpanEnd(event.trace_id, event.span_id, ts, payload.status, attributes))

    # -- traces and spans ------------------------------------------------------------------------------------

    @staticmethod
    def _trace(row: tuple[Any, ...]) -> Trace:
        trace_id, root_span_id, root_name, root_status, start, end, count, errors = row
        status = root_status or ("error" if errors else "ok")
        return Trace(
            trace_id=trace_id,
            root_span_id=root_span_id,
            start_time=to_datetime(start),
            end_time=to_datetime(end),
            root_span_name=root_name,
            span_count=int(count),
            status=status,
        )

    @staticmethod
    def _span(row: tuple[Any, ...], attributes_to_return: list[str] | None = None) -> SpanWithStatus:
        trace_id, span_id, parent_span_id, name, start, end, status, attributes = row
        attributes = loads(attributes) or {}
        if attributes_to_return:
            attributes = {k: attributes[k] for k in attributes_to_return if k in attributes}
        return SpanWithStatus(
            span_id=span_id,
            trace_id=trace_id,
            parent_span_id=parent_span_id,
            name=name,
            start_time=to_datetime(start),
            end_time=to_datetime(end),
            attributes=attributes,
            status=status if status in ("ok", "error") else None,
        )

    async def query_traces(self, request: QueryTracesRequest) -> DataList[Trace]:
        await self.flush()
        order: list[tuple[str, bool]] = []
        for field in request.order_by or ["-start_time"]:
            desc = field.startswith("-")
            column = _ORDER_COLUMNS.get(field.lstrip("-+"))
            if column is None:
                raise BadRequestError(
                    f"order_by {field!r}: expected one of {', '.join(_ORDER_COLUMNS)} (prefix '-' for descending)",
                    param="order_by",
                )
            order.append((column, desc))
        order.append(("trace_id", order[-1][1]))
        rows = await self.tables.list_traces(request.attribute_filters or [], order, request.limit, request.offset or 0)
        if guarded():  # the page's traces the caller may read (limit and offset count before this filter)
            rows = [r for r in rows if may(Action.read, "trace", r[0], await self._owner(r[0], r[1]))]
        return DataList[Trace](data=[self._trace(row) for row in rows])

    # -- owners (with server.auth on): a trace is its root span's caller's ------------------------------------

    async def _owner(self, trace_id: str, root_span_id: str | None = None) -> Owner | None:
        if root_span_id is None:
            trace = await self.tables.get_trace(trace_id)
            root_span_id = trace[1] if trace is not None else None
        root = await self.tables.get_span(trace_id, root_span_id) if root_span_id is not None else None
        attributes = (loads(root[7]) or {}) if root is not None else {}
        user = attributes.get(OWNER_ATTRIBUTE)
        if not isinstance(user, str) or not user:
            return None
        extra = loads(attributes.get(OWNER_ATTRIBUTES_ATTRIBUTE) or "null") or {}
        return Owner(principal=user, attributes=extra if isinstance(extra, dict) else {})

    async def _check(self, trace_id: str, not_found: NotFoundError) -> None:
        if guarded():
            authorize(Action.read, "trace", trace_id, await self._owner(trace_id), lambda: not_found)

    async def _readable_traces(self, trace_ids: set[str]) -> set[str]:
        if not guarded():
            return trace_ids
        return {t for t in trace_ids if may(Action.read, "trace", t, await self._owner(t))}

    async def get_trace(self, request: GetTraceRequest) -> Trace:
        await self.flush()
        row = await self.tables.get_trace(request.trace_id)
        not_found = NotFoundError(f"trace '{request.trace_id}' not found")
        if row is None:
            raise not_found
        await self._check(request.trace_id, not_found)
        return self._trace(row)

    async def get_span(self, request: GetSpanRequest) -> Span:
        await self.flush()
        row = await self.tables.get_span(request.trace_id, request.span_id)
        not_found = NotFoundError(f"span '{request.span_id}' not found in trace '{request.trace_id}'")
        if row is None:
            raise not_found
        await self._check(request.trace_id, not_found)
        return self._span(row)

    async def get_span_tree(self, request: GetSpanTreeRequest) -> SpanTree:
        """The span and its descendants, breadth first. ``max_depth`` counts levels as upstream does: 1 is the span
        alone, 2 adds its children, and so on (0 is the same as 1)."""
        await self.flush()
        rows = await self.tables.span_and_its_trace(request.span_id)
        not_found = NotFoundError(f"span '{request.span_id}' not found")
        if not rows:
            raise not_found
        await self._check(rows[0][0], not_found)
        children: dict[str | None, list[tuple[Any, ...]]] = {}
        by_id = {}
        for row in rows:
            children.setdefault(row[2], []).append(row)
            by_id[row[1]] = row
        levels = None if request.max_depth is None else max(1, request.max_depth)
        tree: dict[str, SpanWithStatus] = {}
        frontier, depth = [by_id[request.span_id]], 1
        while frontier and (levels is None or depth <= levels):
            for row in frontier:
                tree[row[1]] = self._span(row, request.attributes_to_return)
            frontier = [child for row in frontier for child in children.get(row[1], []) if child[1] not in tree]
            depth += 1
        return SpanTree(data=tree)

    async def _matching_spans(
        self, conditions: list[Any], attributes: list[str], max_depth: int | None
    ) -> list[SpanWithStatus]:
        """Spans of the traces that have a span matching every condition (upstream's semantics), within
        ``max_depth`` levels of their trace's root, that carry every attribute in ``attributes`` (projected on
        them); all spans with all attributes when ``attributes`` is empty."""
        await self.flush()
        rows = await self.tables.spans_of_matching_traces(conditions, MAX_TRACES_PER_SPAN_QUERY)
        if guarded():
            allowed = await self._readable_traces({row[0] for row in rows})
            rows = [row for row in rows if row[0] in allowed]
        levels = None if max_depth is None else max(1, max_depth)
        keep: list[tuple[Any, ...]] = []
        if levels is None:
            keep = rows
        else:
            by_trace: dict[str, list[tuple[Any, ...]]] = {}
            for row in rows:
                by_trace.setdefault(row[0], []).append(row)
            for spans in by_trace.values():
                ids = {row[1] for row in spans}
                children: dict[str, list[tuple[Any, ...]]] = {}
                frontier = []
                for row in spans:
                    if row[2] in ids:
                        children.setdefault(row[2], []).append(row)
                    else:
                        frontier.append(row)
                depth = 1
                while frontier and depth <= levels:
                    keep.extend(frontier)
                    frontier = [child for row in frontier for child in children.get(row[1], [])]
                    depth += 1
            keep.sort(key=lambda row: row[4])
        result = []
        for row in keep:
            span = self._span(row, attributes)
            if all(key in span.attributes for key in attributes):
                result.append(span)
        return result

    async def query_spans(self, request: QuerySpansRequest) -> DataList[Span]:
        spans = await self._matching_spans(request.attribute_filters, request.attributes_to_return, request.max_depth)
        return DataList[Span](data=spans)

    async def save_spans_to_dataset(self, request: SaveSpansToDatasetRequest) -> None:
        if self.datasetio is None:
            raise NotConfiguredError(
                "save_spans_to_dataset appends rows through the datasetio API, which this stack "
                "does not serve; add a datasetio provider to the run config"
            )
        await self.datasetio.resolve("dataset", request.dataset_id)  # 404 for an unknown dataset
        spans = await self._matching_spans(request.attribute_filters, request.attributes_to_save, request.max_depth)
        rows = [
            {
                "trace_id": s.trace_id,
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id,
                "name": s.name,
                "start_time": s.start_time.isoformat(),
                "end_time": s.end_time.isoformat() if s.end_time else None,
                **{key: s.attributes.get(key) for key in request.attributes_to_save},
            }
            for s in spans
        ]
        if rows:
            try:
                await self.datasetio.call("append_rows", AppendRowsRequest(dataset_id=request.dataset_id, rows=rows))
            except UnprocessableError as exc:  # the dataset's columns: about dataset_id here, not this request's rows
                raise BadRequestError(
                    f"dataset '{request.dataset_id}' does not take these spans as rows: {exc.message}",
                    param="dataset_id",
                ) from None

    # -- metrics ---------------------------------------------------------------------------------------------

    async def query_metrics(self, request: QueryMetricsRequest) -> DataList[MetricSeries]:
        """Per-minute aggregates summed per label set: per ``granularity`` step (range) or over the whole interval
        (instant). Token metrics (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) are labelled ``model``
        (the model id requested) and ``provider_id``; metric events carry their attributes as labels."""
        end = request.end_time if request.end_time is not None else now_ns() // 1_000_000_000
        if end < request.start_time:
            raise BadRequestError("end_time is before start_time", param="end_time")
        step = parse_granularity(request.granularity) if request.query_type == "range" else None
        matchers = [_matcher(m) for m in request.label_matchers or []]
        await self.flush()
        rows = await self.tables.metric_rows(
            request.metric_name,
            request.start_time // BUCKET_SECONDS * BUCKET_SECONDS,
            end // BUCKET_SECONDS * BUCKET_SECONDS,
            step,
        )
        series: dict[str, MetricSeries] = {}
        for labels_json, index, total, count, unit in rows:
            labels = loads(labels_json) or {}
            if not all(match(labels) for match in matchers):
                continue
            entry = series.get(labels_json)
            if entry is None:
                entry = series[labels_json] = MetricSeries(
                    metric=request.metric_name,
                    labels=[MetricLabel(name=k, value=v) for k, v in sorted(labels.items())],
                    values=[],
                )
            timestamp = end if index is None else index * step
            entry.values.append(MetricDataPoint(timestamp=timestamp, value=total, unit=unit, count=count))
        return DataList[MetricSeries](data=list(series.values()))


async def create_provider(config: TraceStoreConfig, deps: dict[Api, Any]) -> TraceStore:
    db = await open_database(config.persistence.backend, config.table_prefix, config.pool_max_size)
    store = TraceStore(config, Tables(db, config.table_prefix), deps.get(Api.datasetio))
    store.start()
    return store
