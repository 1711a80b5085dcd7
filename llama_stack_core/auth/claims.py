"""Token claims -> the caller's attributes, by upstream's ``claims_mapping`` (claim -> attribute category)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..request_context import Principal, principal


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into nested objects (``realm_access.roles``) unless it is a claim
    itself."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], mapping: Mapping[str, str], method: str) -> Principal:
    """The caller named by ``sub`` (else ``username``), with each mapped claim's values (a list, or one value)
    added to its attribute category. ``scope`` strings are split on spaces, as OAuth2 sends them."""
    user = claims.get("sub") or claims.get("username") or claims.get("client_id")
    if not isinstance(user, str) or not user:
        from .errors import AuthError

        raise AuthError("token names no subject (sub)")
    attributes: dict[str, list[str]] = {}
    for claim, category in mapping.items():
        value = _claim(claims, claim)
        if value is None:
            continue
        if isinstance(value, str):
            values = value.split() if claim == "scope" else [value]
        elif isinstance(value, list | tuple):
            values = [str(v) for v in value if isinstance(v, str | int)]
        else:
            values = [str(value)]
        attributes.setdefault(category, []).extend(values)
    return principal(user, attributes, method)
