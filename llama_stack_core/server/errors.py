"""The one JSON error body: ``{"error": {"message", "type", "param"?, "code"?}}`` (upstream's shape)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError

from ..errors import StackError
from ..redaction import mask_secrets
from .http import Reply

log = logging.getLogger("llama_stack_core.server")


def error_body(message: str, error_type: str, status: int, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": str(status)}
    if param:
        error["param"] = param
    return {"error": error}


def error_reply(message: str, error_type: str, status: int, param: str | None = None) -> Reply:
    return Reply(orjson.dumps(error_body(message, error_type, status, param)), status=status)


def format_validation_error(exc: ValidationError) -> tuple[str, str | None]:
    """A readable message listing each invalid field, and the first field's dotted path."""
    parts, first = [], None
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-")) or "body"
        first = first or loc
        parts.append(f"{loc}: {err['msg']}")
    return "invalid request: " + "; ".join(parts), first


def exception_to_error(exc: BaseException) -> tuple[str, str, int, str | None]:
    """``(message, type, status, param)`` for any exception; unexpected ones are logged and hidden.

    Only the explicit errors are 4xx (a :class:`StackError`; an invalid request body is an ``UnprocessableError``):
    a provider's stray ``ValueError``, ``KeyError``, ``ValidationError``, ... is a bug, answered 500 with a generic
    message, traceback logged. Secrets in a message are masked (:func:`~llama_stack_core.redaction.mask_secrets`).
    """
    if isinstance(exc, StackError):
        return mask_secrets(exc.message), exc.error_type, exc.status_code, exc.param
    if isinstance(exc, ConnectionError):
        return mask_secrets(f"upstream connection failed: {exc}"), "upstream_error", 502, None
    if isinstance(exc, TimeoutError):
        return "upstream timed out", "timeout", 504, None
    if isinstance(exc, NotImplementedError):
        return mask_secrets(str(exc)) or "not implemented by this provider", "not_implemented", 501, None
    log.error("unhandled error", exc_info=exc)
    return "internal server error", "internal_error", 500, None


def exception_reply(exc: BaseException) -> Reply:
    return error_reply(*exception_to_error(exc))
