"""Eval jobs as records in a key-value store: the job, each row's generation as it completes, the result.

Keys (one namespace per provider):

- ``j:<job_id>``: the :class:`JobRecord` (status, progress, owner, what to run, its runner), changed only with
  ``compare_and_set`` so a cancel from one process and progress from another never overwrite each other;
- ``a:<job_id>``: present while the job is scheduled or running (the jobs a process checks for interrupted runs);
- ``g:<job_id>:<row index, 8 digits>``: one row's generation, written as the row completes (a resumed job skips it);
- ``r:<job_id>``: the result (``{generations, scores}``), once scored;
- ``b:<job_id>``: its runner's heartbeat (:mod:`llama_stack_core.heartbeat`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from llama_stack_core.apis.eval import BenchmarkConfig, EvalJob, EvaluateResponse
from llama_stack_core.errors import NotFoundError
from llama_stack_core.heartbeat import Heartbeats
from llama_stack_core.owners import Action, Owner, authorize
from llama_stack_core.storage import KVStore

_JOB = "j:"
_ACTIVE = "a:"
_GENERATION = "g:"
_RESULT = "r:"
_BEAT = "b:"

#: the statuses of a job not yet finished
ACTIVE = ("scheduled", "in_progress")


class JobRecord(BaseModel):
    """A job as stored: what clients see (``job``), who owns it, what it runs, and which process runs it."""

    job: EvalJob
    owner: Owner | None = None
    dataset_id: str
    scoring_functions: list[str]
    benchmark_config: BenchmarkConfig
    #: the process running it (None: nobody; a stopping server releases its jobs so the next one resumes them)
    runner: str | None = None
    #: when its runner last wrote this record (with the heartbeat: how an interrupted run is told)
    beat: float | None = None

    @property
    def active(self) -> bool:
        return self.job.status in ACTIVE


def job_not_found(job_id: str) -> NotFoundError:
    return NotFoundError(f"eval job '{job_id}' not found")


class JobStore:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv
        self.heartbeats = Heartbeats(kv, _BEAT)

    # -- records -----------------------------------------------------------------------------------------------------

    async def create(self, record: JobRecord) -> None:
        job_id = record.job.job_id
        await self.kv.set_many([(_JOB + job_id, record.model_dump_json()), (_ACTIVE + job_id, "")])

    async def find(self, job_id: str) -> JobRecord | None:
        raw = await self.kv.get(_JOB + job_id)
        return JobRecord.model_validate_json(raw) if raw is not None else None

    async def get(self, benchmark_id: str, job_id: str, action: Action = Action.read) -> JobRecord:
        """The job, if it is one of this benchmark's and the caller may ``action`` it: else 404 (or 403)."""
        record = await self.find(job_id)
        if record is None or record.job.benchmark_id != benchmark_id:
            raise job_not_found(job_id)
        authorize(action, "eval_job", job_id, record.owner, lambda: job_not_found(job_id))
        return record

    async def update(
        self, job_id: str, change: Callable[[JobRecord], JobRecord | None]
    ) -> tuple[JobRecord | None, bool]:
        """Apply ``change`` to the stored record atomically (retrying if another process changed it meanwhile).
        ``change`` answers the new record, or None to leave it as it is. Answer the record as stored after, and
        whether this call changed it (``(None, False)``: no such job)."""
        while True:
            raw = await self.kv.get(_JOB + job_id)
            if raw is None:
                return None, False
            current = JobRecord.model_validate_json(raw)
            changed = change(current.model_copy(deep=True))
            if changed is None:
                return current, False
            value = changed.model_dump_json()
            if await self.kv.compare_and_set(_JOB + job_id, raw, value):
                if not changed.active:
                    await self.kv.delete(_ACTIVE + job_id)
                return changed, True

    async def active_ids(self) -> list[str]:
        """The jobs scheduled or running, in any process."""
        return [key[len(_ACTIVE) :] for key, _ in await self.kv.items(_ACTIVE)]

    # -- rows and result ---------------------------------------------------------------------------------------------

    async def save_generation(self, job_id: str, index: int, generation: dict[str, Any]) -> None:
        await self.kv.set(f"{_GENERATION}{job_id}:{index:08d}", json.dumps(generation))

    async def generations(self, job_id: str) -> dict[int, dict[str, Any]]:
        """The generations stored so far, by row index."""
        prefix = f"{_GENERATION}{job_id}:"
        return {int(key[len(prefix) :]): json.loads(raw) for key, raw in await self.kv.items(prefix)}

    async def save_result(self, job_id: str, result: EvaluateResponse) -> None:
        await self.kv.set(_RESULT + job_id, result.model_dump_json())

    async def result(self, job_id: str) -> EvaluateResponse | None:
        raw = await self.kv.get(_RESULT + job_id)
        return EvaluateResponse.model_validate_json(raw) if raw is not None else None
