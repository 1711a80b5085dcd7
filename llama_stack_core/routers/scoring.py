"""Scoring routing: one request may name functions of several providers (each scores its own, at the same time),
and score-batch reads a dataset through DatasetIO, scores it, and can save the scored rows as a new dataset."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..apis.common import ScoringFnParams, ScoringResult
from ..apis.resources import Dataset, RegisterDatasetRequest, RowsDataSource, ScoringFunction
from ..apis.routes import Api
from ..apis.scoring import ScoreBatchRequest, ScoreBatchResponse, ScoreRequest, ScoreResponse
from ..datasets import read_rows
from ..errors import BadRequestError, UpstreamError
from ..routing import ApiRouter, ProviderInstance, as_model, provider_method

#: one provider call: the provider, its function ids with their params, and each one's id as the caller named it
Batch = tuple[ProviderInstance, dict[str, ScoringFnParams | None], dict[str, str]]


_PARAMS: TypeAdapter[ScoringFnParams] = TypeAdapter(ScoringFnParams)


def _registered_params(function: ScoringFunction) -> ScoringFnParams | None:
    """A function's registered params as a request's (several functions may share one provider function and differ
    only in them); None if they are not params of a known type (the provider's defaults then)."""
    try:
        return _PARAMS.validate_python(function.params)
    except ValidationError:
        return None


class ScoringRouter(ApiRouter):
    async def _batches(self, functions: dict[str, ScoringFnParams | None]) -> list[Batch]:
        """The calls to make: one per provider, or more when two caller ids name one function of a provider (a
        function registered twice, under other ids, with other params)."""
        batches: list[Batch] = []
        for function_id, params in functions.items():
            provider, provider_function_id, function = await self.resolve("scoring_function", function_id)
            if params is None and isinstance(function, ScoringFunction) and function.params:
                params = _registered_params(function)
            batch = next(
                (b for b in batches if b[0] is provider and provider_function_id not in b[1]),
                None,
            )
            if batch is None:
                batch = (provider, {}, {})
                batches.append(batch)
            batch[1][provider_function_id] = params
            batch[2][provider_function_id] = function_id
        return batches

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        batches = await self._batches(request.scoring_functions)
        return await self._scored(batches, request.input_rows, list(request.scoring_functions))

    async def _scored(self, batches: list[Batch], rows: list[dict[str, Any]], order: list[str]) -> ScoreResponse:
        """Every batch scored at the same time; the results in the request's order of functions."""
        answers = await asyncio.gather(*(self._score_on(batch, rows) for batch in batches))
        results: dict[str, ScoringResult] = {}
        for answer in answers:
            results.update(answer)
        return ScoreResponse(results={function_id: results[function_id] for function_id in order})

    async def _score_on(self, batch: Batch, rows: list[dict[str, Any]]) -> dict[str, ScoringResult]:
        provider, functions, caller_ids = batch
        score = provider_method(provider, "score")
        # the rows were validated with the caller's request (or the dataset's page): not again, 100k rows are ~40 ms
        request = ScoreRequest.model_construct(input_rows=rows, scoring_functions=functions)
        answer = as_model(await score(request), ScoreResponse)
        results = {}
        for provider_function_id, function_id in caller_ids.items():
            result = answer.results.get(provider_function_id)
            if result is None or len(result.score_rows) != len(rows):
                raise UpstreamError(
                    f"scoring provider '{provider.provider_id}' answered without {len(rows)} score rows for "
                    f"'{function_id}'"
                )
            results[function_id] = result
        return results

    async def score_batch(self, request: ScoreBatchRequest) -> ScoreBatchResponse:
        batches = await self._batches(request.scoring_functions)  # unknown functions: 404 before any reading
        rows = await read_rows(self.peer(Api.datasetio), request.dataset_id)
        if not rows:
            raise BadRequestError(f"dataset '{request.dataset_id}' has no rows to score", param="dataset_id")
        scored = await self._scored(batches, rows, list(request.scoring_functions))
        saved = None
        if request.save_results_dataset:
            saved = await self._save(request.dataset_id, rows, scored.results)
        return ScoreBatchResponse(dataset_id=saved, results=scored.results)

    async def _save(self, dataset_id: str, rows: list[dict[str, Any]], results: dict[str, ScoringResult]) -> str:
        """Register the rows, each with its score row under every function's id, as a new dataset (the caller owns
        it); answer its id."""
        source = await self._resources.lookup("dataset", dataset_id)
        purpose = source.purpose if isinstance(source, Dataset) else "eval/question-answer"
        scored_rows = [
            {**row, **{function_id: result.score_rows[i] for function_id, result in results.items()}}
            for i, row in enumerate(rows)
        ]
        saved = await self._resources.register(
            "dataset",
            RegisterDatasetRequest(
                purpose=purpose,
                source=RowsDataSource(rows=scored_rows),
                metadata={"scored_dataset_id": dataset_id, "scoring_functions": list(results)},
            ),
        )
        return saved.identifier
