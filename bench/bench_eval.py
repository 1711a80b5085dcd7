"""An eval job's own cost: 2000 rows against the zero-latency stub upstream (``bench/upstream.py``, core 0), through a
``stack serve`` (core 1) with ``remote::vllm`` on the stub, ``inline::localfs`` reading a JSONL file,
``inline::basic`` scoring with ``basic::equality`` and ``inline::builtin`` eval on SQLite.

The job is started over HTTP and its status polled every 50 ms; as ``completed_rows`` passes 500, 1000 and 2000 the
server's CPU time (``/proc/PID/stat``: user + system) and RSS (``/proc/PID/status``) are read. The table shows, per
stage, rows per second and server CPU per row since the previous stage, and the RSS there (it should stay flat as
rows grow: each row's generation is stored as it completes, not kept in a growing structure beyond the job's rows).
Nothing is asserted.

    .venv/bin/python bench/bench_eval.py [--rows 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import PYTHON, free_port, print_table, rss_mib, wait_ok

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "The quick brown fox jumps over the lazy dog."  # what the stub always answers
STAGES = (500, 1000, 2000)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_config(directory: Path, upstream: str, concurrency: int) -> dict:
    return {
        "version": 2,
        "distro_name": "bench-eval",
        "providers": {
            "inference": [
                {
                    "provider_id": "vllm",
                    "provider_type": "remote::vllm",
                    "config": {"base_url": upstream, "refresh_models": False},
                }
            ],
            "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
            "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
            "eval": [
                {
                    "provider_id": "builtin",
                    "provider_type": "inline::builtin",
                    "config": {"generation_concurrency": concurrency},
                }
            ],
        },
        "storage": {
            "backends": {"kv_default": {"type": "kv_sqlite", "db_path": str(directory / "registry.db")}},
            "stores": {"metadata": {"backend": "kv_default", "namespace": "registry"}},
        },
        "server": {"local_access": {"file_roots": [str(directory)]}},
        "models": [{"model_id": "bench-llm", "provider_id": "vllm", "provider_model_id": "bench-llm"}],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    function_id = "basic::equality"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = directory / "rows.jsonl"
        with data.open("w") as f:
            for i in range(args.rows):
                expected = ANSWER if i % 2 == 0 else "something else"
                f.write(
                    json.dumps({"input_query": f"Question {i}: what does the fox do?", "expected_answer": expected})
                    + "\n"
                )
        config_path = directory / "run.yaml"
        upstream_port, port = free_port(), free_port()
        config_path.write_text(
            yaml.safe_dump(run_config(directory, f"http://127.0.0.1:{upstream_port}/v1", args.concurrency))
        )
        upstream = subprocess.Popen(["taskset", "-c", "0", PYTHON, str(ROOT / "bench/upstream.py"), str(upstream_port)])
        command = [PYTHON, "-m", "llama_stack_core.cli.main", "serve", str(config_path), "--host", "127.0.0.1"]
        stack = subprocess.Popen(
            ["taskset", "-c", "1", *command, "--port", str(port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_ok(f"http://127.0.0.1:{upstream_port}/v1/models")
            base = f"http://127.0.0.1:{port}"
            wait_ok(f"{base}/v1/health")
            client = httpx.Client(base_url=base, timeout=60)
            dataset = {
                "dataset_id": "bench",
                "purpose": "eval/question-answer",
                "source": {"type": "uri", "uri": data.as_uri()},
            }
            client.post("/v1beta/datasets", json=dataset).raise_for_status()
            benchmark = {"benchmark_id": "bench", "dataset_id": "bench", "scoring_functions": [function_id]}
            client.post("/v1alpha/eval/benchmarks", json=benchmark).raise_for_status()
            idle_rss = rss_mib(stack.pid)
            config = {"eval_candidate": {"type": "model", "model": "bench-llm", "sampling_params": {"max_tokens": 16}}}
            cpu0, wall0 = cpu_seconds(stack.pid), time.perf_counter()
            job = client.post("/v1alpha/eval/benchmarks/bench/jobs", json={"benchmark_config": config}).json()
            url = f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}"
            marks: list[tuple[int, float, float, float]] = []  # rows, wall, cpu, rss
            stages = [s for s in STAGES if s <= args.rows] or [args.rows]
            while True:
                status = client.get(url).json()
                done = status["progress"]["completed_rows"]
                while stages and done >= stages[0]:
                    marks.append(
                        (stages.pop(0), time.perf_counter() - wall0, cpu_seconds(stack.pid) - cpu0, rss_mib(stack.pid))
                    )
                if status["status"] not in ("scheduled", "in_progress"):
                    break
                time.sleep(0.05)
            total_wall, total_cpu = time.perf_counter() - wall0, cpu_seconds(stack.pid) - cpu0
            final_rss = rss_mib(stack.pid)
            result = client.get(url + "/result").json()
        finally:
            for process in (stack, upstream):
                process.terminate()
                process.wait(timeout=15)
    assert status["status"] == "completed", status
    accuracy = result["scores"][function_id]["aggregated_results"].get("accuracy")
    rows, previous = [], (0, 0.0, 0.0)
    for count, wall, cpu, rss in marks:
        rows_in = count - previous[0]
        rows.append(
            (
                f"{previous[0]}-{count}",
                f"{rows_in / (wall - previous[1]):.0f}",
                f"{(cpu - previous[2]) / rows_in * 1e3:.2f}",
                f"{rss:.0f}",
            )
        )
        previous = (count, wall, cpu)
    rows.append(
        (
            "whole job (+ scoring)",
            f"{args.rows / total_wall:.0f}",
            f"{total_cpu / args.rows * 1e3:.2f}",
            f"{final_rss:.0f}",
        )
    )
    print(f"eval job: {args.rows} rows, generation_concurrency {args.concurrency}, zero-latency upstream, SQLite store")
    print_table(("rows", "rows/s", "server CPU ms/row", "RSS MiB"), rows)
    print(f"RSS before the job: {idle_rss:.0f} MiB; accuracy {accuracy} (half the rows expect the stub's answer)")
    print(f"(machine: {os.cpu_count()} cores, shared; stack on core 1, upstream on core 0)")


if __name__ == "__main__":
    main()
