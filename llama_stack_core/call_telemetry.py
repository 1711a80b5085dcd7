"""What a provider call tells telemetry: its span (when the trace is recorded), its token usage (inference: counted by
the tracer's meter whether or not the trace is recorded) and, for a stream, the time to its first chunk.

:func:`meter_answer` is the one place token usage reaches the :class:`~llama_stack_core.token_usage.TokenMeter`;
:func:`observed_stream` calls it with a stream's last chunk, where OpenAI-compatible servers put a stream's usage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from .token_usage import TOKEN_METRICS, TokenMeter, usage_of
from .tracing import SpanRecord


def meter_answer(meter: TokenMeter, model: str | None, provider_id: str, answer: Any, span: SpanRecord | None) -> None:
    """Count the token usage of an inference answer (or a stream's last chunk) once; on a recorded call's span it
    also becomes ``llm.*`` attributes. An unrecorded call's JSON bytes are read later, at the meter's drain."""
    if span is None:
        meter.add_answer(model, provider_id, answer)
        return
    usage = usage_of(answer)
    meter.add(model, provider_id, usage)
    if usage is not None:
        for key in TOKEN_METRICS:
            value = getattr(usage, key)
            if value is not None:
                span.set(f"llm.{key}", value)


async def observed_stream(
    chunks: AsyncIterator[Any],
    span: SpanRecord | None,
    meter: TokenMeter | None,
    model: str | None,
    provider_id: str,
) -> AsyncIterator[Any]:
    """A provider's stream passed through: the time to its first chunk onto ``span``; when it ends (or fails, or is
    closed early) the last chunk's usage to ``meter`` and ``span`` finished. Closing it closes the provider's
    stream."""
    last, first = None, True
    try:
        async for chunk in chunks:
            if first and span is not None:
                span.set("llm.time_to_first_chunk_ms", round((time.time_ns() - span.start_ns) / 1e6, 3))
            last, first = chunk, False
            yield chunk
    except Exception as exc:
        if span is not None:
            span.fail(exc)
        raise
    finally:
        if meter is not None:
            meter_answer(meter, model, provider_id, last, span)
        if span is not None and span.tracer is not None:
            span.tracer.finish(span)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
