"""What a provider call's answer says for telemetry: token usage and time to first chunk (inference), onto its span
or, for a call whose trace is not recorded, into the tracer's token meter only."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel

from ..token_usage import TOKEN_METRICS, TokenMeter
from ..tracing import SpanRecord


_TOKEN_COUNT = re.compile(rb'"(prompt_tokens|completion_tokens|total_tokens)"\s*:\s*(\d+)')


def usage_of(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, bytes):
        # Only the usage object is read, not the whole answer (an embeddings answer is kilobytes of numbers). A
        # "usage" key inside a string would be escaped (\"usage\"), so the last unescaped one is the answer's own.
        start = payload.rfind(b'"usage"')
        if start < 0:
            return None
        opening = payload.find(b"{", start, start + 20)
        closing = payload.find(b"}", opening)
        if opening > 0 and closing > 0:
            try:  # a flat usage object (most servers): parse just that
                usage = orjson.loads(payload[opening:closing + 1])
                if "prompt_tokens_details" not in usage and "completion_tokens_details" not in usage:
                    return usage
            except orjson.JSONDecodeError:
                pass  # nested details (OpenAI): the first "}" closed them
        return {key.decode(): int(value) for key, value in _TOKEN_COUNT.findall(payload, start, start + 600)}
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
    usage = usage_of(payload)
    if usage:
        for key in TOKEN_METRICS:
            if isinstance(usage.get(key), int):
                span.set(f"llm.{key}", usage[key])


def observe_chunk(span: SpanRecord, chunk: Any, first: bool) -> None:
    if first:
        span.set("llm.time_to_first_chunk_ms", round((time.time_ns() - span.start_ns) / 1e6, 3))
    record_usage(span, chunk)


async def metered_stream(meter: TokenMeter, model: str | None, provider_id: str,
                         chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Pass a stream through, counting the usage its last chunks carry (unrecorded calls)."""
    usage = None
    try:
        async for chunk in chunks:
            usage = usage_of(chunk) or usage
            yield chunk
    finally:
        meter.add(model, provider_id, usage)
