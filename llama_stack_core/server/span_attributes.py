"""What a provider call's answer says for telemetry: token usage and time to first chunk (inference), onto its span
or, for a call whose trace is not recorded, into the tracer's token meter only."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ..token_usage import TOKEN_METRICS, TokenMeter, usage_in_json, usage_of
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


async def metered_stream(meter: TokenMeter, model: str | None, provider_id: str,
                         chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Pass a stream through, counting the usage its last chunks carry (unrecorded calls)."""
    counted = None  # the last chunk with token counts: the final ones (earlier chunks carry null or running counts)
    usage = None
    try:
        async for chunk in chunks:
            if type(chunk) is bytes:
                if b'_tokens"' in chunk:  # a count's key (inside a JSON string the quote would be escaped)
                    counted = chunk
            else:
                usage = usage_of(chunk) or usage
            yield chunk
    finally:
        meter.add(model, provider_id, usage_in_json(counted) if counted is not None else usage)
