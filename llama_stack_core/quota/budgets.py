"""Which budgets a request counts against (its user's, its teams', or its client address's) and the admission
decision: every request budget takes one request, every token budget must have tokens left, or the request is
refused and nothing is counted."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..request_context import Principal
from .config import QuotaConfig
from .counts import ASK_STORE, COUNTED, SharedCounts

MINUTE, DAY = 60.0, 86400.0
_PERIOD_NAMES = {1.0: "second", MINUTE: "minute", 3600.0: "hour", DAY: "day"}
_MAX_CACHED_PLANS = 4096


def period_name(seconds: float) -> str:
    return _PERIOD_NAMES.get(seconds) or f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit on one count: ``name`` (whose, and of what), the window length, the limit, and how to say it."""

    name: str
    period: float
    limit: int
    says: str  # e.g. "user 'alice' may make 60 requests per minute"


@dataclass(frozen=True, slots=True)
class Plan:
    """The budgets of one caller: those a request takes one from, and those whose tokens it spends."""

    requests: tuple[Budget, ...]
    tokens: tuple[Budget, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    budget: Budget
    retry_after: int  # whole seconds until the window frees (at least 1)

    @property
    def message(self) -> str:
        return f"quota exceeded: {self.budget.says}; retry in {self.retry_after} s"


def _requests(name: str, whose: str, limit: int | None, period: float) -> list[Budget]:
    if limit is None:
        return []
    return [Budget(name, period, limit, f"{whose} may make {limit} requests per {period_name(period)}")]


def _tokens(name: str, whose: str, limit: int | None) -> list[Budget]:
    return [] if limit is None else [Budget(name, DAY, limit, f"{whose} may use {limit} tokens per day")]


class Quotas:
    """The budgets of ``config``, counted in ``counts``."""

    def __init__(self, config: QuotaConfig, counts: SharedCounts) -> None:
        self.config = config
        self.counts = counts
        self._plans: dict[object, Plan] = {}

    def plan(self, principal: Principal | None, address: str) -> Plan:
        """The budgets of a caller: an authenticated user and their teams, else the client address."""
        key: object = (principal.user, principal.teams) if principal is not None else address
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _MAX_CACHED_PLANS:
                self._plans.clear()
            plan = self._plans[key] = self._make_plan(principal, address)
        return plan

    def _make_plan(self, principal: Principal | None, address: str) -> Plan:
        config = self.config
        if principal is None:
            who, whose, limits = f"a:{address}", "this client address", config.anonymous
            requests = _requests(f"{who}:requests", whose, config.anonymous_max_requests, config.period)
        else:
            who, whose, limits = f"u:{principal.user}", f"user '{principal.user}'", config.per_user
            requests = _requests(f"{who}:requests", whose, config.authenticated_max_requests, config.period)
        requests += _requests(f"{who}:rpm", whose, limits.requests_per_minute, MINUTE)
        tokens = _tokens(f"{who}:tokens", whose, limits.tokens_per_day)
        for team in principal.teams if principal is not None else ():
            whose = f"team '{team}'"
            requests += _requests(f"t:{team}:rpm", whose, config.per_team.requests_per_minute, MINUTE)
            tokens += _tokens(f"t:{team}:tokens", whose, config.per_team.tokens_per_day)
        return Plan(tuple(requests), tuple(tokens))

    def admit_now(self, plan: Plan) -> Refusal | bool | None:
        """:meth:`admit` from memory alone: None (admitted), a :class:`Refusal`, or False when the store must decide
        (nothing is counted then)."""
        counts = self.counts
        budgets = plan.requests
        for i, budget in enumerate(budgets):
            wait = counts.take_now(budget.name, budget.period, budget.limit, 1)
            if wait != COUNTED:
                self._give_back(budgets[:i])
                return False if wait == ASK_STORE else Refusal(budget, max(1, math.ceil(wait)))
        for budget in plan.tokens:
            wait = counts.take_now(budget.name, budget.period, budget.limit, 0)
            if wait != COUNTED:
                self._give_back(budgets)
                return False if wait == ASK_STORE else Refusal(budget, max(1, math.ceil(wait)))
        return None

    async def admit(self, plan: Plan) -> Refusal | None:
        """Take one request from each request budget and check each token budget has tokens left; on the first
        that refuses, give back what was taken and say which refused."""
        counts = self.counts
        for i, budget in enumerate(plan.requests):
            wait = await counts.take(budget.name, budget.period, budget.limit, 1)
            if wait is not None:
                self._give_back(plan.requests[:i])
                return Refusal(budget, max(1, math.ceil(wait)))
        for budget in plan.tokens:
            wait = await counts.take(budget.name, budget.period, budget.limit, 0)
            if wait is not None:
                self._give_back(plan.requests)
                return Refusal(budget, max(1, math.ceil(wait)))
        return None

    def _give_back(self, taken: tuple[Budget, ...]) -> None:
        for budget in taken:
            self.counts.give_back(budget.name, budget.period, 1)

    def spend_now(self, plan: Plan, tokens: int) -> list[Budget]:
        """Count spent tokens in memory; returns the budgets that must be written now (:meth:`spend`)."""
        if tokens <= 0:
            return []
        counts = self.counts
        return [b for b in plan.tokens if not counts.add_now(b.name, b.period, b.limit, tokens)]

    async def spend(self, budgets: list[Budget], tokens: int) -> None:
        """Count spent tokens against these budgets, written to the store when near their limits."""
        for budget in budgets:
            await self.counts.add(budget.name, budget.period, budget.limit, tokens)
