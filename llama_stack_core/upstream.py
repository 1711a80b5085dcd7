"""The one outbound HTTP seam: a pooled client per provider for calling upstream services.

Built on aiohttp's client, the fastest of the clients compared on this workload (a pass-through proxy on one core;
bench/README.md, "Figures behind the design"). Providers use only this module, so the client library can change without touching them. aiohttp is imported when the first
client is built, never by ``import llama_stack_core``.

Errors come back as the core's exceptions: upstream 4xx keeps its status and the vendor's message, 5xx becomes 502,
unreachable 502, timeout 504.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from .errors import StackError, UpstreamError, UpstreamTimeoutError
from .redaction import mask_secrets
from .tracing import child_span

log = logging.getLogger(__name__)

_DONE = b"[DONE]"


def vendor_message(body: bytes) -> str:
    """The error message a vendor put in its body (OpenAI, FastAPI and plain-text shapes, and nested ones such as
    ``{"detail": {"error": ...}}`` or ``{"error": {"detail": ...}}``), secrets masked: a vendor may echo the key
    it refused, and this text goes to the client, the logs and the trace."""
    return mask_secrets(_vendor_text(body))


def _vendor_text(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace").strip()[:500] or "no message"
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(error, dict):
            error = error.get("message", error.get("detail", error.get("error", error)))
        return str(error)[:500]
    return str(data)[:500]


def upstream_status_error(status: int, body: bytes, where: str, retry_after: str | None = None) -> StackError:
    """The error for an upstream's error answer. ``upstream_status`` and ``retry_after`` (its Retry-After header,
    if any) ride along on the exception, for providers that map a vendor's statuses themselves."""
    message = vendor_message(body)
    if 400 <= status < 500:
        error = StackError(f"{where}: {message}", status_code=status)
        error.error_type = "upstream_client_error"
    else:
        error = UpstreamError(f"{where} answered {status}: {message}")
    error.upstream_status = status  # type: ignore[attr-defined]
    error.retry_after = retry_after  # type: ignore[attr-defined]
    return error


class UpstreamClient:
    """A pooled, keep-alive HTTP client bound to one base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 512,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._headers = dict(headers or {})
        self._max_connections = max_connections
        self._session: Any = None

    def _client(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout, sock_read=self._timeout),
                headers=self._headers,
                skip_auto_headers=("User-Agent",),
                auto_decompress=True,
            )
        return self._session

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _where(self, path: str) -> str:
        return f"{self.name} {path}"

    async def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """Send a request and return the body of a 2xx answer."""
        import aiohttp

        try:
            with child_span("http.client", **{"http.method": method, "http.url": self._url(path)}) as span:
                async with self._client().request(
                    method, self._url(path), data=body, headers=_json_headers(headers, body, span.traceparent)
                ) as response:
                    span.set("http.status_code", response.status)
                    data = await response.read()
                    if response.status >= 400:
                        raise upstream_status_error(
                            response.status, data, self._where(path), response.headers.get("Retry-After")
                        )
                    return data
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeoutError(f"{self._where(path)} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot reach {self.name} at {self.base_url}: {type(exc).__name__}") from None

    async def get_json(self, path: str, *, headers: Mapping[str, str] | None = None) -> Any:
        body = await self.request("GET", path, headers=headers)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                mask_secrets(f"{self._where(path)} answered with invalid JSON: {body[:200]!r}")
            ) from None

    async def stream_events(
        self, path: str, *, body: bytes, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """POST and yield each server-sent event's data payload as it arrives (``[DONE]`` is dropped).

        The request is sent and its status checked before this returns, so a refused request fails as a plain
        HTTP error; a failure after the first event surfaces while iterating.
        """
        import aiohttp

        try:
            with child_span(
                "http.client", **{"http.method": "POST", "http.url": self._url(path), "http.stream": True}
            ) as span:
                response = await self._client().post(
                    self._url(path), data=body, headers=_json_headers(headers, body, span.traceparent)
                )
                span.set("http.status_code", response.status)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeoutError(f"{self._where(path)} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot reach {self.name} at {self.base_url}: {type(exc).__name__}") from None
        if response.status >= 400:
            data = await response.read()
            response.release()
            raise upstream_status_error(response.status, data, self._where(path))
        return self._events(response, path)

    async def _events(self, response: Any, path: str) -> AsyncIterator[bytes]:
        import aiohttp

        buffer = b""
        try:
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == _DONE:
                        return
                    if payload:
                        yield payload
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeoutError(f"{self._where(path)} timed out mid-stream") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"{self.name} stream broke: {type(exc).__name__}") from None
        finally:
            response.release()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _json_headers(
    headers: Mapping[str, str] | None, body: bytes | None, traceparent: str | None = None
) -> dict[str, str] | None:
    extra = {"traceparent": traceparent} if traceparent else {}
    if body is None:
        return {**headers, **extra} if headers or extra else None
    return {"Content-Type": "application/json", **(headers or {}), **extra}
