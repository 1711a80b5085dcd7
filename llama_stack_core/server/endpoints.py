"""Turning a declared Route into a starlette endpoint: parse, validate, route, call the provider, render."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..apis.common import BinaryContent, UploadedFile
from ..apis.routes import Route
from ..errors import BadRequestError, NotConfiguredError
from ..request_context import PROVIDER_DATA
from ..routing import ApiRouter
from .errors import error_body, exception_response, exception_to_error

Endpoint = Callable[[Request], Awaitable[Response]]
PROVIDER_DATA_HEADER = "x-llamastack-provider-data"


def _json(data: bytes, status: int = 200) -> Response:
    return Response(data, status_code=status, media_type="application/json")


def render(result: Any) -> Response:
    """A provider's return value as an HTTP response (``bytes`` are JSON already, passed through)."""
    if isinstance(result, bytes):
        return _json(result)
    if isinstance(result, BaseModel):
        if isinstance(result, BinaryContent):
            return Response(result.content, media_type=result.media_type)
        return _json(result.__pydantic_serializer__.to_json(result))
    if isinstance(result, Response):
        return result
    return _json(orjson.dumps(result))


def _sse_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        payload = item
    elif isinstance(item, BaseModel):
        payload = item.__pydantic_serializer__.to_json(item)
    else:
        payload = orjson.dumps(item)
    return b"data: " + payload + b"\n\n"


async def sse_events(chunks: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """Upstream SSE framing: ``data: <json>\\n\\n`` per chunk, no [DONE]; a failure ends with an error event."""
    try:
        async for chunk in chunks:
            yield _sse_bytes(chunk)
    except Exception as exc:
        message, error_type, status, param = exception_to_error(exc)
        yield _sse_bytes(error_body(message, error_type, status, param))


async def _form_data(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                value = UploadedFile(filename=value.filename or "upload", content_type=value.content_type,
                                     content=await value.read())
            data[key] = value
    return data


async def parse_request(route: Route, request: Request) -> BaseModel | None:
    """Merge path params, query params and the body into the route's request model."""
    if route.request is None:
        return None
    data: dict[str, Any] = dict(request.query_params) if request.query_params else {}
    if route.method in ("POST", "PUT"):
        if route.body == "multipart":
            data.update(await _form_data(request))
        else:
            body = await request.body()
            if body.strip():
                try:
                    parsed = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    raise BadRequestError(f"malformed JSON body: {exc}") from None
                if not isinstance(parsed, dict):
                    raise BadRequestError("the JSON body must be an object")
                data.update(parsed)
    data.update(request.path_params)
    return route.request.model_validate(data)


def _set_provider_data(request: Request) -> None:
    raw = request.headers.get(PROVIDER_DATA_HEADER)
    if raw is None:
        PROVIDER_DATA.set(None)
        return
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequestError("X-LlamaStack-Provider-Data must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadRequestError("X-LlamaStack-Provider-Data must be a JSON object")
    PROVIDER_DATA.set(parsed)


def provider_endpoint(route: Route, router: ApiRouter) -> Endpoint:
    """Endpoint for a route served by a provider, picked per request by the router."""
    method_name = route.name

    async def endpoint(request: Request) -> Response:
        try:
            _set_provider_data(request)
            parsed = await parse_request(route, request)
            impl, parsed = await router.route(route, parsed)
            result = await getattr(impl, method_name)(parsed)
        except Exception as exc:
            return exception_response(exc)
        if hasattr(result, "__aiter__"):
            return StreamingResponse(sse_events(result), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return render(result)

    return endpoint


def core_endpoint(route: Route, target: Any) -> Endpoint:
    """Endpoint for a route the core itself serves (``route.handler(target, request)``)."""
    handler = route.handler
    assert handler is not None

    async def endpoint(request: Request) -> Response:
        try:
            parsed = await parse_request(route, request)
            result = await handler(target, parsed)
        except Exception as exc:
            return exception_response(exc)
        return render(result)

    return endpoint


def unconfigured_endpoint(route: Route, api_name: str) -> Endpoint:
    """Endpoint for an API with no provider in this stack: 501."""
    error = NotConfiguredError(f"the {api_name} API is not configured in this stack (no provider); "
                               f"add one under providers.{api_name} in the run config")

    async def endpoint(request: Request) -> Response:
        return exception_response(error)

    return endpoint
