"""``inline::builtin`` eval: benchmarks (a dataset and scoring functions), eval jobs run in the background and stored
in the provider's key-value store (any process sees, cancels and resumes them), and synchronous evaluations."""

from __future__ import annotations

import time
import uuid
from typing import Any

from llama_stack_core.apis.eval import (
    EvalJob,
    EvalJobProgress,
    EvalJobRequest,
    EvaluateResponse,
    EvaluateRowsRequest,
    RunEvalRequest,
)
from llama_stack_core.apis.resources import Benchmark
from llama_stack_core.apis.routes import Api
from llama_stack_core.datasets import read_rows
from llama_stack_core.errors import BadRequestError, ConflictError, ResourceNotFoundError
from llama_stack_core.owners import Action, authorize_create, current_owner
from llama_stack_core.provider_contracts import (
    DrainsBackgroundWork,
    RegistersBenchmarks,
    ShutsDown,
    UnregistersBenchmarks,
)

from .config import EvalConfig
from .jobs import JobRecord, JobStore
from .runner import JobRunner, generate_rows
from .scores import score


class BuiltinEval(RegistersBenchmarks, UnregistersBenchmarks, DrainsBackgroundWork, ShutsDown):
    def __init__(self, config: EvalConfig, store: JobStore, runner: JobRunner) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        #: provider_resource_id -> the benchmark (told by register_benchmark, or read from the registry)
        self._benchmarks: dict[str, Benchmark] = {}

    # -- benchmarks --------------------------------------------------------------------------------------------------

    async def register_benchmark(self, benchmark: Benchmark) -> None:
        self._benchmarks[benchmark.provider_resource_id or benchmark.identifier] = benchmark

    async def unregister_benchmark(self, benchmark: Benchmark) -> None:
        self._benchmarks.pop(benchmark.provider_resource_id or benchmark.identifier, None)

    async def _benchmark(self, benchmark_id: str) -> Benchmark:
        """The benchmark; one registered by another process a moment ago is read from the registry."""
        benchmark = self._benchmarks.get(benchmark_id)
        if benchmark is None:
            found = await self.runner.scoring.lookup("benchmark", benchmark_id)
            if not isinstance(found, Benchmark):
                raise ResourceNotFoundError("Benchmark", benchmark_id)
            benchmark = self._benchmarks[benchmark_id] = found
        return benchmark

    # -- jobs --------------------------------------------------------------------------------------------------------

    async def run_eval(self, request: RunEvalRequest) -> EvalJob:
        authorize_create("eval_job", "")
        self.runner.background.ensure_open()
        benchmark = await self._benchmark(request.benchmark_id)
        config = request.benchmark_config
        await self.runner.generator_for(config.eval_candidate).check()
        rows = await read_rows(self.runner.datasetio, benchmark.dataset_id, limit=config.num_examples)
        if not rows:
            raise BadRequestError(f"dataset '{benchmark.dataset_id}' has no rows to evaluate", param="benchmark_id")
        job = EvalJob(
            job_id=uuid.uuid4().hex,
            status="scheduled",
            benchmark_id=request.benchmark_id,
            created_at=int(time.time()),
            progress=EvalJobProgress(total_rows=len(rows)),
        )
        record = JobRecord(
            job=job,
            owner=current_owner(),
            dataset_id=benchmark.dataset_id,
            scoring_functions=list(benchmark.scoring_functions),
            benchmark_config=config,
            runner=self.runner.runner,
            beat=time.time(),
        )
        await self.store.create(record)
        self.runner.start(job.job_id, rows)
        return job

    async def _current(self, request: EvalJobRequest, action: Action = Action.read) -> JobRecord:
        """The job (404 if unknown, of another benchmark or not the caller's); one whose runner died is resumed or
        failed first."""
        record = await self.store.get(request.benchmark_id, request.job_id, action)
        if record.active and not self.runner.running_here(request.job_id):
            await self.runner.recover(request.job_id)
            record = await self.store.get(request.benchmark_id, request.job_id, action)
        return record

    async def job_status(self, request: EvalJobRequest) -> EvalJob:
        return (await self._current(request)).job

    async def job_cancel(self, request: EvalJobRequest) -> None:
        record = await self._current(request, Action.update)

        def cancel(current: JobRecord) -> JobRecord | None:
            if not current.active:
                return None
            job = current.job.model_copy(update={"status": "cancelled", "completed_at": int(time.time())})
            return current.model_copy(update={"job": job, "runner": None})

        record, cancelled = await self.store.update(request.job_id, cancel)
        if not cancelled:
            status = record.job.status if record is not None else "gone"
            raise ConflictError(
                f"eval job '{request.job_id}' is {status}; only a scheduled or running job is cancelled"
            )
        await self.runner.cancel_here(request.job_id)  # a run in another process sees the mark at its next row

    async def job_result(self, request: EvalJobRequest) -> EvaluateResponse:
        record = await self._current(request)
        status = record.job.status
        if status != "completed":
            reason = f": {record.job.error}" if record.job.error else ""
            raise ConflictError(f"eval job '{request.job_id}' is {status}{reason}; it has a result once completed")
        result = await self.store.result(request.job_id)
        if result is None:
            raise ConflictError(f"eval job '{request.job_id}' completed without a stored result")
        return result

    # -- synchronous -------------------------------------------------------------------------------------------------

    async def evaluate_rows(self, request: EvaluateRowsRequest) -> EvaluateResponse:
        await self._benchmark(request.benchmark_id)
        config = request.benchmark_config
        generator = self.runner.generator_for(config.eval_candidate)
        await generator.check()
        generations: dict[int, dict[str, Any]] = {}

        async def keep(index: int, generation: dict[str, Any]) -> bool:
            generations[index] = generation
            return True

        await generator.prepare()
        try:
            await generate_rows(
                generator, list(enumerate(request.input_rows)), self.config.generation_concurrency, keep
            )
        finally:
            await generator.close()
        ordered = [generations[i] for i in range(len(request.input_rows))]
        scores = await score(
            self.runner.scoring, request.input_rows, ordered, request.scoring_functions, config.scoring_params
        )
        return EvaluateResponse(generations=ordered, scores=scores)

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        await self.runner.drain(timeout)

    async def shutdown(self) -> None:
        await self.store.kv.close()


async def create_provider(config: EvalConfig, deps: dict[Api, Any]) -> BuiltinEval:
    store = JobStore(await config.persistence.open())
    runner = JobRunner(
        config,
        store,
        datasetio=deps[Api.datasetio],
        scoring=deps[Api.scoring],
        inference=deps[Api.inference],
        agents=deps.get(Api.agents),
    )
    runner.watch()
    return BuiltinEval(config, store, runner)
