"""Masking secrets in anything shown to a user: API output, CLI output, logs, error messages and spans.

Two tools: :func:`redact` masks a config value by its fields (``SecretStr``, names like ``api_key``), and
:func:`mask_secrets` masks secrets inside free text, an upstream's error message above all: the values this process
knows are secret (configured keys, remembered at start-up; the current request's provider data) and anything shaped
like a key (``sk-...``, ``Bearer ...``, ``AKIA...``, long random-looking tokens).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, SecretStr

from .request_context import PROVIDER_DATA

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


# -- secrets in free text ----------------------------------------------------------------------------------------

#: Shorter values are not masked by value: too likely to occur in ordinary text.
MIN_SECRET_LENGTH = 6

_known: set[str] = set()

_KEY_SHAPES = re.compile(
    r"(?P<prefixed>"
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}"  # OpenAI, Anthropic (sk-ant-...), Stripe-like
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\b(?:gsk|hf|ghp|gho|ghs|github_pat|xoxb|xoxp|nvapi|fw|xai|tgp_v1)[_-][A-Za-z0-9_\-]{16,}"
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"  # a JWT
    r")"
    r"|(?P<lead>(?i:bearer|basic|token)\s+)(?P<credential>[A-Za-z0-9._~+/=\-]{6,})"
    r"|(?P<named>(?i:[\w-]*(?:api[_-]?key|secret|password|passwd|token|credential))[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?!\d+\b)[^\s\"',;&}]{6,})"
    r"|(?P<long>\b[A-Za-z0-9+_\-=]{32,})"
)


def remember_secret(value: str | SecretStr | None) -> None:
    """Mask this value wherever :func:`mask_secrets` sees it, from now on (a configured key)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
        _known.add(value)


def remember_secrets_in(value: Any, field_name: str = "") -> None:
    """Remember every secret in a config value: ``SecretStr`` fields and strings in fields named like secrets."""
    if isinstance(value, SecretStr):
        remember_secret(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            remember_secrets_in(getattr(value, name), name)
    elif isinstance(value, dict):
        for key, item in value.items():
            remember_secrets_in(item, str(key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            remember_secrets_in(item, field_name)
    elif isinstance(value, str) and is_secret_name(field_name):
        remember_secret(value)


def secret_values(value: Any, field_name: str = "", found: list[str] | None = None) -> list[str]:
    """The values in a JSON-like object that are secrets by their key's name (nested: ``mcp_headers`` ->
    endpoint -> ``Authorization``)."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            secret_values(item, field_name if not isinstance(key, str) or not is_secret_name(key) else key, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            secret_values(item, field_name, found)
    elif isinstance(value, str) and field_name and is_secret_name(field_name) and len(value) >= MIN_SECRET_LENGTH:
        found.append(value)
    return found


def _looks_random(token: str) -> bool:
    """A long token of mixed letters and digits with high character entropy and few separators: a key, not a word,
    a hex id or a model name (``DeepSeek-R1-Distill-Qwen-32B-Instruct``)."""
    digits = sum(c.isdigit() for c in token)
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    if digits < 2 or min(upper, lower) < 3 or token.count("-") + token.count("_") > len(token) // 12:
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 4.0


def _mask_shape(match: re.Match[str]) -> str:
    if match["prefixed"]:
        return MASK
    if match["credential"]:
        return match["lead"] + MASK
    if match["value"]:
        return match["named"] + MASK
    token = match["long"]
    return MASK if _looks_random(token) else token


def mask_secrets(text: str, extra: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with every secret masked: the remembered ones, those of the current request's provider data,
    ``extra`` ones, and key-shaped strings."""
    if not text:
        return text
    data = PROVIDER_DATA.get()
    known = [*_known, *extra, *(secret_values(data) if data else ())]
    for secret in sorted(known, key=len, reverse=True):  # a longer secret first: it may contain a shorter one
        if secret in text:
            text = text.replace(secret, MASK)
    return _KEY_SHAPES.sub(_mask_shape, text)
