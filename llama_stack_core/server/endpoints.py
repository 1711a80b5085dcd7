"""Turning a declared Route into a handler: parse and validate the request, call the operation, render the reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from types import UnionType
from typing import Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, ValidationError

from ..apis.common import BinaryContent, UploadedFile
from ..apis.inference import EmbeddingsRequest
from ..apis.routes import Route
from ..config.hardening import LimitSettings
from ..errors import BadRequestError, NotConfiguredError, UnprocessableError
from ..request_context import PROVIDER_DATA
from ..routing import Operation
from .errors import error_body, error_reply, exception_reply, exception_to_error, format_validation_error
from .http import Handler, HttpRequest, Receive, Reply, StreamReply
from .limits import AllSlots, Releasing, StreamSlots, check_embeddings

PROVIDER_DATA_HEADER = b"x-llamastack-provider-data"


def render(result: Any) -> Reply | StreamReply:
    """A provider's return value as a reply: ``bytes`` are JSON already and pass through untouched."""
    if isinstance(result, bytes):
        return Reply(result)
    if isinstance(result, BaseModel):
        if isinstance(result, BinaryContent):
            return Reply(result.content, headers=[(b"content-type", result.media_type.encode())])
        return Reply(result.__pydantic_serializer__.to_json(result))
    if hasattr(result, "__aiter__"):
        return StreamReply(sse_events(result))
    return Reply(orjson.dumps(result))


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
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _form_data(request: HttpRequest, limit: int | None) -> dict[str, Any]:
    from starlette.datastructures import UploadFile

    data: dict[str, Any] = {}
    form = await request.form(limit)
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                value = UploadedFile(
                    filename=value.filename or "upload", content_type=value.content_type, content=await value.read()
                )
            data[key] = value
    finally:
        await form.close()
    return data


def _query(pairs: list[tuple[str, str]], model: type[BaseModel]) -> dict[str, Any]:
    """Query parameters as request data: SDK bracket keys (``mcp_endpoint[uri]=...``) as nested objects, and lists
    for ``include[]=a&include[]=b`` (the openai SDK's style), ``include=a&include=b`` and a lone ``include=a`` where
    the request model's field is a list."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            previous = data.get(key[:-2])
            data[key[:-2]] = [*previous, value] if isinstance(previous, list) else [value]
            continue
        name, bracket, rest = key.partition("[")
        if bracket and rest.endswith("]") and "[" not in rest:
            target = data.get(name)
            if not isinstance(target, dict):
                target = data[name] = {}
            target[rest[:-1]] = value
        elif isinstance(data.get(key), list) or (key in data and _is_list_field(model, key)):
            previous = data[key]
            data[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[key] = [value] if _is_list_field(model, key) else value
    return data


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    if field is None:
        return False
    annotation = field.annotation
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return any(get_origin(candidate) is list or candidate is list for candidate in candidates)


async def parse_request(route: Route, request: HttpRequest, limits: LimitSettings | None = None) -> BaseModel | None:
    """Merge path params, query params and the body into the route's request model (a body over the ``limits``:
    413, refused while it is read)."""
    if route.request is None:
        return None
    data = _query(request.query_pairs(), route.request)
    if route.method in ("POST", "PUT"):
        if route.body == "multipart":
            data.update(await _form_data(request, limits and limits.max_upload_bytes))
        else:
            body = await request.body(limits and limits.max_body_bytes)
            if body.strip():
                try:
                    parsed = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    raise BadRequestError(f"malformed JSON body: {exc}") from None
                if not isinstance(parsed, dict):
                    raise BadRequestError("the JSON body must be an object")
                data.update(parsed)
    data.update(request.path_params)
    try:
        return route.request.model_validate(data)
    except ValidationError as exc:  # the caller's mistake; a ValidationError from deeper down is a bug (500)
        message, param = format_validation_error(exc)
        raise UnprocessableError(message, param=param) from None


def _set_provider_data(request: HttpRequest) -> None:
    raw = request.header(PROVIDER_DATA_HEADER)
    if raw is None:
        PROVIDER_DATA.set(None)
        return
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequestError("X-LlamaStack-Provider-Data must be a JSON object")
    PROVIDER_DATA.set(parsed)


async def _while_connected(work: Awaitable[Any], request: HttpRequest) -> Reply | StreamReply:
    """``work``'s answer rendered, ``work`` awaited in this task and cancelled if the client disconnects first (a
    generation nobody waits for stops and frees the model); the client, gone, gets a 499 nobody reads."""
    task = asyncio.current_task()
    assert task is not None
    watcher = asyncio.ensure_future(_cancel_on_disconnect(request.receive, task))
    try:
        return render(await work)
    except asyncio.CancelledError:
        if not watcher.done() or watcher.cancelled() or task.uncancel() > 0:
            raise  # cancelled from elsewhere (the server stopping), not by the client leaving
        return error_reply("the client closed the connection", "client_closed_request", 499)
    finally:
        watcher.cancel()


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[Any]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    task.cancel()


def provider_endpoint(
    route: Route,
    operation: Operation,
    limits: LimitSettings | None = None,
    streams: StreamSlots | AllSlots | None = None,
) -> Handler:
    """Handler for a route served by a provider: the request parsed, the API's operation called (routed, traced,
    metered: :class:`~llama_stack_core.routing.Operation`), its answer rendered; any failure as a JSON error.
    A streaming request takes one of its client's stream slots (``streams``) for as long as it streams."""
    call = operation.call
    streaming = streams if route.stream is not None and streams is not None and streams.limit is not None else None
    generates = route.stream is not None  # a model's work: stopped when its client goes away, streamed or not

    async def endpoint(request: HttpRequest) -> Reply | StreamReply:
        try:
            _set_provider_data(request)
            parsed = await parse_request(route, request, limits)
            if limits is not None and isinstance(parsed, EmbeddingsRequest):
                check_embeddings(parsed, limits)
            if not getattr(parsed, "stream", False):
                if generates:
                    return await _while_connected(call(parsed), request)
                return render(await call(parsed))
            if streaming is None:
                return render(await call(parsed))
            release = streaming.take(request)
        except Exception as exc:
            return exception_reply(exc)
        try:
            reply = render(await call(parsed))
        except Exception as exc:
            release()
            return exception_reply(exc)
        if isinstance(reply, StreamReply):
            reply.events = Releasing(reply.events, release)
        else:
            release()
        return reply

    return endpoint


def core_endpoint(route: Route, target: Any, limits: LimitSettings | None = None) -> Handler:
    """Handler for a route the core itself serves (``route.handler(target, request)``)."""
    handler = route.handler
    assert handler is not None

    async def endpoint(request: HttpRequest) -> Reply | StreamReply:
        try:
            return render(await handler(target, await parse_request(route, request, limits)))
        except Exception as exc:
            return exception_reply(exc)

    return endpoint


def unconfigured_endpoint(route: Route, api_name: str) -> Handler:
    """Handler for an API with no provider in this stack: 501."""
    reply = error_reply(
        f"the {api_name} API is not configured in this stack (no provider); add one under "
        f"providers.{api_name} in the run config",
        NotConfiguredError.error_type,
        501,
    )

    async def endpoint(request: HttpRequest) -> Reply:
        return reply

    return endpoint
