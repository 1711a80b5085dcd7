"""Who owns a stored object, and the one check every store makes before showing or changing one.

With ``server.auth`` on, each resource and stored object records its creator as its :class:`Owner`; the auth
middleware puts the caller (``PRINCIPAL``) and the access policy (``ACCESS_POLICY``) in the request's context, and
:func:`authorize` asks the policy. With auth off there is no caller: every check returns at once and nothing records
an owner. Objects without an owner (the run config's resources, plugin defaults, objects made with auth off) are
shared.

A read the policy refuses answers 404, as for an object that does not exist (no existence oracle); a refused write
answers 403 if the caller may read the object, else 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import PermissionDeniedError
from .request_context import ACCESS_POLICY, PRINCIPAL, Principal

T = TypeVar("T")

#: a recorded trace's root span names its caller (with auth on): the trace's owner, and their attributes as JSON
OWNER_ATTRIBUTE = "auth.principal"
OWNER_ATTRIBUTES_ATTRIBUTE = "auth.attributes"


class Action(StrEnum):
    create = "create"
    read = "read"
    update = "update"
    delete = "delete"


class Owner(BaseModel):
    """The caller that created an object: their user id and attributes (roles, teams, ...) at that time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    principal: str = Field(min_length=1)
    attributes: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def of(cls, who: Principal) -> Owner:
        return cls(principal=who.user, attributes={k: list(v) for k, v in who.attributes.items()})


class Policy(Protocol):
    def allows(self, action: Action, kind: str, identifier: str, owner: Owner | None, principal: Principal) -> bool: ...


def current_owner() -> Owner | None:
    """The owner a new object gets: the caller, or None with auth off (a shared object)."""
    who = PRINCIPAL.get()
    return Owner.of(who) if who is not None else None


class _DenyAll:
    """The policy for a caller set without one (not by the auth middleware): nothing is allowed."""

    def allows(self, action: Action, kind: str, identifier: str, owner: Owner | None, principal: Principal) -> bool:
        return False


_DENY_ALL = _DenyAll()


def _policy() -> Policy:
    return ACCESS_POLICY.get() or _DENY_ALL


def may(action: Action, kind: str, identifier: str, owner: Owner | None) -> bool:
    """Whether the current caller may do ``action`` on the object (always, with auth off)."""
    who = PRINCIPAL.get()
    if who is None:
        return True
    return _policy().allows(action, kind, identifier, owner, who)


def authorize(
    action: Action, kind: str, identifier: str, owner: Owner | None, not_found: Callable[[], Exception]
) -> None:
    """Raise ``not_found()`` if the caller may not read the object, 403 if they may read but not do ``action``."""
    who = PRINCIPAL.get()
    if who is None:
        return
    policy = _policy()
    if policy.allows(action, kind, identifier, owner, who):
        return
    if action is not Action.read and policy.allows(Action.read, kind, identifier, owner, who):
        raise PermissionDeniedError(f"'{who.user}' may not {action.value} {kind} '{identifier}'")
    raise not_found()


def authorize_create(kind: str, identifier: str) -> None:
    """403 unless the caller may create an object of this kind."""
    who = PRINCIPAL.get()
    if who is not None and not _policy().allows(Action.create, kind, identifier, None, who):
        raise PermissionDeniedError(f"'{who.user}' may not create a {kind}")


def readable(items: Iterable[T], kind: str, key: Callable[[T], tuple[str, Owner | None]]) -> list[T]:
    """The items the caller may read (``key``: an item's id and owner); all of them with auth off."""
    who = PRINCIPAL.get()
    if who is None:
        return list(items)
    policy = _policy()
    found = []
    for item in items:
        identifier, owner = key(item)
        if policy.allows(Action.read, kind, identifier, owner, who):
            found.append(item)
    return found


def guarded() -> bool:
    """Whether this request is checked (auth on and a caller known): stores skip owner bookkeeping otherwise."""
    return PRINCIPAL.get() is not None


def owner_of(data: dict[str, Any]) -> Owner | None:
    """The ``owner`` entry of a stored JSON record, if it has one."""
    raw = data.get("owner")
    return Owner.model_validate(raw) if raw else None
