"""Per-request context providers can read: the ``X-LlamaStack-Provider-Data`` header (per-request credentials) and,
with ``server.auth`` on, the authenticated caller (:class:`Principal`)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

PROVIDER_DATA: ContextVar[dict[str, Any] | None] = ContextVar("provider_data", default=None)


def provider_data() -> dict[str, Any]:
    """The parsed provider-data header of the current request, or ``{}``."""
    return PROVIDER_DATA.get() or {}


@dataclass(frozen=True, slots=True, eq=False)
class Principal:
    """Who a request acts for: a user id and attributes by category (``roles``, ``teams``, ``projects``, ... as
    upstream's access rules name them), and how they proved it (``api_key``, ``jwt`` or ``introspection``)."""

    user: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    method: str = "api_key"

    @property
    def roles(self) -> tuple[str, ...]:
        return self.attributes.get("roles", ())

    @property
    def teams(self) -> tuple[str, ...]:
        return self.attributes.get("teams", ())


def principal(user: str, attributes: Mapping[str, Any], method: str) -> Principal:
    """A :class:`Principal` with its attributes frozen (each category a tuple without repeats, in order)."""
    frozen = {name: tuple(dict.fromkeys(values)) for name, values in attributes.items() if values}
    return Principal(user, MappingProxyType(frozen), method)


#: the authenticated caller of the current request; None with auth off (or on a public path)
PRINCIPAL: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the current request, if the server authenticates (None: auth off, or a public path)."""
    return PRINCIPAL.get()


#: the access policy (an ``owners.Policy``) judging the current caller, set with ``PRINCIPAL``; None with auth off
ACCESS_POLICY: ContextVar[Any] = ContextVar("access_policy", default=None)
