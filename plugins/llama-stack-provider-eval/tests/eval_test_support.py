"""What the eval tests share: a run config with a scripted model answering by question, scored by ``exact`` (a variant
of inline::basic's ``basic::equality`` counting its scores too), and helpers to run jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer, chat_completion, text_turn
from llama_stack_core.testing.waiting import eventually

# -- helpers ---------------------------------------------------------------------------------------------------


MODEL = "vllm/m"
QUESTIONS = {f"Q{i}": "A" if i % 2 else "B" for i in range(12)}  # Q0 B, Q1 A, ...
ROWS = [{"input_query": q, "expected_answer": a} for q, a in QUESTIONS.items()][:6]


def answer_by_question(wrong: set[str] = frozenset(), failing: set[str] = frozenset(), delay: float = 0.0):
    """A model that answers each question's expected letter (or "Z" for those in ``wrong``; 400 for ``failing``)."""

    def respond(request: RecordedRequest) -> Reply:
        question = request.json["messages"][-1]["content"]
        if question in failing:
            return Reply(status=400, json={"error": {"message": f"cannot answer {question}"}}, delay=delay)
        letter = "Z" if question in wrong else QUESTIONS.get(question, "?")
        if request.json.get("stream"):  # an agent's turns stream
            return Reply(stream=text_turn(letter), delay=delay)
        return Reply(json=chat_completion(letter), delay=delay)

    return respond


def eval_config(tmp_path: Path, scripted: ScriptedServer, **eval_settings: Any) -> dict[str, Any]:
    providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": scripted.base_url, "refresh_models": False},
            }
        ],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "eval": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": eval_settings}],
    }
    return make_run_config(
        providers,
        tmp_path,
        models=[
            {"model_id": MODEL, "provider_id": "vllm", "provider_model_id": "m"},
            {
                "model_id": "embedder",
                "provider_id": "vllm",
                "provider_model_id": "e",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 4},
            },
        ],
        datasets=[
            {"dataset_id": "qa", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}},
            {"dataset_id": "other", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS[:1]}},
        ],
        scoring_fns=[
            {
                "scoring_fn_id": "exact",
                "provider_id": "basic",
                "provider_scoring_fn_id": "basic::equality",
                "return_type": {"type": "number"},
                "params": {"type": "basic", "aggregation_functions": ["accuracy", "categorical_count"]},
            },
        ],
        benchmarks=[
            {"benchmark_id": "bench", "dataset_id": "qa", "scoring_functions": ["exact"]},
            {"benchmark_id": "bench-2", "dataset_id": "other", "scoring_functions": ["exact"]},
        ],
    )


def eval_stack(config: dict[str, Any]):

    return stack_client(config, PluginManager(autoload=False, extra_plugins=plugin_modules()))


def plugin_modules() -> list[Any]:
    """The plugins of the eval stacks under test: eval, vllm (the scripted model), localfs and basic scoring."""
    from llama_stack_provider_basic_scoring import plugin as basic_plugin
    from llama_stack_provider_eval import plugin
    from llama_stack_provider_localfs_datasets import plugin as localfs_plugin
    from llama_stack_provider_vllm import plugin as vllm_plugin

    return [plugin, vllm_plugin, localfs_plugin, basic_plugin]


def candidate(**extra: Any) -> dict[str, Any]:
    return {"eval_candidate": {"type": "model", "model": MODEL, **extra}}


async def run_job(client: Any, benchmark: str = "bench", **config: Any) -> dict[str, Any]:
    body = {"benchmark_config": {**candidate(), **config}}
    response = await client.post(f"/v1alpha/eval/benchmarks/{benchmark}/jobs", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def finished(client: Any, job_id: str, benchmark: str = "bench") -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = (await client.get(f"/v1alpha/eval/benchmarks/{benchmark}/jobs/{job_id}")).json()
        return job if job["status"] not in ("scheduled", "in_progress") else None

    return await eventually(done, timeout=20, what=f"job {job_id} to finish")
