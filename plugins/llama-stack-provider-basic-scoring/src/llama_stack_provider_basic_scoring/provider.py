"""``inline::basic``: score rows with the built-in functions (exact match, subset, multiple-choice and math answers,
IFEval instructions), each with its registered or requested params."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from llama_stack_core.apis.common import ScoringFnParams, ScoringResult
from llama_stack_core.apis.resources import ScoringFunction
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.scoring import ScoreRequest, ScoreResponse
from llama_stack_core.errors import BadRequestError, ResourceNotFoundError
from llama_stack_core.provider_contracts import RegistersScoringFunctions
from llama_stack_core.scoring.aggregation import aggregate

from .config import BasicScoringConfig
from .functions import FUNCTIONS
from .scorers import Scorer, build_scorer

_PARAMS = TypeAdapter(ScoringFnParams)
#: scorers kept for the params seen most recently (a benchmark scores with the same params again and again)
_CACHE_SIZE = 64


class BasicScoring(RegistersScoringFunctions):
    """A ScoringProvider of the built-in functions. A function registered on it names a built-in one as its
    ``provider_scoring_fn_id`` and brings its own params."""

    def __init__(self, config: BasicScoringConfig) -> None:
        self.config = config
        self._scorers: dict[tuple[str, bytes], Scorer] = {}

    async def register_scoring_function(self, scoring_function: ScoringFunction) -> None:
        base = scoring_function.provider_resource_id or scoring_function.identifier
        if base not in FUNCTIONS:
            raise BadRequestError(
                f"scoring function '{scoring_function.identifier}': provider_scoring_fn_id must name one of this "
                f"provider's functions ({', '.join(FUNCTIONS)}), not '{base}'",
                param="provider_scoring_fn_id",
            )
        params = scoring_function.params
        if params is not None:
            try:
                params = _PARAMS.validate_python(params).model_dump()
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"][1:] if not str(p).startswith("function"))
                raise BadRequestError(f"params{'.' + where if where else ''}: {first['msg']}", param="params") from None
        self._scorer(base, params)  # bad regexes, a param type the function does not take: 400 now

    def _scorer(self, function_id: str, params: dict[str, Any] | None) -> Scorer:
        key = (function_id, orjson.dumps(params, option=orjson.OPT_SORT_KEYS))
        scorer = self._scorers.get(key)
        if scorer is None:
            try:
                scorer = build_scorer(function_id, params, self.config.regex_timeout_ms / 1000)
            except ValueError as exc:
                raise BadRequestError(f"scoring function '{function_id}' {exc}", param="scoring_functions") from None
            if len(self._scorers) >= _CACHE_SIZE:
                self._scorers.pop(next(iter(self._scorers)))
            self._scorers[key] = scorer
        return scorer

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        rows = request.input_rows
        scorers: dict[str, Scorer] = {}
        for function_id, params in request.scoring_functions.items():
            if function_id not in FUNCTIONS:
                raise ResourceNotFoundError("ScoringFunction", function_id)
            scorers[function_id] = self._scorer(function_id, params.model_dump() if params is not None else None)
        if len(rows) >= self.config.thread_min_rows:  # pure CPU: the event loop keeps serving meanwhile
            results = await asyncio.to_thread(_score_all, scorers, rows)
        else:
            results = _score_all(scorers, rows)
        return ScoreResponse.model_construct(results=results)


def _score_all(scorers: dict[str, Scorer], rows: list[dict[str, Any]]) -> dict[str, ScoringResult]:
    results = {}
    for function_id, scorer in scorers.items():
        score_rows = [scorer.score_row(row) for row in rows]
        # plain dicts built here: no validation pass over them (100k score rows are ~20 ms)
        results[function_id] = ScoringResult.model_construct(
            score_rows=score_rows, aggregated_results=aggregate(score_rows, scorer.aggregations, rows)
        )
    return results


async def create_provider(config: BasicScoringConfig, deps: dict[Api, Any]) -> BasicScoring:
    return BasicScoring(config)
