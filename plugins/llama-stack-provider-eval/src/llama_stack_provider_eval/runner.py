"""Running eval jobs in the background: generate every row (a bounded number at a time, each stored as it
completes), then score them all, then store the result. A heartbeat says which process runs a job; a job whose
process died is resumed (skipping the rows already generated) or failed by the next process that looks at it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from llama_stack_core.apis.eval import EvalCandidate, EvalJobProgress, EvaluateResponse
from llama_stack_core.background import BackgroundTasks
from llama_stack_core.datasets import read_rows
from llama_stack_core.errors import StackError
from llama_stack_core.routing import ApiRouter

from .config import EvalConfig
from .generation import Generator, generation_error
from .jobs import JobRecord, JobStore
from .scores import score

log = logging.getLogger(__name__)

Row = tuple[int, dict[str, Any]]
INTERRUPTED = "interrupted: the server running this job stopped before it finished"


async def generate_rows(
    generator: Generator,
    rows: list[Row],
    concurrency: int,
    done: Callable[[int, dict[str, Any]], Awaitable[bool]],
) -> bool:
    """Generate the rows, ``concurrency`` at a time; hand each generation (an error one if the candidate failed on
    the row) to ``done`` as it completes. ``done`` answering False stops the rest; answer whether all were done."""
    pending = iter(rows)
    stopped = False

    async def worker() -> None:
        nonlocal stopped
        for index, row in pending:
            if stopped:
                return
            try:
                generation = await generator.generate(row)
            except Exception as exc:  # the row fails, the job goes on
                log.debug("row %d: generation failed: %s", index, exc)
                generation = generation_error(exc)
            if not await done(index, generation):
                stopped = True
                return

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(rows))):
                group.create_task(worker())
    except ExceptionGroup as failed:  # a row's result could not be stored: the job fails with the first reason
        raise failed.exceptions[0] from None
    return not stopped


class JobRunner:
    """Runs this process's jobs and takes over interrupted ones."""

    def __init__(
        self,
        config: EvalConfig,
        store: JobStore,
        *,
        datasetio: ApiRouter,
        scoring: ApiRouter,
        inference: ApiRouter,
        agents: ApiRouter | None,
    ) -> None:
        self.config = config
        self.store = store
        self.datasetio = datasetio
        self.scoring = scoring
        self.inference = inference
        self.agents = agents
        self.runner = uuid.uuid4().hex  # this process, as the runner of its jobs
        self.background = BackgroundTasks("eval")
        self.beat_every = config.stale_after_seconds / 4
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._cancelled: set[str] = set()  # jobs cancelled by a caller (not stopped by the server stopping)
        self._watcher: asyncio.Task[Any] | None = None

    def generator_for(self, candidate: EvalCandidate) -> Generator:
        return Generator(candidate, self.inference, self.agents)

    # -- running -----------------------------------------------------------------------------------------------------

    def start(self, job_id: str, rows: list[dict[str, Any]] | None = None) -> None:
        """Run a job this process holds (``rows``: the dataset's rows, when just read)."""
        task = self.background.spawn(self._run(job_id, rows), name=f"eval job {job_id}")
        self._running[job_id] = task
        task.add_done_callback(lambda _: self._running.pop(job_id, None))

    def running_here(self, job_id: str) -> bool:
        return job_id in self._running

    def _ours(self, record: JobRecord) -> bool:
        return record.active and record.runner == self.runner

    async def _run(self, job_id: str, rows: list[dict[str, Any]] | None) -> None:
        def begin(record: JobRecord) -> JobRecord | None:
            if not self._ours(record):
                return None  # cancelled (or taken over) before it began
            job = record.job.model_copy(update={"status": "in_progress", "started_at": record.job.started_at or _now()})
            return record.model_copy(update={"job": job, "beat": time.time()})

        record, began = await self.store.update(job_id, begin)
        if record is None or not began:
            return
        keeper = asyncio.create_task(
            self.store.heartbeats.keep_alive(
                job_id,
                self.runner,
                every=self.beat_every,
                stopped=lambda: self._stopped_elsewhere(job_id),
                task=asyncio.current_task(),
            )
        )
        try:
            await self._execute(record, rows)
        except asyncio.CancelledError:
            if job_id not in self._cancelled:  # the server is stopping
                await asyncio.shield(self._release(job_id))
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, StackError):
                log.exception("eval job %s failed", job_id)
            await self._finish(job_id, "failed", error=message)
        finally:
            keeper.cancel()
            self._cancelled.discard(job_id)
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.heartbeats.forget(job_id))

    async def _execute(self, record: JobRecord, rows: list[dict[str, Any]] | None) -> None:
        job_id = record.job.job_id
        config = record.benchmark_config
        if rows is None:
            rows = await read_rows(self.datasetio, record.dataset_id, limit=config.num_examples)
        done = {i: g for i, g in (await self.store.generations(job_id)).items() if i < len(rows)}
        progress = EvalJobProgress(
            total_rows=len(rows),
            completed_rows=len(done),
            failed_rows=sum(1 for g in done.values() if g.get("error") is not None),
        )
        if not await self._progress(job_id, progress):
            return
        lock = asyncio.Lock()

        async def stored(index: int, generation: dict[str, Any]) -> bool:
            await self.store.save_generation(job_id, index, generation)
            done[index] = generation
            async with lock:
                progress.completed_rows += 1
                progress.failed_rows += generation.get("error") is not None
                return await self._progress(job_id, progress)

        todo = [(i, row) for i, row in enumerate(rows) if i not in done]
        generator = self.generator_for(config.eval_candidate)
        if todo:
            await generator.prepare()
            try:
                finished = await generate_rows(generator, todo, self.config.generation_concurrency, stored)
            finally:
                await generator.close()
            if not finished:
                return  # cancelled or taken over meanwhile
        generations = [done[i] for i in range(len(rows))]
        scores = await score(self.scoring, rows, generations, record.scoring_functions, config.scoring_params)
        await self.store.save_result(job_id, EvaluateResponse(generations=generations, scores=scores))
        await self._finish(job_id, "completed")

    async def _progress(self, job_id: str, progress: EvalJobProgress) -> bool:
        """Store the job's progress; False when the job is no longer this process's to run (cancelled, taken)."""

        def change(record: JobRecord) -> JobRecord | None:
            if not self._ours(record):
                return None
            job = record.job.model_copy(update={"progress": progress.model_copy()})
            return record.model_copy(update={"job": job, "beat": time.time()})

        _, changed = await self.store.update(job_id, change)
        return changed

    async def _finish(self, job_id: str, status: str, error: str | None = None) -> None:
        def change(record: JobRecord) -> JobRecord | None:
            if not self._ours(record):
                return None
            job = record.job.model_copy(update={"status": status, "completed_at": _now(), "error": error})
            return record.model_copy(update={"job": job, "runner": None, "beat": time.time()})

        await self.store.update(job_id, change)

    async def _release(self, job_id: str) -> None:
        """This server stops mid-job: leave it for the next one to resume at once, or fail it."""
        if not self.config.resume_interrupted:
            await self._finish(job_id, "failed", error=INTERRUPTED)
            return

        def change(record: JobRecord) -> JobRecord | None:
            return record.model_copy(update={"runner": None}) if self._ours(record) else None

        await self.store.update(job_id, change)

    async def _stopped_elsewhere(self, job_id: str) -> bool:
        """Whether the job was cancelled or deleted through another process, or taken over: its run is to stop."""
        record = await self.store.find(job_id)
        if record is None or not self._ours(record):
            self._cancelled.add(job_id)
            return True
        return False

    async def cancel_here(self, job_id: str) -> None:
        """Stop this process's run of a job a caller cancelled (its record already says so)."""
        task = self._running.get(job_id)
        if task is not None:
            self._cancelled.add(job_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- interrupted jobs --------------------------------------------------------------------------------------------

    async def recover(self, job_id: str) -> None:
        """If the job's runner stopped (released it, or its heartbeat went stale), resume it here or fail it."""
        if job_id in self._running:
            return
        seen = await self.store.find(job_id)
        if seen is None or not seen.active:
            return
        silent = await self.store.heartbeats.silent_for(job_id, seen.beat)
        if seen.runner is not None and silent < self.config.stale_after_seconds:
            return  # another process runs it

        def take(record: JobRecord) -> JobRecord | None:
            if not record.active or (record.runner, record.beat) != (seen.runner, seen.beat):
                return None  # changed meanwhile: its runner is alive, or another process took it
            if not self.config.resume_interrupted:
                job = record.job.model_copy(update={"status": "failed", "completed_at": _now(), "error": INTERRUPTED})
                return record.model_copy(update={"job": job, "runner": None})
            return record.model_copy(update={"runner": self.runner, "beat": time.time()})

        record, taken = await self.store.update(job_id, take)
        if not taken or record is None:
            return
        if record.active:
            log.warning("eval job %s was interrupted (its server stopped); resuming it here", job_id)
            self.start(job_id)
        else:
            log.warning("eval job %s was interrupted (its server stopped); marked failed", job_id)

    async def recover_all(self) -> None:
        for job_id in await self.store.active_ids():
            try:
                await self.recover(job_id)
            except Exception:  # one broken record must not stop the others
                log.exception("could not check eval job %s", job_id)

    def watch(self) -> None:
        """Check for interrupted jobs now and every half ``stale_after_seconds`` (no job stays running forever)."""

        async def loop() -> None:
            while True:
                await self.recover_all()
                await asyncio.sleep(self.config.stale_after_seconds / 2)

        self._watcher = asyncio.create_task(loop(), name="eval job watcher")

    async def drain(self, timeout: float) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.background.drain(timeout)


def _now() -> int:
    return int(time.time())
