"""Access rules (``server.auth.access_policy``), in upstream's shape, and the engine that applies them.

A rule permits or forbids some ``actions`` (create, read, update, delete), optionally only for one ``principal``
(a user id) and one ``resource`` (``<kind>::<id>``: exact, a glob such as ``model::*``, or ``regex:<pattern>``),
and only ``when`` all its conditions hold (or ``unless`` they all do). Rules are tried in order; the first that
applies decides; none applying denies. Conditions:

- ``user is owner`` / ``user is not owner``
- ``user in owners <attribute>`` / ``user not in owners <attribute>``: the caller shares a value of the owner's
  attribute (roles, teams, projects, namespaces, ...); an owner with no such values matches ``in`` (upstream's rule)
- ``user with <value> in <attribute>`` / ``user with <value> not in <attribute>``: the caller's own attributes
- ``resource is unowned`` / ``resource is owned``: shared objects (the run config's, plugin defaults) have no owner

Kinds: model, shield, vector_db (``vector_store`` is accepted for it), dataset, scoring_function, benchmark,
tool_group, file, response, conversation, agent, session, chat_completion, trace. Without ``access_policy`` the
:func:`default_policy` applies: anyone authenticated may create; owners read, update and delete their own objects;
everyone reads shared ones.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..owners import Action, Owner
from ..request_context import Principal

KINDS = frozenset(
    {
        "model",
        "shield",
        "vector_db",
        "dataset",
        "scoring_function",
        "benchmark",
        "tool_group",
        "file",
        "response",
        "conversation",
        "agent",
        "session",
        "chat_completion",
        "trace",
    }
)
KIND_ALIASES = {"vector_store": "vector_db", "scoring_fn": "scoring_function", "toolgroup": "tool_group"}

Condition = Callable[[Owner | None, Principal], bool]


def _owner_values(owner: Owner | None, name: str) -> list[str]:
    return owner.attributes.get(name, []) if owner is not None else []


def parse_condition(text: str) -> Condition:
    """One condition as a test of (owner, caller); a ValueError names what is wrong."""
    words = text.split()
    match words:
        case ["user", "is", "owner"]:
            return lambda owner, who: owner is not None and owner.principal == who.user
        case ["user", "is", "not", "owner"]:
            return lambda owner, who: owner is None or owner.principal != who.user
        case ["user", "in", "owners", name]:
            return lambda owner, who: _shares(owner, who, name)
        case ["user", "not", "in", "owners", name]:
            return lambda owner, who: not _shares(owner, who, name)
        case ["user", "with", value, "in", name]:
            return lambda owner, who: value in who.attributes.get(name, ())
        case ["user", "with", value, "not", "in", name]:
            return lambda owner, who: value not in who.attributes.get(name, ())
        case ["resource", "is", "unowned"]:
            return lambda owner, who: owner is None
        case ["resource", "is", "owned"]:
            return lambda owner, who: owner is not None
    raise ValueError(
        f"unknown condition {text!r} (use 'user is [not] owner', 'user [not] in owners <attribute>', "
        "'user with <value> [not] in <attribute>', 'resource is [un]owned')"
    )


def _shares(owner: Owner | None, who: Principal, name: str) -> bool:
    required = _owner_values(owner, name)
    if not required:
        return True
    mine = who.attributes.get(name, ())
    return any(value in mine for value in required)


def _resource_matcher(pattern: str) -> Callable[[str], bool]:
    if pattern.startswith("regex:"):
        compiled = re.compile(pattern[len("regex:") :])
        return lambda qualified: compiled.fullmatch(qualified) is not None
    if any(c in pattern for c in "*?["):
        return lambda qualified: fnmatch.fnmatchcase(qualified, pattern)
    return lambda qualified: qualified == pattern


class Scope(BaseModel):
    """What a rule covers: actions, and optionally one user and one resource (``<kind>::<id>``)."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(min_length=1)
    principal: str | None = None
    resource: str | None = None

    @field_validator("actions", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("resource")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is None or value.startswith("regex:"):
            if value is not None:
                try:
                    re.compile(value[len("regex:") :])
                except re.error as exc:
                    raise ValueError(f"resource {value!r}: bad regex: {exc}") from None
            return value
        kind, sep, rest = value.partition("::")
        if not sep:
            raise ValueError(f"resource {value!r}: write <kind>::<id> (e.g. model::llama-3, vector_store::*)")
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in KINDS and not any(c in kind for c in "*?["):
            raise ValueError(f"resource {value!r}: unknown kind '{kind}' (one of {', '.join(sorted(KINDS))})")
        return f"{kind}::{rest}"


class AccessRule(BaseModel):
    """One rule: ``permit`` or ``forbid`` a :class:`Scope`, optionally ``when``/``unless`` conditions hold."""

    model_config = ConfigDict(extra="forbid")

    permit: Scope | None = None
    forbid: Scope | None = None
    when: list[str] | None = None
    unless: list[str] | None = None
    description: str | None = None

    @field_validator("when", "unless", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        value = [value] if isinstance(value, str) else value
        for text in value or ():
            parse_condition(text)
        return value

    @model_validator(mode="after")
    def _one_scope(self) -> AccessRule:
        if (self.permit is None) == (self.forbid is None):
            raise ValueError("an access rule has exactly one of permit or forbid")
        if self.when is not None and self.unless is not None:
            raise ValueError("an access rule has when or unless, not both")
        return self


class _Compiled:
    __slots__ = ("actions", "conditions", "negate", "permit", "principal", "resource")

    def __init__(self, rule: AccessRule) -> None:
        scope = rule.permit or rule.forbid
        assert scope is not None
        self.permit = rule.permit is not None
        self.actions = frozenset(scope.actions)
        self.principal = scope.principal
        self.resource = _resource_matcher(scope.resource) if scope.resource is not None else None
        self.conditions = [parse_condition(c) for c in (rule.when or rule.unless or ())]
        self.negate = rule.unless is not None

    def applies(self, action: Action, qualified: str, owner: Owner | None, who: Principal) -> bool:
        if action not in self.actions:
            return False
        if self.principal is not None and self.principal != who.user:
            return False
        if self.resource is not None and not self.resource(qualified):
            return False
        if not self.conditions:
            return True
        holds = all(condition(owner, who) for condition in self.conditions)
        return not holds if self.negate else holds


class AccessPolicy:
    """The rules in order; the first that applies decides, none applying denies."""

    def __init__(self, rules: list[AccessRule]) -> None:
        self._rules = [_Compiled(rule) for rule in rules]

    def allows(self, action: Action, kind: str, identifier: str, owner: Owner | None, principal: Principal) -> bool:
        qualified = f"{kind}::{identifier}"
        for rule in self._rules:
            if rule.applies(action, qualified, owner, principal):
                return rule.permit
        return False


DEFAULT_RULES = (
    {"permit": {"actions": ["create"]}, "description": "anyone authenticated may create"},
    {
        "permit": {"actions": ["read", "update", "delete"]},
        "when": "user is owner",
        "description": "owners do anything to their own objects",
    },
    {"permit": {"actions": ["read"]}, "when": "resource is unowned", "description": "everyone reads shared objects"},
)


@cache
def default_policy() -> AccessPolicy:
    """The rules applied when ``server.auth`` sets no ``access_policy``."""
    return AccessPolicy([AccessRule.model_validate(rule) for rule in DEFAULT_RULES])


def policy_for(rules: list[AccessRule]) -> AccessPolicy:
    return AccessPolicy(rules) if rules else default_policy()
