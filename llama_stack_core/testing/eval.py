"""Eval conformance tests every eval provider runs: a benchmark's job from ``scheduled`` to ``completed`` with its
progress counts, the result's shape and scores, a row whose generation fails, cancel, evaluations, and the 404, 400
and 409 answers, all through the stack over HTTP.

The candidate is a scripted model (:class:`~llama_stack_core.testing.scripted.ScriptedServer` behind
``remote::vllm``) that answers each question of the kit's datasets as scripted: right, wrong, slowly, or with an
error. Rows are read by ``inline::localfs`` and scored by ``inline::basic`` (``basic::equality``) unless the subclass
names other supporting providers::

    class TestAcmeEval(EvalProviderTests):
        provider_type = "inline::acme-eval"
        provider_config = {}
        extra_plugins = [acme_eval.plugin]      # when not installed

Override ``datasetio_provider`` / ``scoring_provider`` (run-config provider entries) and ``scoring_function`` (a
function on that provider whose score is 1 when ``generated_answer`` equals ``expected_answer``, and 0 otherwise;
register it in ``supporting_resources`` if it is not a plugin default).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from .kit import PROVIDER_ID, StackKit
from .scripted import RecordedRequest, Reply, ScriptedServer, chat_completion
from .waiting import eventually

MODEL = "kit-model"
#: question -> (the scripted model's answer, the expected answer); "FAIL" questions get an upstream error
QUESTIONS = {
    "What is 2+3?": ("5", "5"),
    "What is the capital of France?": ("Paris", "Paris"),
    "What colour is the sky?": ("green", "blue"),
    "How many legs has a spider?": ("8", "8"),
    "FAIL: what is 1+1?": (None, "2"),
}
SLOW = 0.3  # seconds the model takes on each row of the slow dataset
SLOW_ROWS = 8


def _answer(request: RecordedRequest) -> Reply:
    question = request.json["messages"][-1]["content"]
    if question.startswith("SLOW"):
        return Reply(json=chat_completion("slow answer"), delay=SLOW)
    answer, _ = QUESTIONS.get(question, ("I do not know", ""))
    if answer is None:
        return Reply(status=400, json={"error": {"message": f"the model refused: {question}"}})
    return Reply(json=chat_completion(answer))


class EvalProviderTests(StackKit):
    api = "eval"
    datasetio_provider: ClassVar[dict[str, Any]] = {
        "provider_id": "localfs",
        "provider_type": "inline::localfs",
        "config": {},
    }
    scoring_provider: ClassVar[dict[str, Any]] = {
        "provider_id": "basic",
        "provider_type": "inline::basic",
        "config": {},
    }
    scoring_function: ClassVar[str] = "basic::equality"

    # -- stack -------------------------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def kit_model(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer(respond=_answer) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Any, kit_model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        vllm = {"base_url": kit_model.base_url, "refresh_models": False}
        providers.setdefault("inference", []).append(
            {"provider_id": "kit-vllm", "provider_type": "remote::vllm", "config": vllm}
        )
        providers.setdefault("datasetio", []).append(dict(cls.datasetio_provider))
        providers.setdefault("scoring", []).append(dict(cls.scoring_provider))
        return providers

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        qa = [{"input_query": q, "expected_answer": expected} for q, (_, expected) in QUESTIONS.items()]
        slow = [{"input_query": f"SLOW {i}", "expected_answer": "x"} for i in range(SLOW_ROWS)]
        datasets = [
            {"dataset_id": "kit-qa", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": qa}},
            {"dataset_id": "kit-slow", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": slow}},
        ]
        benchmarks = [
            {
                "benchmark_id": name,
                "dataset_id": dataset,
                "scoring_functions": [cls.scoring_function],
                "provider_id": PROVIDER_ID,
            }
            for name, dataset in (("kit-bench", "kit-qa"), ("kit-slow-bench", "kit-slow"))
        ]
        models = [
            {"model_id": MODEL, "provider_id": "kit-vllm", "provider_model_id": "scripted"},
            {
                "model_id": "kit-embedder",
                "provider_id": "kit-vllm",
                "provider_model_id": "e",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 4},
            },
        ]
        return {
            "models": [*cls.supporting_resources.get("models", []), *models],
            "datasets": [*cls.supporting_resources.get("datasets", []), *datasets],
            "benchmarks": [*cls.supporting_resources.get("benchmarks", []), *benchmarks],
        }

    # -- helpers -----------------------------------------------------------------------------------------------------

    @staticmethod
    def config(**extra: Any) -> dict[str, Any]:
        return {"eval_candidate": {"type": "model", "model": MODEL}, **extra}

    async def start(self, http: Any, benchmark: str = "kit-bench", **extra: Any) -> dict[str, Any]:
        response = await http.post(
            f"/v1alpha/eval/benchmarks/{benchmark}/jobs", json={"benchmark_config": self.config(**extra)}
        )
        assert response.status_code == 200, response.text
        job = response.json()
        assert job["job_id"] and job["status"] in ("scheduled", "in_progress", "completed")
        return job

    async def settled(self, http: Any, job_id: str, benchmark: str = "kit-bench") -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            response = await http.get(f"/v1alpha/eval/benchmarks/{benchmark}/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job = response.json()
            return job if job["status"] not in ("scheduled", "in_progress") else None

        return await eventually(done, timeout=30, what=f"eval job {job_id} to finish")

    # -- jobs --------------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_job_runs_to_completion_with_progress(self, http: Any) -> None:
        job = await self.start(http)
        assert job["benchmark_id"] == "kit-bench"
        done = await self.settled(http, job["job_id"])
        assert done["status"] == "completed", done
        total = len(QUESTIONS)
        assert done["progress"] == {"total_rows": total, "completed_rows": total, "failed_rows": 1}
        assert done["created_at"] <= done["started_at"] <= done["completed_at"]

    @pytest.mark.anyio
    async def test_result_has_a_generation_and_a_score_per_row(self, http: Any) -> None:
        job = await self.start(http)
        await self.settled(http, job["job_id"])
        response = await http.get(f"/v1alpha/eval/benchmarks/kit-bench/jobs/{job['job_id']}/result")
        assert response.status_code == 200, response.text
        result = response.json()
        answers = [answer for answer, _ in QUESTIONS.values()]
        assert [g["generated_answer"] for g in result["generations"]] == answers
        assert set(result["scores"]) == {self.scoring_function}
        scores = result["scores"][self.scoring_function]
        assert [row["score"] for row in scores["score_rows"][:4]] == [1.0, 1.0, 0.0, 1.0]
        assert scores["aggregated_results"]  # aggregated over every row

    @pytest.mark.anyio
    async def test_a_row_whose_generation_fails_is_an_error_row(self, http: Any) -> None:
        job = await self.start(http)
        await self.settled(http, job["job_id"])
        result = (await http.get(f"/v1alpha/eval/benchmarks/kit-bench/jobs/{job['job_id']}/result")).json()
        failed = result["generations"][-1]
        assert failed["generated_answer"] is None and "refused" in failed["error"]
        row = result["scores"][self.scoring_function]["score_rows"][-1]
        assert row["score"] is None and row["error"]
        assert result["scores"][self.scoring_function]["aggregated_results"]["num_errors"] == 1

    @pytest.mark.anyio
    async def test_num_examples_evaluates_the_first_rows(self, http: Any) -> None:
        job = await self.start(http, num_examples=2)
        assert job["progress"]["total_rows"] in (0, 2)
        done = await self.settled(http, job["job_id"])
        assert done["progress"] == {"total_rows": 2, "completed_rows": 2, "failed_rows": 0}
        result = (await http.get(f"/v1alpha/eval/benchmarks/kit-bench/jobs/{job['job_id']}/result")).json()
        assert [g["generated_answer"] for g in result["generations"]] == ["5", "Paris"]

    @pytest.mark.anyio
    async def test_cancel_stops_a_running_job(self, http: Any) -> None:
        job = await self.start(http, "kit-slow-bench")
        url = f"/v1alpha/eval/benchmarks/kit-slow-bench/jobs/{job['job_id']}"
        response = await http.delete(url)
        assert response.status_code in (200, 204), response.text
        status = (await http.get(url)).json()
        assert status["status"] == "cancelled"
        assert status["progress"]["completed_rows"] < SLOW_ROWS
        again = await http.delete(url)
        assert again.status_code == 409, again.text
        result = await http.get(url + "/result")
        assert result.status_code == 409 and "cancelled" in result.text

    @pytest.mark.anyio
    async def test_result_of_an_unfinished_job_is_409(self, http: Any) -> None:
        job = await self.start(http, "kit-slow-bench")
        url = f"/v1alpha/eval/benchmarks/kit-slow-bench/jobs/{job['job_id']}"
        result = await http.get(url + "/result")
        assert result.status_code == 409, result.text
        assert "scheduled" in result.text or "in_progress" in result.text
        await http.delete(url)

    # -- evaluations -------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_evaluate_rows_answers_generations_and_scores(self, http: Any) -> None:
        rows = [
            {"input_query": "What is 2+3?", "expected_answer": "5"},
            {"input_query": "What colour is the sky?", "expected_answer": "blue"},
        ]
        body = {"input_rows": rows, "scoring_functions": [self.scoring_function], "benchmark_config": self.config()}
        response = await http.post("/v1alpha/eval/benchmarks/kit-bench/evaluations", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert [g["generated_answer"] for g in answer["generations"]] == ["5", "green"]
        assert [r["score"] for r in answer["scores"][self.scoring_function]["score_rows"]] == [1.0, 0.0]

    # -- bad requests ------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unknown_benchmark_and_job_are_404(self, http: Any) -> None:
        body = {"benchmark_config": self.config()}
        assert (await http.post("/v1alpha/eval/benchmarks/no-such-bench/jobs", json=body)).status_code == 404
        for url in (
            "/v1alpha/eval/benchmarks/kit-bench/jobs/no-such-job",
            "/v1alpha/eval/benchmarks/kit-bench/jobs/no-such-job/result",
        ):
            assert (await http.get(url)).status_code == 404
        assert (await http.delete("/v1alpha/eval/benchmarks/kit-bench/jobs/no-such-job")).status_code == 404

    @pytest.mark.anyio
    async def test_a_job_is_not_found_under_another_benchmark(self, http: Any) -> None:
        job = await self.start(http, num_examples=1)
        await self.settled(http, job["job_id"])
        response = await http.get(f"/v1alpha/eval/benchmarks/kit-slow-bench/jobs/{job['job_id']}")
        assert response.status_code == 404
        finished = await http.delete(f"/v1alpha/eval/benchmarks/kit-bench/jobs/{job['job_id']}")
        assert finished.status_code == 409  # a finished job is not cancelled

    @pytest.mark.anyio
    @pytest.mark.parametrize("model", ["no-such-model", "kit-embedder"])
    async def test_a_candidate_that_is_not_a_registered_llm_is_400(self, http: Any, model: str) -> None:
        body = {"benchmark_config": {"eval_candidate": {"type": "model", "model": model}}}
        response = await http.post("/v1alpha/eval/benchmarks/kit-bench/jobs", json=body)
        assert response.status_code == 400, response.text
        assert "eval_candidate.model" in response.text

    # -- the SDK -------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_llama_stack_client(self, http: Any) -> None:
        """The 0.2 SDK (``/v1/eval/...`` paths): register a benchmark, run a job, poll it, read its result."""
        sdk = pytest.importorskip("llama_stack_client")
        client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
        await client.benchmarks.register(
            benchmark_id="kit-sdk-bench", dataset_id="kit-qa", scoring_functions=[self.scoring_function]
        )
        assert "kit-sdk-bench" in {b.identifier for b in await client.benchmarks.list()}
        job = await client.eval.run_eval("kit-sdk-bench", benchmark_config={**self.config(), "num_examples": 2})

        async def completed() -> bool:
            status = await client.eval.jobs.status(job.job_id, benchmark_id="kit-sdk-bench")
            return status.status == "completed"

        await eventually(completed, timeout=30, what="the SDK's job")
        result = await client.eval.jobs.retrieve(job.job_id, benchmark_id="kit-sdk-bench")
        assert [g["generated_answer"] for g in result.generations] == ["5", "Paris"]
        assert [r["score"] for r in result.scores[self.scoring_function].score_rows] == [1.0, 1.0]
