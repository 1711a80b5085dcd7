"""API routers that do more than pick a provider: operations that also touch the registry or other APIs."""

from __future__ import annotations

from ..apis.routes import Api
from ..routing import ApiRouter
from .files import FilesRouter
from .inference import InferenceRouter
from .safety import SafetyRouter
from .scoring import ScoringRouter
from .tool_runtime import ToolRuntimeRouter
from .vector_io import VectorIORouter

ROUTER_CLASSES: dict[Api, type[ApiRouter]] = {
    Api.inference: InferenceRouter,
    Api.vector_io: VectorIORouter,
    Api.files: FilesRouter,
    Api.safety: SafetyRouter,
    Api.tool_runtime: ToolRuntimeRouter,
    Api.scoring: ScoringRouter,
}


def router_class(api: Api) -> type[ApiRouter]:
    return ROUTER_CLASSES.get(api, ApiRouter)
