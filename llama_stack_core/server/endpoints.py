"""Turning a declared Route into a handler: parse, validate, route, call the provider, render the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import orjson
from pydantic import BaseModel

from ..apis.common import BinaryContent, UploadedFile
from ..apis.routes import Api, Route
from ..errors import BadRequestError, NotConfiguredError
from ..request_context import PROVIDER_DATA
from ..routing import ApiRouter, ProviderInstance
from ..token_usage import TokenMeter
from ..tracing import CURRENT, start_child, traced_stream
from .errors import error_body, error_reply, exception_reply, exception_to_error
from .http import Handler, HttpRequest, Reply, StreamReply
from .span_attributes import observe_chunk, record_usage

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


async def sse_events(chunks: AsyncIterator[Any], on_end: Callable[[Any], None] | None = None) -> AsyncIterator[bytes]:
    """Upstream SSE framing: ``data: <json>\\n\\n`` per chunk, no [DONE]; a failure ends with an error event.
    ``on_end`` receives the last chunk (None if there was none) when the stream ends: the chunk where
    OpenAI-compatible servers put a stream's token usage."""
    last = None
    try:
        async for chunk in chunks:
            last = chunk
            yield _sse_bytes(chunk)
    except Exception as exc:
        message, error_type, status, param = exception_to_error(exc)
        yield _sse_bytes(error_body(message, error_type, status, param))
    finally:
        if on_end is not None:
            on_end(last)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _form_data(request: HttpRequest) -> dict[str, Any]:
    from starlette.datastructures import UploadFile

    data: dict[str, Any] = {}
    form = await request.form()
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


async def parse_request(route: Route, request: HttpRequest) -> BaseModel | None:
    """Merge path params, query params and the body into the route's request model."""
    if route.request is None:
        return None
    data: dict[str, Any] = request.query_params()
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


def provider_endpoint(route: Route, router: ApiRouter) -> Handler:
    """Handler for a route served by a provider, picked per request by the router (or by the router itself, when it
    defines a method of the route's name: an operation that needs the registry as well as a provider)."""
    method_name = route.name
    override = getattr(router, method_name, None)
    if override is not None:

        async def overridden(request: HttpRequest) -> Reply | StreamReply:
            try:
                _set_provider_data(request)
                return render(await override(await parse_request(route, request)))
            except Exception as exc:
                return exception_reply(exc)

        return overridden

    counts_tokens = router.api is Api.inference

    async def endpoint(request: HttpRequest) -> Reply | StreamReply:
        try:
            _set_provider_data(request)
            parsed = await parse_request(route, request)
            resource_id = getattr(parsed, route.resource.field, None) if route.resource and parsed else None
            provider, parsed = await router.route(route, parsed)
            span = CURRENT.get()
            if span is None:
                return render(await operation(provider, method_name)(parsed))
            if span.recording:
                return await traced_provider_call(route, provider, parsed, resource_id)
            result = await operation(provider, method_name)(parsed)
            if counts_tokens:  # not recorded, but token usage still counts
                return metered_reply(span.tracer.tokens, resource_id, provider.provider_id, result)
            return render(result)
        except Exception as exc:
            return exception_reply(exc)

    return endpoint


def operation(provider: ProviderInstance, name: str) -> Any:
    """The provider's method for an operation; a provider that lacks it answers 501, not 500."""
    method = getattr(provider.impl, name, None)
    if method is None:
        raise NotImplementedError(
            f"provider '{provider.provider_id}' ({provider.provider_type}) does not implement {name}"
        )
    return method


def metered_reply(meter: TokenMeter, model: str | None, provider_id: str, result: Any) -> Reply | StreamReply:
    """An inference answer whose trace is not recorded: its token usage goes to the meter."""
    if type(result) is bytes:  # an upstream's answer, passed through
        meter.add_answer(model, provider_id, result)
        return Reply(result)
    if hasattr(result, "__aiter__"):
        return StreamReply(sse_events(result, on_end=partial(meter.add_answer, model, provider_id)))
    meter.add_answer(model, provider_id, result)
    return render(result)


async def traced_provider_call(
    route: Route, provider: ProviderInstance, request: BaseModel | None, resource_id: str | None
) -> Reply | StreamReply:
    """The provider call as a span with provider, resource and (for inference) token and first-token figures."""
    span = start_child(
        f"{provider.api.value}.{route.name}",
        **{
            "api": provider.api.value,
            "provider.id": provider.provider_id,
            "provider.type": provider.provider_type,
            **({"resource.id": resource_id} if resource_id else {}),
        },
    )
    assert span is not None and span.tracer is not None
    token = CURRENT.set(span)
    try:
        result = await operation(provider, route.name)(request)
    except BaseException as exc:
        span.fail(exc)
        span.tracer.finish(span)
        raise
    finally:
        CURRENT.reset(token)
    if hasattr(result, "__aiter__"):
        return StreamReply(sse_events(traced_stream(span, result, observe_chunk)))
    record_usage(span, result)
    span.tracer.finish(span)
    return render(result)


def core_endpoint(route: Route, target: Any) -> Handler:
    """Handler for a route the core itself serves (``route.handler(target, request)``)."""
    handler = route.handler
    assert handler is not None

    async def endpoint(request: HttpRequest) -> Reply | StreamReply:
        try:
            return render(await handler(target, await parse_request(route, request)))
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
