"""The run config's ``server.quota`` section: upstream's shape (``kvstore``, ``anonymous_max_requests``,
``authenticated_max_requests``, ``period``) extended with requests per minute, tokens per day and streams open at
once, per user (API key or token subject), per team and for anonymous callers (per client address)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

UNIT_SECONDS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")
DEFAULT_EXEMPT_PATHS = ("/v1/health", "/v1/version")


def period_seconds(value: Any) -> float:
    """``day``, ``hour``, ``minute``, ``second``, ``<n> <unit>`` (``2 s``, ``10 minutes``, ``1d``) or a number of
    seconds, as seconds."""
    if isinstance(value, bool):
        raise ValueError("a period is a duration such as 'day', '1 h' or '30 s'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _PERIOD.match(str(value).lower())
        name = match.group(2) if match else ""
        unit = UNIT_SECONDS.get(name) or (UNIT_SECONDS.get(name[:-1]) if len(name) > 2 and name[-1] == "s" else None)
        if not match or unit is None:
            raise ValueError(f"period '{value}' is not a duration such as 'day', '1 h' or '30 s'")
        seconds = float(match.group(1) or 1) * unit
    if not 1 <= seconds <= 366 * 86400:
        raise ValueError("a period is between 1 second and a year")
    return seconds


class StoreName(BaseModel):
    """``{backend, namespace}``: upstream's form of a store reference."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(min_length=1)
    namespace: str = Field(default="quota", min_length=1)


class CallerLimits(BaseModel):
    """What one caller (a user, or an anonymous client address) may use; null: no limit."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1, description="Requests per calendar minute (UTC).")
    tokens_per_day: int | None = Field(
        default=None,
        ge=1,
        description="Input + output tokens of chat completions, completions and embeddings per UTC day. A request "
        "admitted under the limit finishes; the next one is refused.",
    )
    max_concurrent_streams: int | None = Field(
        default=None, ge=1, description="Streaming answers open at once (per server process); one more: 429."
    )


class TeamLimits(BaseModel):
    """What the callers of one team (a ``teams`` attribute of the principal) may use together; null: no limit."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)


class QuotaConfig(BaseModel):
    """``server.quota``: request and token budgets, counted in a storage backend that every server process sharing
    it (one SQLite file, or PostgreSQL) counts in. Over a budget: 429 with ``Retry-After``."""

    model_config = ConfigDict(extra="forbid")

    kvstore: str | StoreName | None = Field(
        default=None,
        description="Where the counts live: a `storage.stores` entry or backend name, or {backend, namespace}; "
        "default: the registry's backend (namespace `quota`).",
    )
    period: float = Field(
        default=86400.0, description="The window of the *_max_requests counts: day, hour, minute, '30 s', ..."
    )
    anonymous_max_requests: int | None = Field(
        default=100, ge=1, description="Requests per period per client address without credentials (auth off)."
    )
    authenticated_max_requests: int | None = Field(default=1000, ge=1, description="Requests per period per user.")
    per_user: CallerLimits = Field(default_factory=CallerLimits, description="Each authenticated user's limits.")
    per_team: TeamLimits = Field(default_factory=TeamLimits, description="Each team's limits, its users together.")
    anonymous: CallerLimits = Field(default_factory=CallerLimits, description="Each anonymous client address's.")
    exempt_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXEMPT_PATHS),
        description="Exact paths never counted (health checks must not use up a budget).",
    )
    local_share: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description="A process counts this share of what is left of a budget in memory before it writes to the "
        "store (0: every request is a store round trip). Bounds how far several processes can overshoot together.",
    )
    sync_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often counts kept in memory are written and others' are read."
    )

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> float:
        return period_seconds(value)

    @property
    def meters_tokens(self) -> bool:
        return any(x.tokens_per_day is not None for x in (self.per_user, self.per_team, self.anonymous))

    @property
    def limits_streams(self) -> bool:
        return self.per_user.max_concurrent_streams is not None or self.anonymous.max_concurrent_streams is not None
