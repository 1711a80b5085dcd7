"""Head sampling: which new traces are recorded.

A share of new traces (``sample_ratio``) is considered, and of those at most ``max_traces_per_second`` are recorded
per process over time, with bursts of up to ``max_traces_burst`` (a token bucket of that size). At the loads of a
laptop or a test run every request is recorded; at thousands of requests a second the cost of recording stays
bounded by the rate, whatever the load. A request that arrives with a W3C
``traceparent`` follows the caller's sampled flag instead (see :meth:`Tracer.request_span`).

The decision is on every request's path, so it reads no clock: :meth:`Sampler.sample` takes a token if one is left,
and the tracer's background task calls :meth:`Sampler.refill` a few times a second.

OpenTelemetry's ``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` variables choose these settings when the
run config sets neither ``sample_ratio`` nor ``max_traces_per_second`` (:func:`settings_from_otel_environment`).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

# OTEL_TRACES_SAMPLER values -> the telemetry settings they stand for. Sampling here is always parent-based (a
# request with a traceparent follows the caller's flag), so each value and its parentbased_ form mean the same. The
# OpenTelemetry samplers have no rate limit: choosing one lifts max_traces_per_second.
_OTEL_SAMPLERS: dict[str, dict[str, Any]] = {
    "always_on": {"sample_ratio": 1.0, "max_traces_per_second": None},
    "always_off": {"sample_ratio": 0.0, "max_traces_per_second": None},
    "traceidratio": {"max_traces_per_second": None},  # sample_ratio: OTEL_TRACES_SAMPLER_ARG (default 1.0)
}


def settings_from_otel_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The telemetry settings that ``OTEL_TRACES_SAMPLER`` (and ``OTEL_TRACES_SAMPLER_ARG``, the ratio of
    ``traceidratio``) ask for; ``{}`` when it is not set. As the OpenTelemetry SDKs do, a sampler this stack does not
    know is ignored with a warning, and an argument that is not a ratio counts as 1.0."""
    raw = environ.get("OTEL_TRACES_SAMPLER", "")
    name = raw.strip().lower()
    if not name:
        return {}
    base = name.removeprefix("parentbased_")
    settings = _OTEL_SAMPLERS.get(base)
    if settings is None:
        supported = ", ".join(f"{prefix}{sampler}" for sampler in _OTEL_SAMPLERS for prefix in ("", "parentbased_"))
        log.warning(
            "OTEL_TRACES_SAMPLER=%s is not supported (use one of %s): the run config's sampling applies", raw, supported
        )
        return {}
    if base != "traceidratio":
        return dict(settings)
    argument = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or "1.0"
    try:
        ratio = float(argument)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        log.warning("OTEL_TRACES_SAMPLER_ARG=%s is not a ratio between 0 and 1: sampling all traces", argument)
        ratio = 1.0
    return {**settings, "sample_ratio": ratio}


class Sampler:
    """Decides, per new trace, whether it is recorded."""

    def __init__(
        self,
        ratio: float = 1.0,
        max_per_second: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        burst: float | None = None,
    ) -> None:
        """``burst``: the most traces recorded at once (default: one second's worth, at least one)."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"sample ratio must be between 0 and 1, got {ratio}")
        if max_per_second is not None and max_per_second < 0:
            raise ValueError(f"max traces per second must be >= 0, got {max_per_second}")
        self.ratio = ratio
        self.max_per_second = max_per_second
        self._clock = clock
        if max_per_second is None:
            self._capacity = math.inf
        elif max_per_second == 0:
            self._capacity = 0.0
        else:
            self._capacity = max(1.0, max_per_second if burst is None else burst)
        self._tokens = self._capacity
        self._last = clock()

    def sample(self) -> bool:
        if self.ratio < 1.0 and random.random() >= self.ratio:
            return False
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def refill(self) -> None:
        """Add the tokens earned since the last refill (called off the request path)."""
        now = self._clock()
        if self.max_per_second:
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.max_per_second)
        self._last = now

    def __repr__(self) -> str:
        return f"Sampler(ratio={self.ratio}, max_per_second={self.max_per_second})"
