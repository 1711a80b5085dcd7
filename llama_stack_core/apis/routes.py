"""Declarative route tables: the single source for the HTTP server, the routers and the OpenAPI document.

Every API module declares its routes as :class:`Route` values. A route names one request model (its fields come from
the path, the query string and the body, merged) and one response model. Unless a route carries a core ``handler``,
the server dispatches it to the provider method called ``route.name``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from ..owners import Action


class Api(StrEnum):
    """The APIs a stack can serve. Providers implement exactly one of them."""

    inference = "inference"
    safety = "safety"
    responses = "responses"
    conversations = "conversations"
    agents = "agents"
    tool_runtime = "tool_runtime"
    vector_io = "vector_io"
    files = "files"
    datasetio = "datasetio"
    scoring = "scoring"
    eval = "eval"
    telemetry = "telemetry"
    batches = "batches"


@dataclass(frozen=True)
class ResourceRef:
    """Says which request field names the resource that picks the provider (e.g. ``model`` -> a Model)."""

    field: str
    resource_type: str
    model_type: str | None = None  # for models: the model_type the operation needs (llm, embedding, ...)
    #: what the operation does to the resource, for access rules: using it (inference, search) is a read
    action: Action = Action.read


@dataclass(frozen=True)
class Route:
    """One HTTP operation."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    name: str
    summary: str
    request: type[BaseModel] | None = None
    response: Any = None
    resource: ResourceRef | None = None
    stream: type[BaseModel] | None = None
    aliases: tuple[str, ...] = ()
    deprecated: bool = False
    body: Literal["json", "multipart"] = "json"
    handler: Callable[..., Awaitable[Any]] | None = field(default=None, compare=False)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)


@dataclass(frozen=True)
class ApiSpec:
    """An API's contract: its name, the Protocol its providers implement and its routes."""

    api: Api
    title: str
    protocol: type[Protocol]  # type: ignore[valid-type]
    routes: tuple[Route, ...]
    description: str = ""
