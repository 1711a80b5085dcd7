"""Bearer JWTs: the signature checked against the identity provider's JWKS (fetched, cached, refetched when a token
names a key it lacks) or a shared HMAC key; then exp/nbf (with leeway), issuer and audience.

A verified token is remembered for a short while (``cache_seconds``, never past its ``exp``), so a client sending
the same token again costs a dict lookup instead of a signature check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from typing import Any

import httpx
import jwt
import orjson

from ..request_context import Principal
from .claims import principal_from_claims
from .config import JwksConfig, OAuth2TokenConfig
from .errors import AuthError, AuthUnavailableError

log = logging.getLogger("llama_stack_core.auth")

#: the algorithms each kind of key may verify; `none` and HMAC-with-a-public-key are never accepted
ALGORITHMS_BY_KEY_TYPE = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512", "ES256K"),
    "OKP": ("EdDSA", "Ed25519"),
}
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
MAX_CACHED_TOKENS = 10_000


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _header(token: str) -> dict[str, Any]:
    """The token's JOSE header, to pick the key (PyJWT checks it again with the signature). Parsed here because
    PyJWT's own parse validates each character in Python: doing it once instead of twice halves a new token's cost."""
    head = token.partition(".")[0]
    if _SEGMENT.fullmatch(head) is None:
        raise AuthError("malformed token")
    try:
        header = orjson.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise AuthError("malformed token") from None
    if not isinstance(header, dict):
        raise AuthError("malformed token")
    return header


class JwksKeys:
    """The identity provider's signing keys by ``kid``: fetched on first use, trusted for ``key_recheck_period``,
    refetched early (at most every ``unknown_kid_refetch_seconds``) when a token names a key not in the set."""

    def __init__(self, config: JwksConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self._client = client
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _known(self, kid: str | None) -> jwt.PyJWK | None:
        if self._keys is None or time.monotonic() - self._fetched_at >= self.config.key_recheck_period:
            return None
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        found = self._known(kid)
        if found is not None:
            return found
        async with self._lock:  # one fetch at a time; the others find its result
            found = self._known(kid)
            if found is not None:
                return found
            stale = self._keys is None or time.monotonic() - self._fetched_at >= self.config.key_recheck_period
            if stale or time.monotonic() - self._last_attempt >= self.config.unknown_kid_refetch_seconds:
                await self._fetch()
            found = self._known(kid)
            if found is None and self._keys is not None and kid in self._keys:  # stale set, refetch failed
                found = self._keys[kid]
        if found is None:
            raise AuthError("token signed by an unknown key")
        return found

    async def _fetch(self) -> None:
        self._last_attempt = time.monotonic()
        self.fetches += 1
        headers = {}
        if self.config.token is not None:
            headers["Authorization"] = f"Bearer {self.config.token.get_secret_value()}"
        try:
            response = await self._client.get(self.config.uri, headers=headers, timeout=5)
            response.raise_for_status()
            keys: dict[str | None, jwt.PyJWK] = {}
            for data in response.json().get("keys", []):
                if data.get("use", "sig") != "sig":
                    continue
                try:
                    keys[data.get("kid")] = jwt.PyJWK.from_dict(data)
                except jwt.PyJWTError as exc:  # a key type this PyJWT cannot use: skip it, keep the others
                    log.warning("JWKS %s: skipping key %s: %s", self.config.uri, data.get("kid"), exc)
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("cannot fetch the JWKS from %s: %s", self.config.uri, exc)
            if self._keys is None:
                raise AuthUnavailableError("the identity provider's keys cannot be fetched") from None
            return
        self._keys, self._fetched_at = keys, time.monotonic()


class JwtVerifier:
    def __init__(self, config: OAuth2TokenConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.jwks = JwksKeys(config.jwks, client) if config.jwks is not None else None
        self._secret = config.shared_secret.get_secret_value().encode() if config.shared_secret is not None else None
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._options: Any = {"require": ["exp"], "verify_aud": True}

    async def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._cache[token]
        header = _header(token)
        alg = header.get("alg")
        key: Any
        if self.jwks is not None:
            if alg not in {a for algs in ALGORITHMS_BY_KEY_TYPE.values() for a in algs}:
                raise AuthError(f"token algorithm {str(alg)[:16]!r} is not accepted")
            kid = header.get("kid")
            if kid is not None and not isinstance(kid, str):
                raise AuthError("malformed token")
            jwk = await self.jwks.key(kid)
            key, algorithms = jwk, ALGORITHMS_BY_KEY_TYPE.get(jwk.key_type or "", ())
        elif self._secret is not None:
            key, algorithms = self._secret, HMAC_ALGORITHMS
        else:
            raise AuthError("JWTs are not accepted here")
        if alg not in algorithms:
            raise AuthError(f"token algorithm {str(alg)[:16]!r} is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        who = principal_from_claims(claims, self.config.claims_mapping, "jwt")
        if self.config.cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED_TOKENS:
                del self._cache[next(iter(self._cache))]
            self._cache[token] = (who, min(float(claims["exp"]), time.time() + self.config.cache_seconds))
        return who
