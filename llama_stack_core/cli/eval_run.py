"""``stack eval run``: run a model over a benchmark as an eval job, with a progress bar, then print the aggregates
and optionally save every row (``--output``, see :mod:`.eval_results`).

The job runs on a server (``--url``, over HTTP) or in this process (``--config`` / ``--distro``: the stack is built
from the run config and the eval router is called directly). Either way the same loop polls the job's progress; Ctrl-C
cancels the job and exits 130. A failure is one line on stderr: exit 2 when the run could not start (server down,
unknown benchmark, bad config), 1 when the job itself failed or was cancelled.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ..errors import ConfigError
from .client import HTTPStatusError, StackClient, default_url
from .eval_progress import ProgressBar, format_duration
from .eval_results import aggregates_table, result_records, write_results
from .table import print_table

FINISHED = frozenset({"completed", "failed", "cancelled"})
#: rows per ``iterrows`` page when reading the dataset rows for the results file
PAGE = 500


@dataclass
class EvalRunOptions:
    benchmark_id: str
    model: str
    limit: int | None = None
    system_message: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    output: Path | None = None
    poll_interval: float = 0.5


def benchmark_config(options: EvalRunOptions) -> dict[str, Any]:
    """The run's ``benchmark_config``: a model candidate (greedy unless a temperature above 0 is given)."""
    strategy: dict[str, Any] = {"type": "greedy"}
    if options.temperature:
        strategy = {"type": "top_p", "temperature": options.temperature}
    sampling: dict[str, Any] = {"strategy": strategy}
    if options.max_tokens is not None:
        sampling["max_tokens"] = options.max_tokens
    candidate: dict[str, Any] = {"type": "model", "model": options.model, "sampling_params": sampling}
    if options.system_message:
        candidate["system_message"] = {"role": "system", "content": options.system_message}
    config: dict[str, Any] = {"eval_candidate": candidate}
    if options.limit is not None:
        config["num_examples"] = options.limit
    return config


class EvalBackend(Protocol):
    """Where the job runs. Answers are plain JSON values, as the server sends them; failures are ConfigErrors."""

    def benchmark(self, benchmark_id: str) -> dict[str, Any]: ...

    def start(self, benchmark_id: str, config: dict[str, Any]) -> dict[str, Any]: ...

    def status(self, benchmark_id: str, job_id: str) -> dict[str, Any]: ...

    def cancel(self, benchmark_id: str, job_id: str) -> None: ...

    def result(self, benchmark_id: str, job_id: str) -> dict[str, Any]: ...

    def iterrows(self, dataset_id: str, start_index: int, limit: int) -> dict[str, Any]: ...

    def wait(self, seconds: float) -> None: ...

    def close(self) -> None: ...


def _benchmarks(benchmark_id: str) -> str:
    return f"/v1alpha/eval/benchmarks/{quote(benchmark_id, safe='')}"


class HTTPBackend:
    """A running server, over HTTP."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.client = StackClient(
            url, api_key=api_key, timeout=60, not_configured="has no eval provider (providers.eval in its run config)"
        )

    def benchmark(self, benchmark_id: str) -> dict[str, Any]:
        try:
            return self.client.call("GET", _benchmarks(benchmark_id))
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            raise ConfigError(f"{exc.message} at {self.client.url} (list them: GET /v1alpha/eval/benchmarks)") from None

    def start(self, benchmark_id: str, config: dict[str, Any]) -> dict[str, Any]:
        return self.client.call("POST", f"{_benchmarks(benchmark_id)}/jobs", {"benchmark_config": config})

    def status(self, benchmark_id: str, job_id: str) -> dict[str, Any]:
        return self.client.call("GET", f"{_benchmarks(benchmark_id)}/jobs/{quote(job_id, safe='')}")

    def cancel(self, benchmark_id: str, job_id: str) -> None:
        self.client.call("DELETE", f"{_benchmarks(benchmark_id)}/jobs/{quote(job_id, safe='')}")

    def result(self, benchmark_id: str, job_id: str) -> dict[str, Any]:
        return self.client.call("GET", f"{_benchmarks(benchmark_id)}/jobs/{quote(job_id, safe='')}/result")

    def iterrows(self, dataset_id: str, start_index: int, limit: int) -> dict[str, Any]:
        path = f"/v1beta/datasetio/iterrows/{quote(dataset_id, safe='')}"
        return self.client.call("GET", path, params={"start_index": start_index, "limit": limit})

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self.client.close()


class InProcessBackend:
    """A stack built in this process from a run config or distro; the eval router's operations called directly.

    The stack lives on one event loop (an ``asyncio.Runner``) that runs only inside each call and each ``wait``: the
    job's background work goes on while the command waits between polls.
    """

    def __init__(self, source: str) -> None:
        import asyncio

        from ..config import load_run_config
        from ..log_config import configure_logging
        from ..plugins import PluginManager
        from ..stack import Stack

        configure_logging("warning")
        pm = PluginManager()
        self.source = source
        self.stack = Stack(load_run_config(source, pm), pm)
        self._runner = asyncio.Runner()
        try:
            self._runner.run(self.stack.start())
        except BaseException as exc:
            self.close()
            if isinstance(exc, ConfigError) or not isinstance(exc, Exception):
                raise
            raise ConfigError(f"{source}: start-up failed: {exc}") from None

    def _call(self, api_name: str, operation: str, request: Any) -> Any:
        from ..apis.routes import Api
        from ..errors import StackError

        router = self.stack.routers.get(Api(api_name))
        if router is None:
            raise ConfigError(f"{self.source} serves no {api_name} API (add a provider under providers.{api_name})")
        try:
            return _plain(self._runner.run(router.call(operation, request)))
        except StackError as exc:
            raise ConfigError(f"{operation}: {exc.message}") from None

    def benchmark(self, benchmark_id: str) -> dict[str, Any]:
        from ..errors import NotFoundError

        assert self.stack.resources is not None
        try:
            benchmark = self._runner.run(self.stack.resources.get("benchmark", benchmark_id))
        except NotFoundError as exc:
            raise ConfigError(f"{exc.message} in {self.source}") from None
        return benchmark.model_dump(mode="json")

    def start(self, benchmark_id: str, config: dict[str, Any]) -> dict[str, Any]:
        from ..apis.eval import BenchmarkConfig, RunEvalRequest

        request = RunEvalRequest(benchmark_id=benchmark_id, benchmark_config=BenchmarkConfig.model_validate(config))
        return self._call("eval", "run_eval", request)

    def _job(self, operation: str, benchmark_id: str, job_id: str) -> Any:
        from ..apis.eval import EvalJobRequest

        return self._call("eval", operation, EvalJobRequest(benchmark_id=benchmark_id, job_id=job_id))

    def status(self, benchmark_id: str, job_id: str) -> dict[str, Any]:
        return self._job("job_status", benchmark_id, job_id)

    def cancel(self, benchmark_id: str, job_id: str) -> None:
        self._job("job_cancel", benchmark_id, job_id)

    def result(self, benchmark_id: str, job_id: str) -> dict[str, Any]:
        return self._job("job_result", benchmark_id, job_id)

    def iterrows(self, dataset_id: str, start_index: int, limit: int) -> dict[str, Any]:
        from ..apis.datasetio import IterRowsRequest

        request = IterRowsRequest(dataset_id=dataset_id, start_index=start_index, limit=limit)
        return self._call("datasetio", "iterrows", request)

    def wait(self, seconds: float) -> None:
        import asyncio

        self._runner.run(asyncio.sleep(seconds))

    def close(self) -> None:
        try:
            if self.stack.resources is not None:  # started (or partly): stop what started
                self._runner.run(self.stack.stop())
        finally:
            self._runner.close()


def _plain(answer: Any) -> Any:
    """A provider's answer as the JSON value the server would send (a model, a dict, or JSON bytes)."""
    from pydantic import BaseModel

    if isinstance(answer, (bytes, str)):
        return json.loads(answer)
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json")
    return answer


# -- the run -------------------------------------------------------------------------------------------------------


def read_rows(backend: EvalBackend, dataset_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` rows of a dataset, page by page."""
    rows: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None and len(rows) < count:
        page = backend.iterrows(dataset_id, start, min(PAGE, count - len(rows)))
        rows.extend(page.get("data") or [])
        start = page.get("next_start_index") if page.get("has_more") else None
    return rows[:count]


def wait_for_job(
    backend: EvalBackend, benchmark_id: str, job: dict[str, Any], bar: ProgressBar, interval: float
) -> dict[str, Any]:
    """Poll the job until it finishes, drawing its progress; its final status."""
    while True:
        progress = job.get("progress") or {}
        bar.update(
            progress.get("completed_rows", 0), progress.get("total_rows", 0), progress.get("failed_rows", 0),
            job.get("status"),
        )  # fmt: skip
        if job.get("status") in FINISHED:
            return job
        backend.wait(interval)
        job = backend.status(benchmark_id, job["job_id"])


def follow_job(
    backend: EvalBackend, benchmark_id: str, job: dict[str, Any], bar: ProgressBar, interval: float
) -> dict[str, Any]:
    """:func:`wait_for_job`, and on Ctrl-C cancel the job (then re-raise); a failure to follow it names the job."""
    job_id = job["job_id"]
    try:
        print(f"eval job {job_id} started on benchmark {benchmark_id}", file=sys.stderr, flush=True)
        return wait_for_job(backend, benchmark_id, job, bar, interval)
    except KeyboardInterrupt:
        bar.finish()
        print(f"interrupted: cancelling eval job {job_id}", file=sys.stderr)
        try:
            backend.cancel(benchmark_id, job_id)
        except ConfigError as exc:
            print(f"warning: could not cancel eval job {job_id}: {exc}", file=sys.stderr)
        raise
    except ConfigError as exc:  # e.g. the server went away mid-run: say which job, to look it up later
        raise ConfigError(f"{exc} (while following eval job {job_id})") from None
    finally:
        bar.finish()


def run_eval(backend: EvalBackend, options: EvalRunOptions, bar: ProgressBar | None = None) -> int:
    """Run the job to its end; print the aggregates table (stdout) and write ``options.output``. The exit status."""
    if options.output is not None and not options.output.parent.is_dir():
        raise ConfigError(f"--output: no such directory: {options.output.parent}")
    benchmark = backend.benchmark(options.benchmark_id)
    started = time.monotonic()
    job = backend.start(options.benchmark_id, benchmark_config(options))
    job = follow_job(backend, options.benchmark_id, job, bar or ProgressBar(), options.poll_interval)
    if job.get("status") != "completed":
        reason = f": {job['error']}" if job.get("error") else ""
        print(f"error: eval job {job['job_id']} {job.get('status')}{reason}", file=sys.stderr)
        return 1
    result = backend.result(options.benchmark_id, job["job_id"])
    count = len(result.get("generations") or [])
    records = result_records(
        benchmark=benchmark,
        model=options.model,
        job=job,
        result=result,
        input_rows=read_rows(backend, benchmark["dataset_id"], count) if count else [],
        elapsed_seconds=time.monotonic() - started,
    )
    summary = records[-1]
    print(
        f"benchmark {summary['benchmark_id']}  model {options.model}  rows {summary['rows']}  "
        f"failed {summary['failed_rows']}  time {format_duration(summary['elapsed_seconds'])}"
    )
    headers, table = aggregates_table(summary["aggregates"])
    print_table(table, headers)
    if options.output is not None:
        write_results(options.output, records)
        print(f"wrote {options.output} ({count} rows); render it: stack eval report {options.output}", file=sys.stderr)
    return 0


def cmd_eval_run(args: Any) -> int:
    options = EvalRunOptions(
        benchmark_id=args.benchmark_id,
        model=args.model,
        limit=args.limit,
        system_message=args.system_message,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        output=Path(args.output) if args.output else None,
        poll_interval=args.poll_interval,
    )
    backend: EvalBackend
    if args.config or args.distro:
        backend = InProcessBackend(args.config or args.distro)
    else:
        backend = HTTPBackend(args.url or default_url(), args.api_key)
    try:
        return run_eval(backend, options)
    finally:
        backend.close()
