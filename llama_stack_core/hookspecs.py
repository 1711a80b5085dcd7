"""Plugin hooks (pluggy marker ``llama_stack``, entry-point group ``llama_stack``).

Hooks are called once, at start-up or from the CLI; they return cheap declarations (specs). Requests never go
through a hook: the stack builds a routing table of provider objects from what the hooks declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .apis.resources import (
        Benchmark,
        Dataset,
        Model,
        RegisterRequest,
        ScoringFunction,
        Shield,
        ToolGroup,
        VectorDB,
    )
    from .apis.routes import Api
    from .config.model import RunConfig
    from .distros import DistroSpec
    from .providers import ProviderSpec
    from .resources import ResourceService
    from .routing import ApiRouter, ProviderInstance
    from .storage import KVStore

hookspec = pluggy.HookspecMarker("llama_stack")
hookimpl = pluggy.HookimplMarker("llama_stack")


@runtime_checkable
class StackView(Protocol):
    """What the ``startup`` and ``shutdown`` hooks see of the running stack (``llama_stack_core.stack.Stack``)."""

    @property
    def config(self) -> RunConfig:
        """The validated run config."""

    @property
    def apis(self) -> list[Api]:
        """The APIs this stack serves."""

    @property
    def providers(self) -> Mapping[str, Mapping[str, ProviderInstance]]:
        """api name -> provider_id -> the running provider."""

    @property
    def routers(self) -> Mapping[Api, ApiRouter]:
        """The router each served API's requests go through."""

    @property
    def resources(self) -> ResourceService | None:
        """Registering, listing and removing resources."""

    async def open_store(self, store_name: str, namespace: str | None = None) -> KVStore:
        """Open a store named in the run config's ``storage.stores`` (or a backend by name)."""


# -- providers, one hook per API -----------------------------------------------------------------------------------


@hookspec
def register_inference_providers() -> list[ProviderSpec]:
    """Inference providers this plugin offers."""


@hookspec
def register_safety_providers() -> list[ProviderSpec]:
    """Safety (shield) providers this plugin offers."""


@hookspec
def register_responses_providers() -> list[ProviderSpec]:
    """Responses (agent loop) providers this plugin offers."""


@hookspec
def register_conversations_providers() -> list[ProviderSpec]:
    """Conversations providers this plugin offers."""


@hookspec
def register_agents_providers() -> list[ProviderSpec]:
    """Agents providers (the older agents/sessions/turns API) this plugin offers."""


@hookspec
def register_tool_runtime_providers() -> list[ProviderSpec]:
    """Tool runtime providers this plugin offers."""


@hookspec
def register_vector_io_providers() -> list[ProviderSpec]:
    """Vector store providers this plugin offers."""


@hookspec
def register_files_providers() -> list[ProviderSpec]:
    """Files providers this plugin offers."""


@hookspec
def register_datasetio_providers() -> list[ProviderSpec]:
    """Dataset IO providers this plugin offers."""


@hookspec
def register_scoring_providers() -> list[ProviderSpec]:
    """Scoring providers this plugin offers."""


@hookspec
def register_eval_providers() -> list[ProviderSpec]:
    """Eval providers this plugin offers."""


@hookspec
def register_telemetry_providers() -> list[ProviderSpec]:
    """Telemetry providers this plugin offers."""


@hookspec
def register_batches_providers() -> list[ProviderSpec]:
    """Batches providers this plugin offers."""


# -- resources: defaults a plugin contributes for a configured provider, and validation on register --------------


@hookspec
def register_models(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Models to register at start-up for a configured provider (return None unless it is yours)."""


@hookspec
def register_shields(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Shields to register at start-up for a configured provider."""


@hookspec
def register_tool_groups(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Tool groups to register at start-up for a configured provider."""


@hookspec
def register_datasets(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Datasets to register at start-up for a configured provider."""


@hookspec
def register_vector_dbs(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Vector databases to register at start-up for a configured provider."""


@hookspec
def register_scoring_fns(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Scoring functions to register at start-up for a configured provider."""


@hookspec
def register_benchmarks(provider_type: str, provider_id: str, config: BaseModel) -> list[RegisterRequest]:
    """Benchmarks to register at start-up for a configured provider."""


@hookspec
def validate_model(model: Model) -> None:
    """Raise ValueError to refuse a model registration."""


@hookspec
def validate_shield(shield: Shield) -> None:
    """Raise ValueError to refuse a shield registration."""


@hookspec
def validate_tool_group(tool_group: ToolGroup) -> None:
    """Raise ValueError to refuse a tool group registration."""


@hookspec
def validate_dataset(dataset: Dataset) -> None:
    """Raise ValueError to refuse a dataset registration."""


@hookspec
def validate_vector_db(vector_db: VectorDB) -> None:
    """Raise ValueError to refuse a vector database registration."""


@hookspec
def validate_scoring_function(scoring_function: ScoringFunction) -> None:
    """Raise ValueError to refuse a scoring function registration."""


@hookspec
def validate_benchmark(benchmark: Benchmark) -> None:
    """Raise ValueError to refuse a benchmark registration."""


# -- distros and lifecycle ---------------------------------------------------------------------------------------


@hookspec
def register_distros() -> list[DistroSpec]:
    """Distributions (named run configs) this plugin ships."""


@hookspec
def startup(stack: StackView) -> Any:
    """Called once the stack is built, before serving; may return an awaitable."""


@hookspec
def shutdown(stack: StackView) -> Any:
    """Called when the server stops, before the providers shut down; may return an awaitable."""
