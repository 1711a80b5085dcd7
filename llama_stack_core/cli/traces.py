"""``stack traces``: recent traces of a running server, and one trace as an indented span tree.

Talks to the server over HTTP (the Telemetry API), so it works with any telemetry provider that answers trace queries
(e.g. ``inline::trace-store``)::

    stack traces [--url URL] [--limit N]
    stack traces show TRACE_ID [--url URL]
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from ..errors import ConfigError
from .table import print_table

DEFAULT_URL = "http://localhost:8321"
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


def default_url() -> str:
    """``$LLAMA_STACK_URL``, else the local server on ``$LLAMA_STACK_PORT`` (default 8321)."""
    if os.environ.get("LLAMA_STACK_URL"):
        return os.environ["LLAMA_STACK_URL"]
    port = os.environ.get("LLAMA_STACK_PORT")
    return f"http://localhost:{port}" if port else DEFAULT_URL


class _Client:
    def __init__(self, url: str, timeout: float = 15) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._httpx = httpx
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except self._httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot reach a Llama Stack server at {self.url} ({type(exc).__name__}: {exc}); "
                f"start one with `stack serve` or pass --url"
            ) from None
        if response.status_code == 501:
            raise ConfigError(
                f"the server at {self.url} has no telemetry provider that answers trace queries; add "
                f"one (e.g. inline::trace-store) under providers.telemetry in its run config"
            )
        if response.status_code >= 400:
            raise ConfigError(f"{method} {path}: HTTP {response.status_code}: {_error_message(response)}")
        try:
            return response.json()
        except ValueError:
            raise ConfigError(
                f"{method} {path}: the server at {self.url} did not answer with JSON; is it a Llama Stack server?"
            ) from None


def _error_message(response: Any) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


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


def _tree_summary(client: _Client, trace: dict[str, Any]) -> tuple[str, int, str]:
    """Root name, span count and status of a trace whose listing lacks them (providers other than trace-store)."""
    tree = client.call("POST", f"/v1/telemetry/spans/{trace['root_span_id']}/tree", {})["data"]
    root = tree.get(trace["root_span_id"], {})
    status = "error" if any(s.get("status") == "error" for s in tree.values()) else "ok"
    return root.get("name", "?"), len(tree), root.get("status") or status


def list_traces(url: str, limit: int) -> None:
    with _Client(url) as client:
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
    with _Client(url) as client:
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
