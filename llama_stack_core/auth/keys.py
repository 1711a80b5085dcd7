"""Static API keys: stored as ``sha256:<hex>``, looked up by the hash of the presented key.

A fast hash fits here because the keys are random and long (``stack auth hash-key --generate`` makes 256-bit ones;
shorter keys are refused): guessing is hopeless and a slow salted hash would cost milliseconds per request. The
lookup is a dict get by digest, so the time taken does not depend on how much of a stored key was guessed.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import time

from ..errors import ConfigError
from ..request_context import Principal, principal
from .config import ApiKey
from .errors import AuthError

MIN_KEY_LENGTH = 24
KEY_PREFIX = "lsk-"


def hash_key(key: str) -> str:
    """The ``key_hash`` of an API key, as ``server.auth.api_keys`` stores it."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """A new random API key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def read_key(given: str | None) -> str:
    """The key to hash: the argument, else stdin (a prompt on a terminal); too short a key is a ConfigError."""
    if given is None:
        if sys.stdin.isatty():
            import getpass

            given = getpass.getpass("API key: ")
        else:
            given = sys.stdin.readline()
    key = given.strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"an API key must be at least {MIN_KEY_LENGTH} random characters (`stack auth hash-key --generate`)"
        )
    return key


class StaticKeys:
    """The configured keys by hash, each with the caller it stands for."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_hash: dict[str, tuple[Principal, float | None]] = {}
        for key in keys:
            attributes = {**key.attributes, "roles": key.roles, "teams": key.teams}
            expiry = key.expires_at.timestamp() if key.expires_at is not None else None
            self._by_hash[key.key_hash] = (principal(key.name, attributes, "api_key"), expiry)

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def lookup(self, token: str) -> Principal | None:
        """The caller a key stands for, None if it is no configured key; an expired key is an AuthError."""
        found = self._by_hash.get("sha256:" + hashlib.sha256(token.encode()).hexdigest())
        if found is None:
            return None
        who, expiry = found
        if expiry is not None and time.time() >= expiry:
            raise AuthError("API key expired")
        return who
