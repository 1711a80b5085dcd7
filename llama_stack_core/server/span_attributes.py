"""What a provider call's span records about its answer: token usage and time to first chunk (inference)."""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel

from ..tracing import SpanRecord


_TOKEN_COUNT = re.compile(rb'"(prompt_tokens|completion_tokens|total_tokens)"\s*:\s*(\d+)')


def _usage_of(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, bytes):
        # Only the usage object is read, not the whole answer (an embeddings answer is kilobytes of numbers). A
        # "usage" key inside a string would be escaped (\"usage\"), so the last unescaped one is the answer's own.
        start = payload.rfind(b'"usage"')
        if start < 0:
            return None
        return {key.decode(): int(value) for key, value in _TOKEN_COUNT.findall(payload, start, start + 1000)}
    if isinstance(payload, BaseModel):
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
