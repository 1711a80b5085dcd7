"""One bearer credential -> the caller it proves, by the configured means: a static key, a JWT, an opaque token."""

from __future__ import annotations

from ..errors import ConfigError
from ..request_context import Principal
from .config import AuthConfig
from .errors import AuthError
from .keys import StaticKeys


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class Authenticator:
    """Tries the static keys first (a dict lookup), then a JWT check or introspection as configured. PyJWT and the
    HTTP client are loaded only when ``provider_config`` is set."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.keys = StaticKeys(config.api_keys)
        self.jwt = self.introspection = self._client = None
        provider = config.provider_config
        if provider is not None:
            import httpx

            verify = str(provider.tls_cafile) if provider.tls_cafile is not None else provider.verify_tls
            self._client = httpx.AsyncClient(verify=verify)
            if provider.jwks is not None or provider.shared_secret is not None:
                try:
                    from .jwt_tokens import JwtVerifier
                except ImportError as exc:
                    raise ConfigError(
                        f"server.auth.provider_config needs {exc.name}: pip install 'llama-stack-core[auth]'"
                    ) from None

                self.jwt = JwtVerifier(provider, self._client)
            if provider.introspection is not None:
                from .introspection import Introspector

                self.introspection = Introspector(provider, self._client)

    async def authenticate(self, token: str) -> Principal:
        """The caller ``token`` proves, or an :class:`AuthError` saying why not."""
        who = self.keys.lookup(token)
        if who is not None:
            return who
        if self.jwt is not None and _looks_like_jwt(token):
            return await self.jwt.verify(token)
        if self.introspection is not None:
            return await self.introspection.verify(token)
        raise AuthError("invalid credentials")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
