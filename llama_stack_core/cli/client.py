"""The CLI's HTTP client for a running server: every failure becomes one ``ConfigError`` line, never a traceback."""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError

DEFAULT_URL = "http://localhost:8321"
API_KEY_ENV = "LLAMA_STACK_API_KEY"


def default_url() -> str:
    """``$LLAMA_STACK_URL``, else the local server on ``$LLAMA_STACK_PORT`` (default 8321)."""
    if os.environ.get("LLAMA_STACK_URL"):
        return os.environ["LLAMA_STACK_URL"]
    port = os.environ.get("LLAMA_STACK_PORT")
    return f"http://localhost:{port}" if port else DEFAULT_URL


class HTTPStatusError(ConfigError):
    """The server answered with an error status; ``status`` and the server's own ``message``."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status
        self.message = message


class StackClient:
    """A blocking client for one server. ``api_key`` (default ``$LLAMA_STACK_API_KEY``) is sent as a bearer token;
    ``not_configured`` is the hint shown when the server answers 501 (the API has no provider there)."""

    def __init__(
        self, url: str, *, api_key: str | None = None, timeout: float = 15, not_configured: str | None = None
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._httpx = httpx
        self._not_configured = not_configured
        api_key = api_key or os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def __enter__(self) -> StackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The answer's JSON (None for an empty body); a connection failure or an error status is a ConfigError."""
        try:
            response = self._client.request(method, path, json=body, params=params)
        except self._httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot reach a Llama Stack server at {self.url} ({type(exc).__name__}: {exc}); "
                f"start one with `stack serve` or pass --url"
            ) from None
        if response.status_code == 501 and self._not_configured:
            raise ConfigError(f"the server at {self.url} {self._not_configured}")
        if response.status_code >= 400:
            raise HTTPStatusError(method, path, response.status_code, error_message(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConfigError(
                f"{method} {path}: the server at {self.url} did not answer with JSON; is it a Llama Stack server?"
            ) from None


def error_message(response: Any) -> str:
    """The message of the stack's JSON error body, else the start of the body."""
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
