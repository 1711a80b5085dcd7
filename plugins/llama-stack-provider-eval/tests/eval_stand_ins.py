"""Stand-ins for the datasetio and scoring providers the eval tests need until inline::localfs and inline::basic are
merged: inline rows only, and exact-match scoring aggregated with the core's aggregation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from llama_stack_core.apis.common import ScoringResult
from llama_stack_core.apis.datasetio import IterRowsRequest, PaginatedRows
from llama_stack_core.apis.resources import Dataset, RowsDataSource, ScoringFunction
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.scoring import ScoreRequest, ScoreResponse
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.scoring.aggregation import aggregate


class NoConfig(BaseModel):
    pass


class Rows:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def register_dataset(self, dataset: Dataset) -> None:
        assert isinstance(dataset.source, RowsDataSource)
        self.rows[dataset.provider_resource_id or dataset.identifier] = dataset.source.rows

    async def unregister_dataset(self, dataset: Dataset) -> None:
        self.rows.pop(dataset.provider_resource_id or dataset.identifier, None)

    async def iterrows(self, request: IterRowsRequest) -> PaginatedRows:
        rows = self.rows[request.dataset_id]
        start = request.start_index or 0
        end = len(rows) if request.limit in (None, -1) else start + request.limit
        page = rows[start:end]
        more = end < len(rows)
        return PaginatedRows(data=page, has_more=more, next_start_index=end if more else None)

    async def append_rows(self, request: Any) -> None:
        raise NotImplementedError


class ExactMatch:
    def __init__(self) -> None:
        self.params: dict[str, dict[str, Any]] = {}

    async def register_scoring_function(self, function: ScoringFunction) -> None:
        self.params[function.provider_resource_id or function.identifier] = function.params or {}

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        results = {}
        for function_id, override in request.scoring_functions.items():
            params = override.model_dump() if override is not None else self.params.get(function_id, {})
            rows = [
                {"score": 1.0 if str(r.get("generated_answer")).strip() == str(r.get("expected_answer")) else 0.0}
                for r in request.input_rows
            ]
            functions = params.get("aggregation_functions") or ["accuracy"]
            results[function_id] = ScoringResult(score_rows=rows, aggregated_results=aggregate(rows, functions))
        return ScoreResponse(results=results)


def create_rows(config: NoConfig, deps: Any) -> Rows:
    return Rows()


def create_exact(config: NoConfig, deps: Any) -> ExactMatch:
    return ExactMatch()


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.datasetio, provider_type="inline::rows", config_class=NoConfig, factory="eval_stand_ins:create_rows"
        )
    ]


@hookimpl
def register_scoring_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.scoring, provider_type="inline::exact", config_class=NoConfig, factory="eval_stand_ins:create_exact"
        )
    ]
