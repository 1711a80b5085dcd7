"""Resource types (Model, Shield, ToolGroup, Dataset, VectorDB, ScoringFunction, Benchmark) and their register requests.

A resource is registered first, then used by the API that owns it. Each one records the provider that serves it
(``provider_id``) and the name that provider knows it by (``provider_resource_id``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..owners import Owner
from ..redaction import MASK, redact
from .routes import Api


class ResourceSource(StrEnum):
    """How a resource came to be registered."""

    run_config = "run_config"
    via_register_api = "via_register_api"
    listed_from_provider = "listed_from_provider"
    plugin_default = "plugin_default"


class Resource(BaseModel):
    """Fields every registered resource has."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, description="Unique id clients use to refer to the resource.")
    provider_resource_id: str | None = Field(default=None, description="The id the provider knows it by.")
    provider_id: str = Field(description="Id of the provider instance that serves it.")
    origin: ResourceSource = Field(default=ResourceSource.via_register_api, description="How it was registered.")
    created: int = Field(default_factory=lambda: int(time.time()), description="Unix time of registration.")
    owner: Owner | None = Field(
        default=None, description="Who registered it (with server.auth on); none: shared, from the run config."
    )

    def public(self) -> Resource:
        """The resource as the API shows it: secrets it carries masked (it is stored as registered)."""
        return self


class ModelType(StrEnum):
    llm = "llm"
    embedding = "embedding"
    rerank = "rerank"


class Model(Resource):
    type: Literal["model"] = "model"
    model_type: ModelType = ModelType.llm
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _embedding_needs_dimension(self) -> Model:
        dimension = self.metadata.get("embedding_dimension")
        if isinstance(dimension, float) and dimension.is_integer():  # JSON's 384.0 is an integer too
            self.metadata["embedding_dimension"] = dimension = int(dimension)
        if self.model_type == ModelType.embedding and not _is_dimension(dimension):
            raise ValueError("an embedding model needs metadata.embedding_dimension, a positive integer")
        return self


def _is_dimension(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


#: What ``Model`` checks, in a register request's schema: an embedding model states its dimension.
_EMBEDDING_NEEDS_DIMENSION = {
    "if": {"properties": {"model_type": {"const": "embedding"}}, "required": ["model_type"]},
    "then": {
        "required": ["metadata"],
        "properties": {
            "metadata": {
                "type": "object",
                "required": ["embedding_dimension"],
                "properties": {"embedding_dimension": {"type": "integer", "minimum": 1}},
            }
        },
    },
}


class Shield(Resource):
    type: Literal["shield"] = "shield"
    params: dict[str, Any] | None = None


class URL(BaseModel):
    uri: str


class ToolInvocationLimits(BaseModel):
    """Bounds on one tool group's calls; unset fields take the run config's ``tool_runtime`` values."""

    model_config = ConfigDict(extra="forbid")
    timeout_seconds: float | None = Field(default=None, gt=0)
    max_result_bytes: int | None = Field(default=None, gt=0)
    max_concurrent_invocations: int | None = Field(default=None, ge=1)


class ToolGroup(Resource):
    type: Literal["tool_group"] = "tool_group"
    mcp_endpoint: URL | None = None
    args: dict[str, Any] | None = None
    limits: ToolInvocationLimits | None = None

    def public(self) -> ToolGroup:
        """Secret-named args masked, and every header value (``args.headers``: an MCP server's credentials)."""
        if not self.args:
            return self
        args = redact(self.args)
        if isinstance(args.get("headers"), dict):
            args["headers"] = dict.fromkeys(args["headers"], MASK)
        return self.model_copy(update={"args": args})


class URIDataSource(BaseModel):
    type: Literal["uri"] = "uri"
    uri: str


class RowsDataSource(BaseModel):
    type: Literal["rows"] = "rows"
    rows: list[dict[str, Any]]


DataSource = Annotated[URIDataSource | RowsDataSource, Field(discriminator="type")]


class Dataset(Resource):
    type: Literal["dataset"] = "dataset"
    purpose: Literal["post-training/messages", "eval/question-answer", "eval/messages-answer"]
    source: DataSource
    metadata: dict[str, Any] = Field(default_factory=dict)


class VectorDB(Resource):
    type: Literal["vector_db"] = "vector_db"
    embedding_model: str
    embedding_dimension: int = Field(gt=0)
    vector_db_name: str | None = None


class ReturnType(BaseModel):
    type: Literal[
        "string",
        "number",
        "boolean",
        "array",
        "object",
        "json",
        "union",
        "chat_completion_input",
        "completion_input",
        "agent_turn_input",
    ]


class ScoringFunction(Resource):
    type: Literal["scoring_function"] = "scoring_function"
    description: str | None = None
    return_type: ReturnType
    params: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Benchmark(Resource):
    type: Literal["benchmark"] = "benchmark"
    dataset_id: str
    scoring_functions: list[str]
    metadata: dict[str, Any] = Field(default_factory=dict)


# -- register requests (the older upstream's POST bodies; also the run config's resource entries) ---------------


class RegisterRequest(BaseModel):
    """Base of the register bodies. Subclasses say which field holds the id and the provider's id."""

    model_config = ConfigDict(extra="forbid")
    id_field: ClassVar[str]
    provider_id_field: ClassVar[str]

    provider_id: str | None = None

    def requested_id(self) -> str | None:
        return getattr(self, self.id_field)

    def provider_resource_id(self) -> str | None:
        return getattr(self, self.provider_id_field)

    def resource_fields(self) -> dict[str, Any]:
        """Fields that carry over to the resource unchanged."""
        skip = {self.id_field, self.provider_id_field, "provider_id"}
        return {k: v for k, v in self if k not in skip and v is not None}


class RegisterModelRequest(RegisterRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_EMBEDDING_NEEDS_DIMENSION)
    id_field = "model_id"
    provider_id_field = "provider_model_id"
    model_id: str = Field(min_length=1)
    provider_model_id: str | None = None
    model_type: ModelType | None = None
    metadata: dict[str, Any] | None = None


class RegisterShieldRequest(RegisterRequest):
    id_field = "shield_id"
    provider_id_field = "provider_shield_id"
    shield_id: str = Field(min_length=1)
    provider_shield_id: str | None = None
    params: dict[str, Any] | None = None


class RegisterToolGroupRequest(RegisterRequest):
    id_field = "toolgroup_id"
    provider_id_field = "provider_toolgroup_id"
    toolgroup_id: str = Field(min_length=1)
    provider_toolgroup_id: str | None = None
    mcp_endpoint: URL | None = None
    args: dict[str, Any] | None = None
    limits: ToolInvocationLimits | None = None


class RegisterDatasetRequest(RegisterRequest):
    id_field = "dataset_id"
    provider_id_field = "provider_dataset_id"
    dataset_id: str | None = Field(default=None, min_length=1, description="Defaults to dataset-<uuid>.")
    provider_dataset_id: str | None = None
    purpose: Literal["post-training/messages", "eval/question-answer", "eval/messages-answer"]
    source: DataSource
    metadata: dict[str, Any] | None = None


class RegisterVectorDBRequest(RegisterRequest):
    id_field = "vector_db_id"
    provider_id_field = "provider_vector_db_id"
    vector_db_id: str = Field(min_length=1)
    provider_vector_db_id: str | None = None
    embedding_model: str
    embedding_dimension: int | None = Field(default=None, gt=0)
    vector_db_name: str | None = None


class RegisterScoringFunctionRequest(RegisterRequest):
    id_field = "scoring_fn_id"
    provider_id_field = "provider_scoring_fn_id"
    scoring_fn_id: str = Field(min_length=1)
    provider_scoring_fn_id: str | None = None
    description: str | None = None
    return_type: ReturnType
    params: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class RegisterBenchmarkRequest(RegisterRequest):
    id_field = "benchmark_id"
    provider_id_field = "provider_benchmark_id"
    benchmark_id: str = Field(min_length=1)
    provider_benchmark_id: str | None = None
    dataset_id: str
    scoring_functions: list[str]
    metadata: dict[str, Any] | None = None


# -- the table of kinds ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceKind:
    """Everything the core needs to know about one resource type."""

    type: str
    plural: str
    api: Api
    model: type[Resource]
    register_request: type[RegisterRequest]
    #: Resource fields that name other resources, checked on register: field -> resource type.
    references: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        return self.model.__name__


RESOURCE_KINDS: dict[str, ResourceKind] = {
    kind.type: kind
    for kind in (
        ResourceKind("model", "models", Api.inference, Model, RegisterModelRequest),
        ResourceKind("shield", "shields", Api.safety, Shield, RegisterShieldRequest),
        ResourceKind("tool_group", "tool_groups", Api.tool_runtime, ToolGroup, RegisterToolGroupRequest),
        ResourceKind("dataset", "datasets", Api.datasetio, Dataset, RegisterDatasetRequest),
        ResourceKind(
            "vector_db",
            "vector_dbs",
            Api.vector_io,
            VectorDB,
            RegisterVectorDBRequest,
            references=(("embedding_model", "model"),),
        ),
        ResourceKind("scoring_function", "scoring_fns", Api.scoring, ScoringFunction, RegisterScoringFunctionRequest),
        ResourceKind(
            "benchmark",
            "benchmarks",
            Api.eval,
            Benchmark,
            RegisterBenchmarkRequest,
            references=(("dataset_id", "dataset"), ("scoring_functions", "scoring_function")),
        ),
    )
}


class ResourceList(BaseModel):
    """``{"data": [...]}``: the registry list shape."""

    data: list[dict[str, Any]]


class OpenAIModel(BaseModel):
    """One entry of ``GET /v1/models``: the OpenAI model object plus the Llama Stack Model fields."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    identifier: str
    provider_id: str
    provider_resource_id: str | None
    type: Literal["model"] = "model"
    model_type: ModelType
    metadata: dict[str, Any]
    custom_metadata: dict[str, Any]


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]
