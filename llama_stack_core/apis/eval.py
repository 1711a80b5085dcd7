"""Eval: run a model or agent candidate over a registered benchmark, as a job or synchronously on given rows."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import Job, Request, ScoringFnParams, ScoringResult, StackSamplingParams, StackSystemMessage, StrictRequest
from .routes import Api, ApiSpec, ResourceRef, Route

# -- candidate ---------------------------------------------------------------------------------------------------


class ModelCandidate(BaseModel):
    type: Literal["model"] = "model"
    model: str = Field(min_length=1)
    sampling_params: StackSamplingParams = Field(default_factory=StackSamplingParams)
    system_message: StackSystemMessage | None = None


class AgentCandidateConfig(BaseModel):
    """The agent config of an agent candidate (the Agents API's AgentConfig; extra keys kept)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    instructions: str


class AgentCandidate(BaseModel):
    type: Literal["agent"] = "agent"
    config: AgentCandidateConfig


EvalCandidate = Annotated[ModelCandidate | AgentCandidate, Field(discriminator="type")]


class BenchmarkConfig(BaseModel):
    eval_candidate: EvalCandidate
    scoring_params: dict[str, ScoringFnParams] = Field(
        default_factory=dict, description="Scoring function id -> parameters overriding the registered ones."
    )
    num_examples: int | None = Field(default=None, ge=1, description="Evaluate only the first N rows.")


# -- requests ----------------------------------------------------------------------------------------------------


class RunEvalRequest(Request):
    benchmark_id: str = Field(min_length=1)
    benchmark_config: BenchmarkConfig


class EvaluateRowsRequest(Request):
    benchmark_id: str = Field(min_length=1)
    input_rows: list[dict[str, Any]] = Field(min_length=1)
    scoring_functions: list[str] = Field(min_length=1)
    benchmark_config: BenchmarkConfig


class EvalJobRequest(StrictRequest):
    """Path ``benchmark_id`` and ``job_id``."""

    benchmark_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)


# -- responses ---------------------------------------------------------------------------------------------------


class EvalJobProgress(BaseModel):
    """How far a job is: rows to evaluate, rows done (generated and scored, failed ones included), rows failed."""

    total_rows: int = Field(default=0, ge=0)
    completed_rows: int = Field(default=0, ge=0)
    failed_rows: int = Field(default=0, ge=0)


class EvalJob(Job):
    """An evaluation job: ``{job_id, status}`` as clients read it, plus its benchmark, times and progress."""

    model_config = ConfigDict(extra="allow")
    benchmark_id: str | None = None
    created_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None
    progress: EvalJobProgress = Field(default_factory=EvalJobProgress)
    error: str | None = Field(default=None, description="Why a failed job failed.")


class EvaluateResponse(BaseModel):
    """Generations per row and scores per scoring function."""

    model_config = ConfigDict(extra="allow")
    generations: list[dict[str, Any]]
    scores: dict[str, ScoringResult]


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class EvalProvider(Protocol):
    """What an eval provider implements. ``request.benchmark_id`` is already the provider's own benchmark id."""

    async def run_eval(self, request: RunEvalRequest) -> EvalJob:
        """Start an evaluation job over a benchmark."""
        ...

    async def evaluate_rows(self, request: EvaluateRowsRequest) -> EvaluateResponse:
        """Evaluate the given rows synchronously."""
        ...

    async def job_status(self, request: EvalJobRequest) -> EvalJob:
        """Return an evaluation job's status."""
        ...

    async def job_cancel(self, request: EvalJobRequest) -> None:
        """Cancel an evaluation job."""
        ...

    async def job_result(self, request: EvalJobRequest) -> EvaluateResponse:
        """Return a finished evaluation job's result."""
        ...


BENCHMARK = ResourceRef("benchmark_id", "benchmark")
_JOBS = "/eval/benchmarks/{benchmark_id}/jobs"
_EVALUATIONS = "/eval/benchmarks/{benchmark_id}/evaluations"
_JOB = _JOBS + "/{job_id}"
_RESULT = _JOB + "/result"

SPEC = ApiSpec(
    api=Api.eval,
    title="Eval",
    protocol=EvalProvider,
    description="Benchmark evaluation of model and agent candidates, federated across providers by benchmark.",
    routes=(
        Route(
            "POST",
            "/v1alpha" + _JOBS,
            "run_eval",
            "Run an evaluation on a benchmark.",
            RunEvalRequest,
            EvalJob,
            resource=BENCHMARK,
            aliases=("/v1" + _JOBS,),
        ),
        Route(
            "POST",
            "/v1alpha" + _EVALUATIONS,
            "evaluate_rows",
            "Evaluate a list of rows on a benchmark.",
            EvaluateRowsRequest,
            EvaluateResponse,
            resource=BENCHMARK,
            aliases=("/v1" + _EVALUATIONS,),
        ),
        Route(
            "GET",
            "/v1alpha" + _JOB,
            "job_status",
            "Get the status of an evaluation job.",
            EvalJobRequest,
            EvalJob,
            resource=BENCHMARK,
            aliases=("/v1" + _JOB,),
        ),
        Route(
            "DELETE",
            "/v1alpha" + _JOB,
            "job_cancel",
            "Cancel an evaluation job.",
            EvalJobRequest,
            None,
            resource=BENCHMARK,
            aliases=("/v1" + _JOB,),
        ),
        Route(
            "GET",
            "/v1alpha" + _RESULT,
            "job_result",
            "Get the result of an evaluation job.",
            EvalJobRequest,
            EvaluateResponse,
            resource=BENCHMARK,
            aliases=("/v1" + _RESULT,),
        ),
    ),
)
