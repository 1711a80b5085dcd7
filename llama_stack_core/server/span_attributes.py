"""What a provider call's span records about its answer: token usage and time to first chunk (inference)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from pydantic import BaseModel

from ..tracing import SpanRecord


def _usage_of(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, bytes):
        if b'"usage"' not in payload:
            return None
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
    elif isinstance(payload, BaseModel):
        payload = {"usage": getattr(payload, "usage", None), "model": getattr(payload, "model", None)}
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if isinstance(usage, BaseModel):
        usage = usage.model_dump()
    return usage if isinstance(usage, dict) else None


def record_usage(span: SpanRecord, payload: Any) -> None:
    """Copy ``usage`` token counts of an OpenAI-shaped answer or chunk onto the span."""
    usage = _usage_of(payload)
    if usage:
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if isinstance(usage.get(key), int):
                span.set(f"llm.{key}", usage[key])


def observe_chunk(span: SpanRecord, chunk: Any, first: bool) -> None:
    if first:
        span.set("llm.time_to_first_chunk_ms", round((time.time_ns() - span.start_ns) / 1e6, 3))
    record_usage(span, chunk)
