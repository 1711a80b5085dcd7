"""Routes the core serves itself: health, version, providers, route inspection, and resource registration."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from .. import __version__
from ..apis.common import DataList, Empty
from ..apis.resources import RESOURCE_KINDS, OpenAIModel, OpenAIModelList, Resource, ResourceKind
from ..apis.routes import Route
from ..errors import NotFoundError
from ..owners import readable

if TYPE_CHECKING:
    from .context import ServerContext


class HealthInfo(BaseModel):
    status: Literal["OK", "Error", "Not Implemented"]


class VersionInfo(BaseModel):
    version: str


class ProviderInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    api: str
    provider_id: str
    provider_type: str
    config: dict[str, Any]
    health: dict[str, Any]
    package: str | None = None
    version: str | None = None


class GetProviderRequest(BaseModel):
    provider_id: str


class RouteInfo(BaseModel):
    route: str
    method: str
    provider_types: list[str]


class ListRoutesRequest(BaseModel):
    api_filter: str | None = None


async def health(ctx: ServerContext, _: Any) -> HealthInfo:
    return HealthInfo(status="OK")


async def version(ctx: ServerContext, _: Any) -> VersionInfo:
    return VersionInfo(version=__version__)


async def list_providers(ctx: ServerContext, _: Any) -> DataList[ProviderInfo]:
    instances = ctx.stack.all_instances()
    infos = await asyncio.gather(*(ctx.stack.provider_info(i) for i in instances))
    return DataList[ProviderInfo](data=[ProviderInfo(**info) for info in infos])


async def get_provider(ctx: ServerContext, request: GetProviderRequest) -> ProviderInfo:
    for instance in ctx.stack.all_instances():
        if instance.provider_id == request.provider_id:
            return ProviderInfo(**await ctx.stack.provider_info(instance))
    raise NotFoundError(f"provider '{request.provider_id}' not found")


async def list_routes(ctx: ServerContext, request: ListRoutesRequest) -> DataList[RouteInfo]:
    return DataList[RouteInfo](
        data=[
            RouteInfo(route=path, method=route.method, provider_types=ctx.provider_types(route))
            for route in ctx.routes
            if request.api_filter in (None, ctx.api_of(route))
            for path in route.paths
        ]
    )


async def openapi(ctx: ServerContext, _: Any) -> dict[str, Any]:
    return ctx.openapi()


INFO_ROUTES = (
    Route("GET", "/v1/health", "health", "Liveness.", Empty, HealthInfo, handler=health),
    Route("GET", "/v1/version", "version", "Server version.", Empty, VersionInfo, handler=version),
    Route(
        "GET",
        "/v1/providers",
        "list_providers",
        "List provider instances (secrets redacted).",
        Empty,
        DataList[ProviderInfo],
        handler=list_providers,
    ),
    Route(
        "GET",
        "/v1/providers/{provider_id}",
        "get_provider",
        "Get one provider instance.",
        GetProviderRequest,
        ProviderInfo,
        handler=get_provider,
    ),
    Route(
        "GET",
        "/v1/inspect/routes",
        "list_routes",
        "List the routes this server answers.",
        ListRoutesRequest,
        DataList[RouteInfo],
        handler=list_routes,
    ),
    Route("GET", "/openapi.json", "openapi", "This server's OpenAPI document.", Empty, None, handler=openapi),
)


# -- resources -------------------------------------------------------------------------------------------------

#: kind -> (collection path, path parameter name, aliases of the collection path)
RESOURCE_PATHS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "model": ("/v1/models", "model_id", ("/v1/openai/v1/models",)),
    "shield": ("/v1/shields", "identifier", ()),
    "tool_group": ("/v1/toolgroups", "toolgroup_id", ()),
    "dataset": ("/v1beta/datasets", "dataset_id", ("/v1/datasets",)),
    "vector_db": ("/v1/vector-dbs", "vector_db_id", ()),
    "scoring_function": ("/v1/scoring-functions", "scoring_fn_id", ()),
    "benchmark": ("/v1alpha/eval/benchmarks", "benchmark_id", ("/v1/eval/benchmarks",)),
}

_SLASHED_IDS = {"model", "shield", "dataset", "scoring_function", "tool_group", "vector_db"}


def openai_model(model: Resource) -> OpenAIModel:
    fields = model.model_dump(mode="json")
    custom = {
        "model_type": fields["model_type"],
        "provider_id": model.provider_id,
        "provider_resource_id": model.provider_resource_id,
        **fields["metadata"],
    }
    return OpenAIModel(**fields, id=model.identifier, owned_by="llama_stack", custom_metadata=custom)


def _resource_routes(kind: ResourceKind) -> tuple[Route, ...]:
    collection, param, aliases = RESOURCE_PATHS[kind.type]
    item = f"{collection}/{{{param}:path}}" if kind.type in _SLASHED_IDS else f"{collection}/{{{param}}}"
    item_aliases = tuple(a + item[len(collection) :] for a in aliases)
    id_request = create_model(f"{kind.title}IdRequest", **{param: (str, ...)})
    resource_type = kind.type

    async def list_resources(ctx: ServerContext, _: Any) -> Any:
        resources = readable(
            await ctx.stack.resources.registry.list(resource_type), resource_type, lambda r: (r.identifier, r.owner)
        )
        if resource_type == "model":
            return OpenAIModelList(data=[openai_model(r) for r in resources])
        return DataList[kind.model](data=[r.public() for r in resources])

    async def get_resource(ctx: ServerContext, request: BaseModel) -> Resource:
        return (await ctx.stack.resources.get(resource_type, getattr(request, param))).public()

    async def register_resource(ctx: ServerContext, request: Any) -> Resource:
        return (await ctx.stack.resources.register(resource_type, request)).public()

    async def unregister_resource(ctx: ServerContext, request: BaseModel) -> None:
        await ctx.stack.resources.unregister(resource_type, getattr(request, param))

    title, plural = kind.title, kind.plural
    list_response = OpenAIModelList if kind.type == "model" else DataList[kind.model]
    return (
        Route(
            "GET",
            collection,
            f"list_{plural}",
            f"List {plural}.",
            Empty,
            list_response,
            aliases=aliases,
            handler=list_resources,
        ),
        Route(
            "POST",
            collection,
            f"register_{kind.type}",
            f"Register a {title}.",
            kind.register_request,
            kind.model,
            aliases=aliases,
            handler=register_resource,
        ),
        Route(
            "GET",
            item,
            f"get_{kind.type}",
            f"Get a {title}.",
            id_request,
            kind.model,
            aliases=item_aliases,
            handler=get_resource,
        ),
        Route(
            "DELETE",
            item,
            f"unregister_{kind.type}",
            f"Unregister a {title}.",
            id_request,
            None,
            aliases=item_aliases,
            handler=unregister_resource,
        ),
    )


RESOURCE_ROUTES = tuple(route for kind in RESOURCE_KINDS.values() for route in _resource_routes(kind))
