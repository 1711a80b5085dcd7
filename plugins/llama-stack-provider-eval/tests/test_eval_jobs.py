"""inline::builtin eval in-process: jobs against a scripted model behind the real ``remote::vllm`` adapter (answers
chosen per question, failures and delays scripted), the exact requests the model gets, failed rows, cancel, the 404,
400 and 409 answers, and evaluations."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_eval import plugin

from llama_stack_core.scoring.aggregation import functions_of
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.waiting import eventually

sys.path.insert(0, str(Path(__file__).parent))
from eval_test_support import (
    MODEL,
    ROWS,
    answer_by_question,
    candidate,
    eval_config,
    eval_stack,
    finished,
    plugin_modules,
    run_job,
)

pytestmark = pytest.mark.anyio

# -- without a stack -----------------------------------------------------------------------------------------------


def test_plugin_module_is_light_and_declares_its_dependencies():
    assert_plugin_module_is_light(
        "llama_stack_provider_eval.plugin",
        {"llama_stack_provider_eval.provider", "llama_stack_provider_eval.runner"},
        call=["register_eval_providers"],
    )
    [spec] = plugin.register_eval_providers()
    assert spec.provider_type == "inline::builtin"
    assert spec.api_dependencies == (plugin.Api.datasetio, plugin.Api.scoring, plugin.Api.inference)
    assert spec.optional_api_dependencies == (plugin.Api.agents,)


def test_aggregation_functions_are_read_back_from_their_results():
    assert functions_of({"accuracy": 0.5, "num_correct": 1, "num_total": 2, "categorical_count": {}}) == [
        "accuracy",
        "categorical_count",
    ]
    assert functions_of({"median": 1.0, "average": 0.5, "num_errors": 1}) == ["median", "average"]
    assert functions_of({"something": 1}) == []


# -- jobs ----------------------------------------------------------------------------------------------------------


async def test_job_generates_scores_and_stores_the_result(tmp_path, scripted):
    scripted.respond = answer_by_question(wrong={"Q2"})
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        job = await run_job(client)
        assert job["status"] == "scheduled" and job["benchmark_id"] == "bench"
        assert job["progress"] == {"total_rows": 6, "completed_rows": 0, "failed_rows": 0}
        done = await finished(client, job["job_id"])
        assert done["status"] == "completed"
        assert done["progress"] == {"total_rows": 6, "completed_rows": 6, "failed_rows": 0}
        assert done["started_at"] >= done["created_at"] and done["completed_at"] >= done["started_at"]
        result = (await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}/result")).json()
    assert [g["generated_answer"] for g in result["generations"]] == ["B", "A", "Z", "A", "B", "A"]
    exact = result["scores"]["exact"]
    assert [r["score"] for r in exact["score_rows"]] == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert exact["aggregated_results"]["accuracy"] == pytest.approx(5 / 6)
    assert exact["aggregated_results"]["categorical_count"] == {"1": 5, "0": 1}
    assert len(scripted.requests) == 6


async def test_the_model_gets_the_candidates_system_message_and_sampling(tmp_path, scripted):
    scripted.respond = answer_by_question()
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        job = await run_job(
            client,
            num_examples=2,
            eval_candidate={
                "type": "model",
                "model": MODEL,
                "system_message": {"role": "system", "content": "Answer with one letter."},
                "sampling_params": {"strategy": {"type": "top_p", "temperature": 0.5, "top_p": 0.9}, "max_tokens": 7},
            },
        )
        assert job["progress"]["total_rows"] == 2
        assert (await finished(client, job["job_id"]))["progress"]["completed_rows"] == 2
    sent = sorted((r.json for r in scripted.requests), key=lambda body: body["messages"][-1]["content"])
    assert sent[0] == {
        "model": "m",
        "messages": [{"role": "system", "content": "Answer with one letter."}, {"role": "user", "content": "Q0"}],
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 7,
    }
    assert sent[1]["messages"][-1] == {"role": "user", "content": "Q1"}


async def test_messages_answer_rows_and_greedy_sampling(tmp_path, scripted):
    scripted.respond = answer_by_question()
    rows = [
        {"chat_completion_input": json.dumps([{"role": "user", "content": "Q1"}]), "expected_answer": "A"},
        {
            "chat_completion_input": [{"role": "system", "content": "s"}, {"role": "user", "content": "Q0"}],
            "expected_answer": "B",
        },
    ]
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        body = {"input_rows": rows, "scoring_functions": ["exact"], "benchmark_config": candidate()}
        response = await client.post("/v1alpha/eval/benchmarks/bench/evaluations", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["generations"] == [{"generated_answer": "A"}, {"generated_answer": "B"}]
    assert answer["scores"]["exact"]["aggregated_results"]["accuracy"] == 1.0
    sent = sorted((r.json for r in scripted.requests), key=lambda body: len(body["messages"]))
    assert sent[0] == {"model": "m", "messages": [{"role": "user", "content": "Q1"}], "temperature": 0.0}
    assert sent[1]["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "Q0"}]


async def test_a_row_whose_generation_fails_is_an_error_row_and_the_job_goes_on(tmp_path, scripted):
    scripted.respond = answer_by_question(failing={"Q3"})
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        job = await run_job(client)
        done = await finished(client, job["job_id"])
        assert done["status"] == "completed"
        assert done["progress"] == {"total_rows": 6, "completed_rows": 6, "failed_rows": 1}
        result = (await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}/result")).json()
    generation = result["generations"][3]
    assert generation["generated_answer"] is None and "cannot answer Q3" in generation["error"]
    exact = result["scores"]["exact"]
    assert exact["score_rows"][3]["score"] is None and "cannot answer Q3" in exact["score_rows"][3]["error"]
    assert [r["score"] for i, r in enumerate(exact["score_rows"]) if i != 3] == [1.0] * 5
    aggregates = exact["aggregated_results"]
    assert aggregates["accuracy"] == pytest.approx(5 / 6) and aggregates["num_total"] == 6
    assert aggregates["num_errors"] == 1 and aggregates["categorical_count"] == {"1": 5, "error": 1}


async def test_scoring_params_override_the_registered_ones(tmp_path, scripted):
    scripted.respond = answer_by_question()
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        job = await run_job(client, scoring_params={"exact": {"type": "basic", "aggregation_functions": ["average"]}})
        await finished(client, job["job_id"])
        result = (await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}/result")).json()
    assert result["scores"]["exact"]["aggregated_results"] == {"average": 1.0}


# -- cancel and the answers to bad requests -------------------------------------------------------------------------


async def test_cancel_stops_a_running_job(tmp_path, scripted):
    scripted.respond = answer_by_question(delay=0.3)
    async with eval_stack(eval_config(tmp_path, scripted, generation_concurrency=1)) as client:
        job = await run_job(client)
        url = f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}"
        await eventually(lambda: _status(client, url, "in_progress"), timeout=10)
        cancelled = await client.delete(url)
        assert cancelled.status_code in (200, 204), cancelled.text
        status = (await client.get(url)).json()
        assert status["status"] == "cancelled" and status["progress"]["completed_rows"] < 6
        sent = len(scripted.requests)
        again = await client.delete(url)
        assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]
        result = await client.get(url + "/result")
        assert result.status_code == 409 and "cancelled" in result.json()["error"]["message"]
    assert len(scripted.requests) == sent  # nothing generated after the cancel


async def _status(client: Any, url: str, status: str) -> bool:
    return (await client.get(url)).json()["status"] == status


async def test_result_of_a_running_job_is_409_naming_its_status(tmp_path, scripted):
    scripted.respond = answer_by_question(delay=0.5)
    async with eval_stack(eval_config(tmp_path, scripted, generation_concurrency=1)) as client:
        job = await run_job(client)
        result = await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}/result")
        assert result.status_code == 409
        assert "scheduled" in result.text or "in_progress" in result.text
        await client.delete(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}")


async def test_unknown_benchmark_job_and_another_benchmarks_job_are_404(tmp_path, scripted):
    scripted.respond = answer_by_question()
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        body = {"benchmark_config": candidate()}
        assert (await client.post("/v1alpha/eval/benchmarks/nope/jobs", json=body)).status_code == 404
        job = await run_job(client)
        await finished(client, job["job_id"])
        for url in (
            "/v1alpha/eval/benchmarks/bench/jobs/no-such-job",
            "/v1alpha/eval/benchmarks/bench/jobs/no-such-job/result",
            f"/v1alpha/eval/benchmarks/bench-2/jobs/{job['job_id']}",
            f"/v1alpha/eval/benchmarks/bench-2/jobs/{job['job_id']}/result",
        ):
            response = await client.get(url)
            assert response.status_code == 404, url
        assert (await client.delete("/v1alpha/eval/benchmarks/bench/jobs/no-such-job")).status_code == 404
        finished_cancel = await client.delete(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}")
        assert finished_cancel.status_code == 409 and "completed" in finished_cancel.text


@pytest.mark.parametrize(
    ("model", "expected"),
    [("no-such-model", "no-such-model"), ("embedder", "embedding")],
)
async def test_a_candidate_that_is_not_a_registered_llm_is_400(tmp_path, scripted, model, expected):
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        body = {"benchmark_config": {"eval_candidate": {"type": "model", "model": model}}}
        response = await client.post("/v1alpha/eval/benchmarks/bench/jobs", json=body)
        evaluation = await client.post(
            "/v1alpha/eval/benchmarks/bench/evaluations",
            json={"input_rows": ROWS[:1], "scoring_functions": ["exact"], **body},
        )
    for answer in (response, evaluation):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["param"] == "benchmark_config.eval_candidate.model" and expected in error["message"]
    assert scripted.requests == []


async def test_num_examples_below_one_is_422(tmp_path, scripted):
    async with eval_stack(eval_config(tmp_path, scripted)) as client:
        body = {"benchmark_config": {**candidate(), "num_examples": 0}}
        response = await client.post("/v1alpha/eval/benchmarks/bench/jobs", json=body)
    assert response.status_code == 422 and "num_examples" in response.text


# -- an agent as the candidate -------------------------------------------------------------------------------------


async def test_an_agent_candidate_answers_each_row_in_a_turn_of_its_own(tmp_path, scripted):
    from llama_stack_provider_agents import plugin as agents_plugin

    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.testing.harness import stack_client

    scripted.respond = answer_by_question(wrong={"Q3"})
    config = eval_config(tmp_path, scripted)
    config["providers"]["agents"] = [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}]
    pm = PluginManager(autoload=False, extra_plugins=[*plugin_modules(), agents_plugin])
    agent = {"model": MODEL, "instructions": "Answer with one letter."}
    async with stack_client(config, pm) as client:
        body = {"benchmark_config": {"eval_candidate": {"type": "agent", "config": agent}}}
        job = (await client.post("/v1alpha/eval/benchmarks/bench/jobs", json=body)).json()
        done = await finished(client, job["job_id"])
        assert done["status"] == "completed", done
        result = (await client.get(f"/v1alpha/eval/benchmarks/bench/jobs/{job['job_id']}/result")).json()
        agents_left = (await client.get("/v1alpha/agents")).json()["data"]
    assert [g["generated_answer"] for g in result["generations"]] == ["B", "A", "B", "Z", "B", "A"]
    assert result["scores"]["exact"]["aggregated_results"]["accuracy"] == pytest.approx(5 / 6)
    # each row a turn of its own session: the agent's instructions, then that row's question alone
    asked = [r.json["messages"] for r in scripted.requests]
    assert len(asked) == 6
    for messages in asked:
        assert messages[0] == {"role": "system", "content": "Answer with one letter."}
        assert [m["role"] for m in messages[1:]] == ["user"]
    assert agents_left == []  # the job's agent is deleted when it ends
