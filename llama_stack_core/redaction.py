"""Masking secrets in anything shown to a user: API output, CLI output, logs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "********"

_SECRET_WORDS = {
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "credentials",
    "dsn",
    "authorization",
    "cookie",
}


def is_secret_name(name: str) -> bool:
    """True for names like ``api_key``, ``access_token``, ``password``; false for ``keyword_weight``."""
    return not _SECRET_WORDS.isdisjoint(name.lower().replace("-", "_").split("_"))


def redact(value: Any, field_name: str = "") -> Any:
    """A JSON-able copy of a config value with secrets masked (SecretStr, and fields named like secrets)."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, BaseModel):
        value = {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, field_name) for v in value]
    if isinstance(value, str) and value and is_secret_name(field_name):
        return MASK
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
