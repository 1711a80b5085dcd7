"""Scoring generated rows through the Scoring API. Rows whose generation failed never reach the scorer (no judge is
asked about a missing answer): each scoring function gets an error row at their positions, and its aggregates are
computed again over all rows with the core's aggregation (an error counts as a wrong answer)."""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.common import AggregationFunction, ScoringFnParams, ScoringResult
from llama_stack_core.apis.scoring import ScoreRequest, ScoreResponse
from llama_stack_core.routing import ApiRouter
from llama_stack_core.scoring.aggregation import aggregate, error_row, functions_of


def scored_rows(rows: list[dict[str, Any]], generations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each input row with its generation's fields (``generated_answer``, and ``error`` for a failed one)."""
    return [{**row, **generation} for row, generation in zip(rows, generations, strict=True)]


async def score(
    scoring: ApiRouter,
    rows: list[dict[str, Any]],
    generations: list[dict[str, Any]],
    functions: list[str],
    overrides: dict[str, ScoringFnParams],
) -> dict[str, ScoringResult]:
    """Score every row with every function (``overrides``: params replacing a function's registered ones)."""
    inputs = scored_rows(rows, generations)
    ok = [i for i, generation in enumerate(generations) if generation.get("error") is None]
    answered: dict[str, ScoringResult] = {}
    if ok:
        request = ScoreRequest(
            input_rows=[inputs[i] for i in ok], scoring_functions={f: overrides.get(f) for f in functions}
        )
        answered = (await scoring.call_as("score", request, ScoreResponse)).results
    if len(ok) == len(rows):
        return {f: answered[f] for f in functions}
    results = {}
    for function_id in functions:
        score_rows = [error_row(str(g.get("error"))) for g in generations]
        result = answered.get(function_id)
        for position, score_row in zip(ok, result.score_rows if result else [], strict=True):
            score_rows[position] = score_row
        aggregations = await _aggregations(scoring, function_id, overrides.get(function_id), result)
        results[function_id] = ScoringResult(
            score_rows=score_rows, aggregated_results=aggregate(score_rows, aggregations, inputs)
        )
    return results


async def _aggregations(
    scoring: ApiRouter, function_id: str, override: ScoringFnParams | None, result: ScoringResult | None
) -> list[AggregationFunction]:
    """How the function's rows are aggregated: as the provider did (read from its result's keys), else as its params
    (the request's, else the registered ones) say."""
    if result is not None and (found := functions_of(result.aggregated_results)):
        return found
    if override is not None and override.aggregation_functions:
        return list(override.aggregation_functions)
    _, _, function = await scoring.resolve("scoring_function", function_id)
    params = getattr(function, "params", None) or {}
    return list(params.get("aggregation_functions") or [])
