"""Scoring: score rows, or a whole registered dataset, with one or more registered scoring functions."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import Request
from .routes import Api, ApiSpec, Route

# -- scoring function parameters ---------------------------------------------------------------------------------

AggregationFunction = Literal["average", "weighted_average", "median", "categorical_count", "accuracy"]


class LLMAsJudgeScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["llm_as_judge"] = "llm_as_judge"
    judge_model: str = Field(min_length=1)
    prompt_template: str | None = None
    judge_score_regexes: list[str] = Field(default_factory=list)
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


class RegexParserScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["regex_parser"] = "regex_parser"
    parsing_regexes: list[str] = Field(default_factory=list)
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


class BasicScoringFnParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["basic"] = "basic"
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)


ScoringFnParams = Annotated[
    LLMAsJudgeScoringFnParams | RegexParserScoringFnParams | BasicScoringFnParams, Field(discriminator="type")
]

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


class ScoringResult(BaseModel):
    """One scoring function's output: a score per row and the aggregated metrics."""

    model_config = ConfigDict(extra="allow")
    score_rows: list[dict[str, Any]]
    aggregated_results: dict[str, Any] = Field(default_factory=dict)


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
    """What a scoring provider implements. The keys of ``request.scoring_functions`` are registered function ids."""

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score the given rows."""
        ...

    async def score_batch(self, request: ScoreBatchRequest) -> ScoreBatchResponse:
        """Score every row of a dataset."""
        ...


SPEC = ApiSpec(
    api=Api.scoring,
    title="Scoring",
    protocol=ScoringProvider,
    description="Score rows or datasets with registered scoring functions.",
    routes=(
        Route("POST", "/v1/scoring/score", "score", "Score a list of rows.", ScoreRequest, ScoreResponse),
        Route("POST", "/v1/scoring/score-batch", "score_batch", "Score a dataset.",
              ScoreBatchRequest, ScoreBatchResponse),
    ),
)
