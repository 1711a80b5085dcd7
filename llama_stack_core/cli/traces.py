"""``stack traces``: recent traces of a running server, and one trace as an indented span tree.

Talks to the server over HTTP (the Telemetry API), so it works with any telemetry provider that answers trace queries
(e.g. ``inline::trace-store``)::

    stack traces [--url URL] [--limit N]
    stack traces show TRACE_ID [--url URL]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .client import StackClient
from .table import print_table

#: Span attributes worth a glance in the tree, shown as ``label=value``.
_SHOWN = (
    ("provider.id", "provider"),
    ("resource.id", "model"),
    ("http.status_code", "status_code"),
    ("http.url", "url"),
    ("vector_store.id", "vector_store"),
    ("search.mode", "mode"),
    ("llm.time_to_first_chunk_ms", "first_chunk_ms"),
    ("error.type", "error"),
    ("error.message", "message"),
)
_NO_TRACES = (
    "has no telemetry provider that answers trace queries; add one (e.g. inline::trace-store) under "
    "providers.telemetry in its run config"
)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def format_duration(start: str | None, end: str | None) -> str:
    begin, finish = _time(start), _time(end)
    if begin is None or finish is None:
        return "running"
    ms = (finish - begin).total_seconds() * 1000
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _local(value: str | None) -> str:
    moment = _time(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _tree_summary(client: StackClient, trace: dict[str, Any]) -> tuple[str, int, str]:
    """Root name, span count and status of a trace whose listing lacks them (providers other than trace-store)."""
    tree = client.call("POST", f"/v1/telemetry/spans/{trace['root_span_id']}/tree", {})["data"]
    root = tree.get(trace["root_span_id"], {})
    status = "error" if any(s.get("status") == "error" for s in tree.values()) else "ok"
    return root.get("name", "?"), len(tree), root.get("status") or status


def list_traces(url: str, limit: int) -> None:
    with StackClient(url, not_configured=_NO_TRACES) as client:
        traces = client.call("POST", "/v1/telemetry/traces", {"limit": limit, "order_by": ["-start_time"]})["data"]
        rows = []
        for trace in traces:
            if {"root_span_name", "span_count", "status"} <= set(trace):
                name, count, status = trace["root_span_name"], trace["span_count"], trace["status"]
            else:
                name, count, status = _tree_summary(client, trace)
            rows.append(
                [
                    trace["trace_id"],
                    name or "?",
                    _local(trace.get("start_time")),
                    format_duration(trace.get("start_time"), trace.get("end_time")),
                    str(count),
                    status,
                ]
            )
    if not rows:
        print(f"no traces yet at {url}")
        return
    print_table(rows, ["TRACE ID", "ROOT", "START", "DURATION", "SPANS", "STATUS"])


def _details(span: dict[str, Any]) -> str:
    attributes = span.get("attributes") or {}
    parts = [f"{label}={attributes[key]}" for key, label in _SHOWN if attributes.get(key) not in (None, "")]
    tokens = [attributes.get(f"llm.{k}") for k in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if any(t is not None for t in tokens):
        parts.insert(2, "tokens={}+{}={}".format(*("?" if t is None else t for t in tokens)))
    return "  ".join(parts)


def show_trace(url: str, trace_id: str) -> None:
    with StackClient(url, not_configured=_NO_TRACES) as client:
        trace = client.call("GET", f"/v1/telemetry/traces/{trace_id}")
        tree = client.call("POST", f"/v1/telemetry/spans/{trace['root_span_id']}/tree", {})["data"]
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in tree.values():
        parent = span.get("parent_span_id") if span.get("parent_span_id") in tree else None
        children.setdefault(parent, []).append(span)
    for spans in children.values():
        spans.sort(key=lambda s: s.get("start_time") or "")
    trace_start = _time(trace.get("start_time"))
    print(
        f"trace {trace['trace_id']}  started {_local(trace.get('start_time'))}  "
        f"duration {format_duration(trace.get('start_time'), trace.get('end_time'))}  {len(tree)} spans"
    )

    def show(span: dict[str, Any], depth: int) -> None:
        start = _time(span.get("start_time"))
        offset = f"+{(start - trace_start).total_seconds() * 1000:.1f} ms" if start and trace_start else ""
        status = "ERROR" if span.get("status") == "error" else "ok"
        line = (
            f"{'  ' * depth}{span['name']}  {format_duration(span.get('start_time'), span.get('end_time'))}  "
            f"{status}  ({offset})"
        )
        details = _details(span)
        print(f"{line}  {details}" if details else line)
        for child in children.get(span["span_id"], []):
            show(child, depth + 1)

    for root in children.get(None, []):
        show(root, 0)


def cmd_traces(args: Any) -> None:
    if getattr(args, "trace_id", None):
        show_trace(args.url, args.trace_id)
    else:
        list_traces(args.url, args.limit)
