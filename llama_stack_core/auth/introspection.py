"""Opaque bearer tokens checked by the identity provider's introspection endpoint (RFC 7662)."""

from __future__ import annotations

import hashlib
import logging
import time

import httpx

from ..request_context import Principal
from .claims import principal_from_claims
from .config import OAuth2TokenConfig
from .errors import AuthError, AuthUnavailableError

log = logging.getLogger("llama_stack_core.auth")
MAX_CACHED_TOKENS = 10_000


class Introspector:
    """Asks ``introspection.url`` whether a token is active; an active answer is remembered for ``cache_seconds``
    (keyed by the token's hash, never past its ``exp``)."""

    def __init__(self, config: OAuth2TokenConfig, client: httpx.AsyncClient) -> None:
        assert config.introspection is not None
        self.config = config
        self.settings = config.introspection
        self._client = client
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self.calls = 0

    async def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._cache[digest]
        answer = await self._ask(token)
        if answer.get("active") is not True:
            raise AuthError("token is not active")
        exp = answer.get("exp")
        now = time.time()
        if isinstance(exp, int | float) and exp + self.config.leeway_seconds <= now:
            raise AuthError("token expired")
        if self.config.issuer is not None and answer.get("iss") not in (None, self.config.issuer):
            raise AuthError("token is from another issuer")
        aud = answer.get("aud")
        if aud is not None and self.config.audience not in (aud if isinstance(aud, list) else [aud]):
            raise AuthError("token is for another audience")
        who = principal_from_claims(answer, self.config.claims_mapping, "introspection")
        if self.settings.cache_seconds > 0:
            until = now + self.settings.cache_seconds
            if isinstance(exp, int | float):
                until = min(until, float(exp))
            if len(self._cache) >= MAX_CACHED_TOKENS:
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = (who, until)
        return who

    async def _ask(self, token: str) -> dict:
        self.calls += 1
        form = {"token": token, "token_type_hint": "access_token"}
        secret = self.settings.client_secret.get_secret_value()
        auth = None
        if self.settings.send_secret_in_body:
            form |= {"client_id": self.settings.client_id, "client_secret": secret}
        else:
            auth = httpx.BasicAuth(self.settings.client_id, secret)
        try:
            response = await self._client.post(self.settings.url, data=form, auth=auth, timeout=5)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("token introspection at %s failed: %s", self.settings.url, type(exc).__name__)
            raise AuthUnavailableError("the identity provider cannot be asked about the token") from None
        if not isinstance(answer, dict):
            raise AuthUnavailableError("the identity provider's introspection answer is not an object")
        return answer
