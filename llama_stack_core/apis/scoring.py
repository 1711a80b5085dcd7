"""Scoring: score rows, or a whole registered dataset, with one or more registered scoring functions."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import Request, ScoringFnParams, ScoringResult
from .routes import Api, ApiSpec, Route

# -- requests ----------------------------------------------------------------------------------------------------


class ScoreRequest(Request):
    input_rows: list[dict[str, Any]] = Field(min_length=1)
    scoring_functions: dict[str, ScoringFnParams | None] = Field(
        min_length=1, description="Scoring function id -> parameters overriding the registered ones (or null)."
    )


class ScoreBatchRequest(Request):
    dataset_id: str = Field(min_length=1)
    scoring_functions: dict[str, ScoringFnParams | None] = Field(min_length=1)
    save_results_dataset: bool = False


# -- responses ---------------------------------------------------------------------------------------------------


class ScoreResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    results: dict[str, ScoringResult]


class ScoreBatchResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    dataset_id: str | None = None
    results: dict[str, ScoringResult]


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class ScoringProvider(Protocol):
    """What a scoring provider implements: score rows. The keys of ``request.scoring_functions`` are the provider's
    own ids of functions registered on it (told by ``register_scoring_function``), each with its params: the
    request's, else the function's registered ones (filled in by the core), else null (the provider's defaults). Answer one :class:`ScoringResult` per function, with one score row per
    input row, in order; a row that cannot be scored gets ``scoring.aggregation.error_row`` and the others go on.

    The core does the rest: a request naming functions of several providers is split among them, and ``score-batch``
    reads the dataset through DatasetIO, scores its rows here and, if asked, saves them as a new dataset."""

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score the given rows."""
        ...


SPEC = ApiSpec(
    api=Api.scoring,
    title="Scoring",
    protocol=ScoringProvider,
    description="Score rows or datasets with registered scoring functions.",
    routes=(
        Route("POST", "/v1/scoring/score", "score", "Score a list of rows.", ScoreRequest, ScoreResponse),
        Route(
            "POST", "/v1/scoring/score-batch", "score_batch", "Score a dataset.", ScoreBatchRequest, ScoreBatchResponse
        ),
    ),
)
