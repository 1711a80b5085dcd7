"""The optional methods a provider object may define, each a small ``runtime_checkable`` Protocol.

A provider implements its API's Protocol (``apis/<api>.py``); everything here is optional. The core checks an
object against these Protocols (``isinstance``) at start-up, on registration and at stop, never per request, and
calls the method only when the object satisfies the contract. Subclassing a Protocol is not required, but declares
the intent to a type checker.

Resource methods are named after the resource type (``register_model``, ``discover_models``); the core finds the
contracts for a type in :data:`RESOURCE_CONTRACTS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from . import tracing

if TYPE_CHECKING:
    from .apis.resources import (
        Benchmark,
        Dataset,
        DataSource,
        Model,
        RegisterBenchmarkRequest,
        RegisterDatasetRequest,
        RegisterModelRequest,
        RegisterScoringFunctionRequest,
        RegisterShieldRequest,
        RegisterToolGroupRequest,
        RegisterVectorDBRequest,
        ScoringFunction,
        Shield,
        ToolGroup,
        VectorDB,
    )


# -- lifecycle -------------------------------------------------------------------------------------------------------


@runtime_checkable
class ReportsHealth(Protocol):
    """Called for ``GET /v1/providers`` (and ``/v1/providers/{id}``), bounded to 5 s. Answer ``{"status": "OK"}`` or
    ``{"status": "Error", "message": ...}``; an exception or a timeout is shown as an error. Without it the provider's
    health is ``Not Implemented``."""

    async def health(self) -> dict[str, Any]: ...


@runtime_checkable
class DrainsBackgroundWork(Protocol):
    """Called when the stack stops, before :class:`ShutsDown`, while the APIs this provider depends on still run:
    stop accepting background work and wait up to ``timeout`` seconds for what is in flight, then cancel the rest.
    :class:`~llama_stack_core.background.BackgroundTasks` does this for tasks started through it."""

    async def drain(self, timeout: float) -> None: ...


@runtime_checkable
class ShutsDown(Protocol):
    """Called once when the stack stops, after :class:`DrainsBackgroundWork`, in reverse start order: a provider
    shuts down before the providers of the APIs it depends on. Release connections, files and processes. The stack
    waits a bounded time and logs a provider that does not return."""

    async def shutdown(self) -> None: ...


@runtime_checkable
class ListensToFileDeletions(Protocol):
    """For vector_io providers: called with the file id each time the Files API deletes a file, so the provider can
    drop what it derived from it. Errors are logged; the deletion stands."""

    async def file_deleted(self, file_id: str) -> None: ...


@runtime_checkable
class TokenizesText(Protocol):
    """For inference providers of embedding models: how the model's own tokenizer splits a text. The vector_io engine
    calls it when it chunks a document for a store that uses one of the provider's models, so chunks hold no more
    tokens than the model embeds whole (without it, the engine estimates, capped by the model's ``context_length``).
    ``model`` is the provider's id of the model. Raise ``NotImplementedError`` for a model it cannot tokenize."""

    async def tokenize_text(self, model: str, text: str) -> TextTokens: ...


class TextTokens(NamedTuple):
    """What :class:`TokenizesText` answers: the character span ``(start, end)`` of each token of the text, special
    tokens left out, and ``max_tokens``, how many such tokens the model embeds in one input (its maximum sequence
    length less the special tokens it adds)."""

    offsets: list[tuple[int, int]]
    max_tokens: int


# -- telemetry -------------------------------------------------------------------------------------------------------


SpanExporter = tracing.SpanExporter  # defined with the tracer that calls it
UsageExporter = tracing.UsageExporter


# -- resources: told about registrations, and listing what the provider can serve ----------------------------------
# ``register_<type>`` is called before a resource on this provider is stored (and at start-up for each stored one);
# raising ``ValueError`` or ``BadRequestError`` refuses it with a 400. ``unregister_<type>`` is called before it is
# removed. ``discover_<plural>`` is called at start-up; what it lists is kept as ``<provider_id>/<name>``.


@runtime_checkable
class RegistersModels(Protocol):
    """Told about each model registered on this provider."""

    async def register_model(self, model: Model) -> None: ...


@runtime_checkable
class UnregistersModels(Protocol):
    """Told before a model on this provider is removed."""

    async def unregister_model(self, model: Model) -> None: ...


@runtime_checkable
class DiscoversModels(Protocol):
    """Lists the models the provider can serve right now (e.g. its upstream's model list), at start-up."""

    async def discover_models(self) -> list[RegisterModelRequest]: ...


@runtime_checkable
class RegistersShields(Protocol):
    """Told about each shield registered on this provider."""

    async def register_shield(self, shield: Shield) -> None: ...


@runtime_checkable
class UnregistersShields(Protocol):
    """Told before a shield on this provider is removed."""

    async def unregister_shield(self, shield: Shield) -> None: ...


@runtime_checkable
class DiscoversShields(Protocol):
    """Lists the shields the provider can serve right now, at start-up."""

    async def discover_shields(self) -> list[RegisterShieldRequest]: ...


@runtime_checkable
class RegistersToolGroups(Protocol):
    """Told about each tool group registered on this provider."""

    async def register_tool_group(self, tool_group: ToolGroup) -> None: ...


@runtime_checkable
class UnregistersToolGroups(Protocol):
    """Told before a tool group on this provider is removed."""

    async def unregister_tool_group(self, tool_group: ToolGroup) -> None: ...


@runtime_checkable
class DiscoversToolGroups(Protocol):
    """Lists the tool groups the provider can serve right now, at start-up."""

    async def discover_tool_groups(self) -> list[RegisterToolGroupRequest]: ...


@runtime_checkable
class RegistersDatasets(Protocol):
    """Told about each dataset registered on this provider."""

    async def register_dataset(self, dataset: Dataset) -> None: ...


@runtime_checkable
class UnregistersDatasets(Protocol):
    """Told before a dataset on this provider is removed."""

    async def unregister_dataset(self, dataset: Dataset) -> None: ...


@runtime_checkable
class DiscoversDatasets(Protocol):
    """Lists the datasets the provider can serve right now, at start-up."""

    async def discover_datasets(self) -> list[RegisterDatasetRequest]: ...


@runtime_checkable
class ReadsDatasetSources(Protocol):
    """Whether the provider reads a dataset's source (``{"type": "uri", ...}`` by scheme, or inline rows). With
    several datasetio providers and no ``provider_id`` in a register request, the dataset goes to the first provider
    that answers yes (a ``hf://`` URI to the Hugging Face provider, a file to localfs)."""

    async def reads_dataset_source(self, source: DataSource) -> bool: ...


@runtime_checkable
class RegistersVectorDBs(Protocol):
    """Told about each vector database registered on this provider."""

    async def register_vector_db(self, vector_db: VectorDB) -> None: ...


@runtime_checkable
class UnregistersVectorDBs(Protocol):
    """Told before a vector database on this provider is removed."""

    async def unregister_vector_db(self, vector_db: VectorDB) -> None: ...


@runtime_checkable
class DiscoversVectorDBs(Protocol):
    """Lists the vector databases the provider can serve right now, at start-up."""

    async def discover_vector_dbs(self) -> list[RegisterVectorDBRequest]: ...


@runtime_checkable
class RegistersScoringFunctions(Protocol):
    """Told about each scoring function registered on this provider."""

    async def register_scoring_function(self, scoring_function: ScoringFunction) -> None: ...


@runtime_checkable
class UnregistersScoringFunctions(Protocol):
    """Told before a scoring function on this provider is removed."""

    async def unregister_scoring_function(self, scoring_function: ScoringFunction) -> None: ...


@runtime_checkable
class DiscoversScoringFunctions(Protocol):
    """Lists the scoring functions the provider can serve right now, at start-up."""

    async def discover_scoring_fns(self) -> list[RegisterScoringFunctionRequest]: ...


@runtime_checkable
class RegistersBenchmarks(Protocol):
    """Told about each benchmark registered on this provider."""

    async def register_benchmark(self, benchmark: Benchmark) -> None: ...


@runtime_checkable
class UnregistersBenchmarks(Protocol):
    """Told before a benchmark on this provider is removed."""

    async def unregister_benchmark(self, benchmark: Benchmark) -> None: ...


@runtime_checkable
class DiscoversBenchmarks(Protocol):
    """Lists the benchmarks the provider can serve right now, at start-up."""

    async def discover_benchmarks(self) -> list[RegisterBenchmarkRequest]: ...


class ResourceContracts(NamedTuple):
    """The three optional methods for one resource type; each lookup returns the bound method, or None."""

    resource_type: str
    plural: str
    registers: type
    unregisters: type
    discovers: type

    def register_method(self, impl: object) -> Callable[[Any], Awaitable[None]] | None:
        return getattr(impl, f"register_{self.resource_type}") if isinstance(impl, self.registers) else None

    def unregister_method(self, impl: object) -> Callable[[Any], Awaitable[None]] | None:
        return getattr(impl, f"unregister_{self.resource_type}") if isinstance(impl, self.unregisters) else None

    def discover_method(self, impl: object) -> Callable[[], Awaitable[list[Any]]] | None:
        return getattr(impl, f"discover_{self.plural}") if isinstance(impl, self.discovers) else None


RESOURCE_CONTRACTS: dict[str, ResourceContracts] = {
    contracts.resource_type: contracts
    for contracts in (
        ResourceContracts("model", "models", RegistersModels, UnregistersModels, DiscoversModels),
        ResourceContracts("shield", "shields", RegistersShields, UnregistersShields, DiscoversShields),
        ResourceContracts("tool_group", "tool_groups", RegistersToolGroups, UnregistersToolGroups, DiscoversToolGroups),
        ResourceContracts("dataset", "datasets", RegistersDatasets, UnregistersDatasets, DiscoversDatasets),
        ResourceContracts("vector_db", "vector_dbs", RegistersVectorDBs, UnregistersVectorDBs, DiscoversVectorDBs),
        ResourceContracts(
            "scoring_function",
            "scoring_fns",
            RegistersScoringFunctions,
            UnregistersScoringFunctions,
            DiscoversScoringFunctions,
        ),
        ResourceContracts("benchmark", "benchmarks", RegistersBenchmarks, UnregistersBenchmarks, DiscoversBenchmarks),
    )
}
