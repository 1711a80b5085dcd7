"""What a provider call's answer says for telemetry: token usage and time to first chunk (inference), onto its span
(a call whose trace is not recorded only gives its usage to the tracer's token meter: ``endpoints.metered_reply``)."""

from __future__ import annotations

import time
from typing import Any

from ..token_usage import TOKEN_METRICS, usage_of
from ..tracing import SpanRecord


def record_usage(span: SpanRecord, payload: Any) -> None:
    """Copy ``usage`` token counts of an OpenAI-shaped answer or chunk onto the span."""
    usage = usage_of(payload)
    if usage is not None:
        for key in TOKEN_METRICS:
            value = getattr(usage, key)
            if value is not None:
                span.set(f"llm.{key}", value)


def observe_chunk(span: SpanRecord, chunk: Any, first: bool) -> None:
    if first:
        span.set("llm.time_to_first_chunk_ms", round((time.time_ns() - span.start_ns) / 1e6, 3))
    record_usage(span, chunk)
