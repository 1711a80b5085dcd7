"""The trace store's tables and every statement on them, for either backend (see db.py).

Tables (``<p>`` is the namespace):

- ``<p>_spans``: one row per span; the attributes in a JSON column; keyed by (trace_id, span_id), indexed by
  span_id, start time, name and the attributes queries filter on most (``resource.id``, ``provider.id``; on
  PostgreSQL a GIN index serves equality on any attribute).
- ``<p>_traces``: one row per trace, kept up to date as its spans arrive: root span, start/end, span and error
  counts. The root is the earliest span whose parent is not in the store (a request continued from a caller's
  ``traceparent`` has a parent outside the stack).
- ``<p>_metrics``: per-minute aggregates (sum and count) per metric and label set: token usage from inference spans
  and metric events.
- ``<p>_events``: events logged through the API (unstructured logs and metric events), until their TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_stack_core.tracing import SpanRecord

from .db import PostgresDB, SqliteDB, Tx, dumps, loads

SPAN_COLUMNS = "trace_id, span_id, parent_span_id, name, start_ns, end_ns, status, attributes"
TRACE_COLUMNS = "trace_id, root_span_id, root_name, root_status, start_ns, end_ns, span_count, error_count"
BUCKET_SECONDS = 60
_CHUNK = 500


@dataclass(slots=True)
class SpanEnd:
    trace_id: str
    span_id: str
    end_ns: int
    status: str
    attributes: dict[str, Any]


@dataclass(slots=True)
class EventRow:
    trace_id: str
    span_id: str
    ts_ns: int
    type: str
    attributes: dict[str, Any]
    expires_ns: int
    severity: str | None = None
    message: str | None = None
    metric: str | None = None
    value: float | None = None
    unit: str | None = None


@dataclass(slots=True)
class MetricPoint:
    metric: str
    labels: dict[str, str]
    ts_ns: int
    value: float
    unit: str | None
    count: int = 1


@dataclass
class Batch:
    """What one transaction writes. ``spans`` come from the stack's tracer (ids unique, ``root`` marks a trace's
    first span here); ``logged`` spans were started through the Telemetry API (they may repeat, and their roots are
    found by looking for their parents in the store)."""

    spans: list[SpanRecord] = field(default_factory=list)
    logged: list[SpanRecord] = field(default_factory=list)
    ends: list[SpanEnd] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.spans) + len(self.logged) + len(self.ends) + len(self.events) + len(self.metrics)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class Tables:
    def __init__(self, db: SqliteDB | PostgresDB, prefix: str) -> None:
        self.db = db
        self.d = db.dialect
        self.p = prefix
        self.spans, self.traces = f"{prefix}_spans", f"{prefix}_traces"
        self.metrics, self.events = f"{prefix}_metrics", f"{prefix}_events"

    # -- writes ----------------------------------------------------------------------------------------------

    async def write(self, batch: Batch) -> int:
        """Write a batch in one transaction; returns how many spans were new."""
        async with self.db.transaction(write=True) as tx:
            await self._insert_spans(tx, batch.spans)
            logged = await self._new_spans(tx, batch.logged)
            await self._insert_spans(tx, logged)
            roots = {(s.trace_id, s.span_id) for s in batch.spans if s.root or s.parent_span_id is None}
            rooted = {trace_id for trace_id, _ in roots}
            # spans whose trace has no root in this batch (it finishes later, or they were logged): best guess
            roots |= await self._roots(tx, [*(s for s in batch.spans if s.trace_id not in rooted), *logged])
            new = [*batch.spans, *logged]
            await self._upsert_traces(tx, new, roots)
            await self._upsert_metrics(tx, batch.metrics)
            await tx.executemany(
                f"INSERT INTO {self.events} (trace_id, span_id, ts_ns, type, severity, message, metric, value, unit, "
                f"attributes, expires_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {self.d.json_param}, ?)",
                [
                    (
                        e.trace_id,
                        e.span_id,
                        e.ts_ns,
                        e.type,
                        e.severity,
                        e.message,
                        e.metric,
                        e.value,
                        e.unit,
                        dumps(e.attributes),
                        e.expires_ns,
                    )
                    for e in batch.events
                ],
            )
            for end in batch.ends:
                await self._end_span(tx, end)
        return len(new)

    async def _insert_spans(self, tx: Tx, spans: list[SpanRecord]) -> None:
        if spans:
            await tx.executemany(
                f"INSERT INTO {self.spans} ({SPAN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, {self.d.json_param}) "
                f"ON CONFLICT (trace_id, span_id) DO NOTHING",
                [
                    (
                        s.trace_id,
                        s.span_id,
                        s.parent_span_id,
                        s.name,
                        s.start_ns,
                        s.end_ns,
                        s.status,
                        dumps(s.attributes),
                    )
                    for s in spans
                ],
            )

    async def _new_spans(self, tx: Tx, spans: list[SpanRecord]) -> list[SpanRecord]:
        """These spans minus repeats and those already stored."""
        unique: dict[tuple[str, str], SpanRecord] = {}
        for span in spans:
            unique.setdefault((span.trace_id, span.span_id), span)
        existing = await self._existing(tx, list(unique)) if unique else set()
        return [span for key, span in unique.items() if key not in existing]

    async def _existing(self, tx: Tx, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        wanted = set(keys)
        span_ids = sorted({span_id for _, span_id in keys})
        for chunk in _chunks(span_ids):
            rows = await tx.fetchall(
                f"SELECT trace_id, span_id FROM {self.spans} WHERE span_id IN ({_marks(len(chunk))})", chunk
            )
            found.update(key for key in ((r[0], r[1]) for r in rows) if key in wanted)
        return found

    async def _roots(self, tx: Tx, new: list[SpanRecord]) -> set[tuple[str, str]]:
        """The new spans whose parent is not stored (after this batch's inserts): root candidates."""
        parents = [(s.trace_id, s.parent_span_id) for s in new if s.parent_span_id]
        known = await self._existing(tx, parents) if parents else set()
        return {
            (s.trace_id, s.span_id) for s in new if not s.parent_span_id or (s.trace_id, s.parent_span_id) not in known
        }

    async def _upsert_traces(self, tx: Tx, new: list[SpanRecord], roots: set[tuple[str, str]]) -> None:
        per_trace: dict[str, dict[str, Any]] = {}
        for s in new:
            t = per_trace.setdefault(
                s.trace_id, {"start": s.start_ns, "end": s.end_ns, "count": 0, "errors": 0, "root": None}
            )
            t["start"] = min(t["start"], s.start_ns)
            if s.end_ns is not None:
                t["end"] = s.end_ns if t["end"] is None else max(t["end"], s.end_ns)
            t["count"] += 1
            t["errors"] += s.status == "error"
            if (s.trace_id, s.span_id) in roots and (t["root"] is None or s.start_ns < t["root"].start_ns):
                t["root"] = s
        T, d = self.traces, self.d
        newer_root = (
            f"excluded.root_span_id IS NOT NULL AND ({T}.root_span_id IS NULL OR "
            f"excluded.root_start_ns < {T}.root_start_ns)"
        )
        sql = (
            f"INSERT INTO {T} ({TRACE_COLUMNS}, root_start_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (trace_id) DO UPDATE SET "
            f"start_ns = {d.least(f'{T}.start_ns', 'excluded.start_ns')}, "
            f"end_ns = {d.greatest(f'{T}.end_ns', 'excluded.end_ns')}, "
            f"span_count = {T}.span_count + excluded.span_count, "
            f"error_count = {T}.error_count + excluded.error_count, "
            + ", ".join(
                f"{column} = CASE WHEN {newer_root} THEN excluded.{column} ELSE {T}.{column} END"
                for column in ("root_span_id", "root_name", "root_status", "root_start_ns")
            )
        )
        rows = []
        for trace_id, t in per_trace.items():
            root = t["root"]
            rows.append(
                (
                    trace_id,
                    root.span_id if root else None,
                    root.name if root else None,
                    root.status if root else None,
                    t["start"],
                    t["end"],
                    t["count"],
                    t["errors"],
                    root.start_ns if root else None,
                )
            )
        await tx.executemany(sql, rows)

    async def _upsert_metrics(self, tx: Tx, points: list[MetricPoint]) -> None:
        if not points:
            return
        merged: dict[tuple[str, str, int], list[Any]] = {}
        for point in points:
            bucket = point.ts_ns // 1_000_000_000 // BUCKET_SECONDS * BUCKET_SECONDS
            key = (point.metric, dumps(point.labels, sort=True), bucket)
            entry = merged.setdefault(key, [0.0, 0, point.unit])
            entry[0] += point.value
            entry[1] += point.count
            entry[2] = point.unit or entry[2]
        M = self.metrics
        await tx.executemany(
            f"INSERT INTO {M} (metric, labels, bucket, value, count, unit) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (metric, bucket, labels) DO UPDATE SET value = {M}.value + excluded.value, "
            f"count = {M}.count + excluded.count, unit = coalesce(excluded.unit, {M}.unit)",
            [
                (metric, labels, bucket, value, count, unit)
                for (metric, labels, bucket), (value, count, unit) in sorted(merged.items())
            ],
        )

    async def _end_span(self, tx: Tx, end: SpanEnd) -> None:
        attributes = {k: v for k, v in end.attributes.items() if v is not None}
        changed = await tx.execute(
            f"UPDATE {self.spans} SET end_ns = ?, status = ?, attributes = {self.d.merge_json('attributes')} "
            f"WHERE trace_id = ? AND span_id = ?",
            (end.end_ns, end.status, dumps(attributes), end.trace_id, end.span_id),
        )
        if changed:
            T = self.traces
            await tx.execute(
                f"UPDATE {T} SET end_ns = CASE WHEN end_ns IS NULL OR end_ns < ? THEN ? ELSE end_ns END, "
                f"error_count = error_count + ?, root_status = CASE WHEN root_span_id = ? THEN ? ELSE root_status END "
                f"WHERE trace_id = ?",
                (end.end_ns, end.end_ns, int(end.status == "error"), end.span_id, end.status, end.trace_id),
            )

    # -- reads -----------------------------------------------------------------------------------------------

    def _filters(self, conditions: Sequence[Any]) -> tuple[str, list[Any]]:
        """``AND trace_id IN (spans matching every condition)``, or nothing."""
        if not conditions:
            return "", []
        parts, params = [], []
        for c in conditions:
            sql, p = self.d.condition(c.key, c.op, c.value)
            parts.append(sql)
            params.extend(p)
        return f" AND trace_id IN (SELECT trace_id FROM {self.spans} WHERE {' AND '.join(parts)})", params

    async def list_traces(
        self, conditions: Sequence[Any], order: list[tuple[str, bool]], limit: int | None, offset: int
    ) -> list[tuple[Any, ...]]:
        where, params = self._filters(conditions)
        order_sql = ", ".join(f"{column} {'DESC' if desc else 'ASC'}" for column, desc in order)
        sql = (
            f"SELECT {TRACE_COLUMNS} FROM {self.traces} WHERE root_span_id IS NOT NULL{where} "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?"
        )
        async with self.db.transaction() as tx:
            no_limit = -1 if self.d.name == "sqlite" else None  # LIMIT -1 / LIMIT NULL: all rows
            return await tx.fetchall(sql, [*params, no_limit if limit is None else limit, offset])

    async def get_trace(self, trace_id: str) -> tuple[Any, ...] | None:
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(f"SELECT {TRACE_COLUMNS} FROM {self.traces} WHERE trace_id = ?", (trace_id,))
        return rows[0] if rows else None

    async def get_span(self, trace_id: str, span_id: str) -> tuple[Any, ...] | None:
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                f"SELECT {SPAN_COLUMNS} FROM {self.spans} WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)
            )
        return rows[0] if rows else None

    async def span_and_its_trace(self, span_id: str) -> list[tuple[Any, ...]]:
        """Every span of the (latest) trace holding ``span_id``; empty if there is none."""
        async with self.db.transaction() as tx:
            # No ORDER BY ... LIMIT here: PostgreSQL may then walk the start-time index instead of the span_id one.
            found = await tx.fetchall(f"SELECT start_ns, trace_id FROM {self.spans} WHERE span_id = ?", (span_id,))
            if not found:
                return []
            return await tx.fetchall(
                f"SELECT {SPAN_COLUMNS} FROM {self.spans} WHERE trace_id = ? ORDER BY start_ns", (max(found)[1],)
            )

    async def spans_of_matching_traces(self, conditions: Sequence[Any], max_traces: int) -> list[tuple[Any, ...]]:
        """The spans of the most recent ``max_traces`` traces having a span that matches every condition."""
        where, params = self._filters(conditions)
        async with self.db.transaction() as tx:
            trace_ids = [
                r[0]
                for r in await tx.fetchall(
                    f"SELECT trace_id FROM {self.traces} WHERE root_span_id IS NOT NULL{where} "
                    f"ORDER BY start_ns DESC LIMIT ?",
                    [*params, max_traces],
                )
            ]
            spans: list[tuple[Any, ...]] = []
            for chunk in _chunks(trace_ids):
                spans.extend(
                    await tx.fetchall(
                        f"SELECT {SPAN_COLUMNS} FROM {self.spans} WHERE trace_id IN "
                        f"({_marks(len(chunk))}) ORDER BY start_ns",
                        chunk,
                    )
                )
        return spans

    async def metric_rows(
        self, metric: str, first_bucket: int, last_bucket: int, step: int | None
    ) -> list[tuple[Any, ...]]:
        """``(labels, step index or None, sum, count, unit)`` per label set (and step) in the bucket range."""
        if step:
            sql = (
                f"SELECT labels, bucket / CAST(? AS BIGINT), SUM(value), SUM(count), MAX(unit) FROM {self.metrics} "
                f"WHERE metric = ? AND bucket >= ? AND bucket <= ? GROUP BY 1, 2 ORDER BY 1, 2"
            )
            params: list[Any] = [step, metric, first_bucket, last_bucket]
        else:
            sql = (
                f"SELECT labels, SUM(value), SUM(count), MAX(unit) FROM {self.metrics} "
                f"WHERE metric = ? AND bucket >= ? AND bucket <= ? GROUP BY labels ORDER BY labels"
            )
            params = [metric, first_bucket, last_bucket]
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(sql, params)
        if step:
            return [(labels, int(index), float(total), int(count), unit) for labels, index, total, count, unit in rows]
        return [(labels, None, float(total), int(count), unit) for labels, total, count, unit in rows]

    # -- retention -------------------------------------------------------------------------------------------

    async def enforce_retention(self, cutoff_ns: int, now_ns: int, max_spans: int) -> dict[str, int]:
        """Delete traces (whole, with their spans) that started before ``cutoff_ns``, then the oldest traces beyond
        ``max_spans`` spans; metric aggregates older than the cutoff; expired events."""
        deleted = await self._delete_traces_before(cutoff_ns)
        async with self.db.transaction() as tx:
            count = (await tx.fetchall(f"SELECT count(*) FROM {self.spans}"))[0][0]
        if count > max_spans:
            async with self.db.transaction() as tx:
                rows = await tx.fetchall(
                    f"SELECT start_ns FROM {self.spans} ORDER BY start_ns LIMIT 1 OFFSET ?", (count - max_spans - 1,)
                )
            if rows:
                for key, value in (await self._delete_traces_before(rows[0][0] + 1)).items():
                    deleted[key] += value
        async with self.db.transaction(write=True) as tx:
            deleted["spans"] += await tx.execute(f"DELETE FROM {self.spans} WHERE start_ns < ?", (cutoff_ns,))
            deleted["metrics"] = await tx.execute(
                f"DELETE FROM {self.metrics} WHERE bucket < ?",
                (cutoff_ns // 1_000_000_000 // BUCKET_SECONDS * BUCKET_SECONDS,),
            )
            deleted["events"] = await tx.execute(
                f"DELETE FROM {self.events} WHERE expires_ns < ? OR ts_ns < ?", (now_ns, cutoff_ns)
            )
        return deleted

    async def _delete_traces_before(self, before_ns: int) -> dict[str, int]:
        deleted = {"traces": 0, "spans": 0}
        while True:
            async with self.db.transaction(write=True) as tx:
                ids = [
                    r[0]
                    for r in await tx.fetchall(
                        f"SELECT trace_id FROM {self.traces} WHERE start_ns < ? LIMIT ?", (before_ns, _CHUNK)
                    )
                ]
                if not ids:
                    return deleted
                marks = _marks(len(ids))
                deleted["spans"] += await tx.execute(f"DELETE FROM {self.spans} WHERE trace_id IN ({marks})", ids)
                deleted["traces"] += await tx.execute(f"DELETE FROM {self.traces} WHERE trace_id IN ({marks})", ids)


def span_attributes(row: tuple[Any, ...]) -> dict[str, Any]:
    return loads(row[7]) or {}
