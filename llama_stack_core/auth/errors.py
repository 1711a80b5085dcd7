"""Why a credential was refused: answered 401 (or 503 when the identity provider cannot be reached)."""

from __future__ import annotations


class AuthError(Exception):
    """A missing, malformed, expired or otherwise invalid credential. The message is safe to show the caller (it
    never holds the credential)."""

    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthUnavailableError(AuthError):
    """The identity provider (JWKS or introspection endpoint) could not be asked: the credential is not judged."""

    status = 503
