"""Eval jobs outlive their server: a ``stack serve`` killed with SIGKILL mid-job, then started again on the same
store, resumes the job (each row generated once, the rows done before the kill not asked again) or, configured so,
marks it failed; and two servers on one PostgreSQL store see and cancel each other's jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from llama_stack_core.testing.harness import serving_process
from llama_stack_core.testing.scripted import ScriptedServer
from llama_stack_core.testing.waiting import eventually, eventually_sync

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
from eval_test_support import MODEL, QUESTIONS, answer_by_question, eval_config, eval_stack, plugin_modules, run_job

STALE_AFTER = 1.0


def rows() -> list[dict[str, Any]]:
    """12 rows, each a question of its own."""
    return [{"input_query": q, "expected_answer": a} for q, a in QUESTIONS.items()]


@contextmanager
def server(config_path: Path, directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``stack serve`` with the eval stacks' plugins loaded by name (this directory on the path)."""
    env = {
        "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
        "LLAMA_STACK_PLUGINS": ",".join(m.__name__ for m in plugin_modules()),
    }
    with serving_process(config_path, directory, env=env) as served:
        yield served


def killed_mid_job(tmp_path: Path, scripted: ScriptedServer, **settings: Any) -> tuple[Path, str]:
    """Start a job of 12 rows on a server, SIGKILL the server after a few rows; answer the run config and the job
    id."""
    scripted.respond = answer_by_question(delay=0.15)
    config = eval_config(tmp_path, scripted, generation_concurrency=1, stale_after_seconds=STALE_AFTER, **settings)
    config["datasets"][0]["source"]["rows"] = rows()
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(config))
    with server(config_path, tmp_path) as (url, process):
        body = {"benchmark_config": {"eval_candidate": {"type": "model", "model": MODEL}}}
        job = httpx.post(f"{url}/v1alpha/eval/benchmarks/bench/jobs", json=body, timeout=10).json()
        status_url = f"{url}/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}"
        eventually_sync(lambda: httpx.get(status_url).json()["progress"]["completed_rows"] >= 4, timeout=20)
        process.send_signal(signal.SIGKILL)
        process.wait()
    return config_path, job["job_id"]


@pytest.mark.slow
def test_a_killed_servers_job_is_resumed_by_the_next_server_and_each_row_is_generated_once(tmp_path, scripted):
    config_path, job_id = killed_mid_job(tmp_path, scripted)
    before = len(scripted.requests)
    assert 4 <= before < 12
    with server(config_path, tmp_path) as (url, _):
        status_url = f"{url}/v1alpha/eval/benchmarks/bench/jobs/{job_id}"
        killed_status = httpx.get(status_url).json()
        assert killed_status["status"] == "in_progress"  # a dead runner's job is never lost

        def completed() -> dict[str, Any] | None:
            job = httpx.get(status_url).json()
            return job if job["status"] == "completed" else None

        job = eventually_sync(completed, timeout=30, what="the resumed job to complete")
        result = httpx.get(f"{status_url}/result").json()
    assert job["progress"] == {"total_rows": 12, "completed_rows": 12, "failed_rows": 0}
    assert [g["generated_answer"] for g in result["generations"]] == ["B", "A"] * 6
    assert len(result["scores"]["exact"]["score_rows"]) == 12
    assert result["scores"]["exact"]["aggregated_results"]["accuracy"] == 1.0
    # every row asked for; the resumed run asked only for the rows not stored before the kill: each once, but the
    # one in flight at the kill (asked, never stored) which is asked again
    asked = Counter(r.json["messages"][-1]["content"] for r in scripted.requests)
    assert set(asked) == set(QUESTIONS)
    assert sum(asked.values()) - len(QUESTIONS) <= 1
    first_run = {r.json["messages"][-1]["content"] for r in scripted.requests[: before - 1]}
    assert all(asked[q] == 1 for q in first_run)  # stored before the kill: not asked again


@pytest.mark.slow
def test_with_resume_off_a_killed_servers_job_is_marked_failed(tmp_path, scripted):
    config_path, job_id = killed_mid_job(tmp_path, scripted, resume_interrupted=False)
    before = len(scripted.requests)
    with server(config_path, tmp_path) as (url, _):
        status_url = f"{url}/v1alpha/eval/benchmarks/bench/jobs/{job_id}"

        def failed() -> dict[str, Any] | None:
            job = httpx.get(status_url).json()
            return job if job["status"] == "failed" else None

        job = eventually_sync(failed, timeout=15, what="the interrupted job to be failed")
        result = httpx.get(f"{status_url}/result")
    assert "interrupted" in job["error"] and job["completed_at"] is not None
    assert job["progress"]["completed_rows"] < 12
    assert result.status_code == 409 and "failed" in result.json()["error"]["message"]
    assert len(scripted.requests) == before  # nothing generated after the kill


@pytest.mark.postgres
@pytest.mark.anyio
async def test_two_servers_on_one_postgres_store_see_and_cancel_each_others_jobs(tmp_path, scripted, postgres_dsn):
    scripted.respond = answer_by_question(delay=0.2)
    persistence = {"backend": {"type": "kv_postgres", "dsn": postgres_dsn}, "namespace": "eval"}
    settings = {"persistence": persistence, "generation_concurrency": 1, "stale_after_seconds": STALE_AFTER}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        eval_stack(eval_config(tmp_path / "a", scripted, **settings)) as first,
        eval_stack(eval_config(tmp_path / "b", scripted, **settings)) as second,
    ):
        job = await run_job(first)
        url = f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}"

        async def running_seen_from_second() -> bool:
            seen = (await second.get(url)).json()
            return seen["status"] == "in_progress" and seen["progress"]["completed_rows"] >= 1

        await eventually(running_seen_from_second, timeout=10)
        cancelled = await second.delete(url)
        assert cancelled.status_code in (200, 204), cancelled.text

        async def stopped_on_first() -> dict[str, Any] | None:
            seen = (await first.get(url)).json()
            return seen if seen["status"] == "cancelled" else None

        stopped = await eventually(stopped_on_first, timeout=10)
        sent = len(scripted.requests)
        assert stopped["progress"]["completed_rows"] < 6
        await eventually(lambda: _quiet(scripted, sent), timeout=5)
        # a finished job of either server is read from the other
        other = await run_job(second, num_examples=2)
        done = await eventually(lambda: _done(first, other["job_id"]), timeout=10)
        assert done["progress"]["completed_rows"] == 2
        assert (await first.get(f"/v1alpha/eval/benchmarks/bench/jobs/{other['job_id']}/result")).status_code == 200


async def _quiet(scripted: ScriptedServer, sent: int) -> bool:
    """No request after ``sent`` for a moment: the cancelled run stopped (at most the row in flight finished)."""
    import asyncio

    await asyncio.sleep(0.6)  # a few rows' time
    return len(scripted.requests) <= sent + 1


async def _done(client: Any, job_id: str) -> dict[str, Any] | None:
    job = (await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job_id}")).json()
    return job if job["status"] == "completed" else None
