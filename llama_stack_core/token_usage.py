"""Token usage per model and minute, counted for every inference call whether or not its trace is recorded.

Sampling decides which requests become spans; token accounting must not depend on it. The tracer's meter sums each
answer's ``usage`` per (model, provider), and the tracer hands the sums to telemetry providers that take them
(``export_usage``) from its background task, with the spans.

This runs on every inference request, so an answer that arrives as JSON bytes (an upstream's answer passed through)
is not parsed whole: only its usage object is (an embeddings answer is kilobytes of numbers).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")
MINUTE_NS = 60 * 1_000_000_000
USAGE_WINDOW = 600  # bytes searched for counts from a "usage" key whose object nests others (OpenAI's details)

_ANY_COUNT = re.compile(rb'"(prompt_tokens|completion_tokens|total_tokens)"\s*:\s*(\d+)(?![\d.eE])')


def usage_in_json(answer: bytes) -> dict[str, Any] | None:
    """The ``usage`` object of an OpenAI-shaped answer or chunk given as JSON bytes, reading only that object."""
    # A "usage" key inside a string would be escaped (\"usage\"), so the last unescaped one is the answer's own.
    start = answer.rfind(b'"usage"')
    if start < 0:
        return None
    try:  # a flat usage object (most servers): parse just that
        return orjson.loads(answer[answer.index(b"{", start):answer.index(b"}", start) + 1])
    except ValueError:  # null, or nested details (OpenAI): the first "}" closed an inner object
        pass
    return {key.decode(): int(value) for key, value in _ANY_COUNT.findall(answer, start, start + USAGE_WINDOW)}


def usage_of(answer: Any) -> dict[str, Any] | None:
    """The ``usage`` object of an OpenAI-shaped answer or chunk: JSON bytes, a pydantic model or a dict."""
    if isinstance(answer, bytes):
        return usage_in_json(answer)
    if isinstance(answer, BaseModel):
        answer = {"usage": getattr(answer, "usage", None)}
    if not isinstance(answer, dict):
        return None
    usage = answer.get("usage")
    if isinstance(usage, BaseModel):
        usage = usage.model_dump()
    return usage if isinstance(usage, dict) else None


@dataclass(slots=True)
class UsagePoint:
    """The sum of one token count over the calls of one minute: ``metric`` is prompt_tokens, completion_tokens or
    total_tokens; ``labels`` are ``model`` (the model id requested) and ``provider_id``."""

    metric: str
    labels: dict[str, str]
    minute_ns: int
    value: float
    count: int


class TokenMeter:
    """Sums per (model, provider) since the last drain; the drain stamps them with the current minute (the tracer
    drains every half second, so a call lands in its own minute or the next)."""

    def __init__(self) -> None:
        # (model, provider) -> [prompt, completion, total, calls counting prompt, ... completion, ... total]
        self._sums: dict[tuple[str, str], list[int]] = {}

    def add(self, model: str | None, provider_id: str, usage: dict[str, Any] | None) -> None:
        """Count an answer's ``usage`` (OpenAI shape); answers without token counts are ignored."""
        if not usage:
            return
        key = (model or "", provider_id)
        entry = self._sums.get(key)
        if entry is None:
            entry = self._sums[key] = [0] * 6
        for i, metric in enumerate(TOKEN_METRICS):
            value = usage.get(metric)
            if type(value) is int and value >= 0:
                entry[i] += value
                entry[i + 3] += 1

    def drain(self) -> list[UsagePoint]:
        """The sums counted since the last drain (and forget them)."""
        if not self._sums:
            return []
        sums, self._sums = self._sums, {}
        minute = time.time_ns() // MINUTE_NS * MINUTE_NS
        points = []
        for (model, provider_id), entry in sums.items():
            labels = {"model": model, "provider_id": provider_id} if model else {"provider_id": provider_id}
            points.extend(UsagePoint(metric, labels, minute, float(entry[i]), entry[i + 3])
                          for i, metric in enumerate(TOKEN_METRICS) if entry[i + 3])
        return points
