"""API contracts: one module per API with its request/response models, provider Protocol and routes."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from .routes import Api, ApiSpec, ResourceRef, Route

_MODULES = {
    Api.inference: "inference",
    Api.safety: "safety",
    Api.responses: "responses",
    Api.conversations: "conversations",
    Api.agents: "agents",
    Api.tool_runtime: "tool_runtime",
    Api.vector_io: "vector_io",
    Api.files: "files",
    Api.datasetio: "datasetio",
    Api.scoring: "scoring",
    Api.eval: "eval",
    Api.telemetry: "telemetry",
    Api.batches: "batches",
}


@cache
def api_spec(api: Api) -> ApiSpec:
    """The contract of one API (imported on first use)."""
    return import_module(f"{__name__}.{_MODULES[api]}").SPEC


def all_api_specs() -> list[ApiSpec]:
    return [api_spec(api) for api in Api]


__all__ = ["Api", "ApiSpec", "ResourceRef", "Route", "all_api_specs", "api_spec"]
