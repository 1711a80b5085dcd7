"""Exceptions that map to HTTP statuses, shared by the core and by providers.

Raise these from anywhere (routers, registry, providers); the server turns them into the one JSON error body.
Refuse a bad request with :class:`BadRequestError` (or another subclass): any other exception, ``ValueError``
included, is a bug, answered 500 with a generic message and its traceback logged.
"""

from __future__ import annotations


class StackError(Exception):
    """Base class: a failure with an HTTP status and an error type name."""

    status_code: int = 500
    error_type: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if status_code is not None:
            self.status_code = status_code


class BadRequestError(StackError):
    status_code = 400
    error_type = "invalid_request_error"


class AuthenticationError(StackError):
    status_code = 401
    error_type = "authentication_error"


class PermissionDeniedError(StackError):
    status_code = 403
    error_type = "permission_denied"


class NotFoundError(StackError):
    status_code = 404
    error_type = "not_found"


class ConflictError(StackError):
    status_code = 409
    error_type = "conflict"


class UnprocessableError(StackError):
    status_code = 422
    error_type = "validation_error"


class NotConfiguredError(StackError):
    """The API has no provider in this stack's run config."""

    status_code = 501
    error_type = "not_implemented"


class PayloadTooLargeError(StackError):
    """A request (its body, an upload, an embeddings input) is over the server's limit."""

    status_code = 413
    error_type = "request_too_large"


class TooManyRequestsError(StackError):
    """A client is over a concurrency or rate limit."""

    status_code = 429
    error_type = "rate_limit_exceeded"


class UpstreamError(StackError):
    """An upstream service answered with an error or could not be reached."""

    status_code = 502
    error_type = "upstream_error"


class ServiceUnavailableError(StackError):
    status_code = 503
    error_type = "service_unavailable"


class UpstreamTimeoutError(StackError):
    status_code = 504
    error_type = "timeout"


class ResourceNotFoundError(NotFoundError):
    """A named resource (model, shield, ...) is not registered."""

    def __init__(self, resource_type: str, identifier: str, *, hint: str | None = None) -> None:
        message = f"{resource_type} '{identifier}' not found"
        if hint:
            message = f"{message}. {hint}"
        super().__init__(message)
        self.resource_type = resource_type
        self.identifier = identifier


class ConfigError(Exception):
    """The run config or a plugin is unusable; raised at start-up, shown by the CLI without a traceback."""
