"""Token usage per model and minute, counted for every inference call whether or not its trace is recorded.

Sampling decides which requests become spans; token accounting must not depend on it. The tracer's meter adds
each answer's ``usage`` to a per-minute sum (a dict update), and the tracer hands the sums to telemetry providers
that take them (``export_usage``) from its background task, with the spans.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")
MINUTE_NS = 60 * 1_000_000_000


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
        entry = self._sums.get((model or "", provider_id))
        if entry is None:
            entry = self._sums[(model or "", provider_id)] = [0] * 6
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
