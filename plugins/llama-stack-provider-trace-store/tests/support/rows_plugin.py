"""A datasetio provider for the trace store's tests: datasets kept in memory, rows appended and read back.

Registered like any plugin (``PluginManager(extra_plugins=[rows_plugin])``): save_spans_to_dataset reaches it
through the stack's datasetio router.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from llama_stack_core.apis.resources import Resource
from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec


class RowsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryRows:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def register_dataset(self, dataset: Resource) -> None:
        self.rows.setdefault(dataset.provider_resource_id or dataset.identifier, [])

    async def unregister_dataset(self, dataset: Resource) -> None:
        self.rows.pop(dataset.provider_resource_id or dataset.identifier, None)

    async def iterrows(self, request: Any) -> dict[str, Any]:
        rows = self.rows.get(request.dataset_id, [])
        return {"data": rows, "has_more": False}

    async def append_rows(self, request: Any) -> None:
        self.rows.setdefault(request.dataset_id, []).extend(request.rows)


def create_rows(config: RowsConfig, deps: dict[Api, Any]) -> MemoryRows:
    return MemoryRows()


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.datasetio,
            provider_type="inline::memory-rows",
            config_class=RowsConfig,
            factory="rows_plugin:create_rows",
            description="Test: datasets in memory.",
        )
    ]
