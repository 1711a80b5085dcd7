"""What the eval tests share: a run config with a scripted model answering by question, helpers to run jobs, and
stand-ins for the datasetio and scoring providers (inline rows only; exact-match scoring aggregated with the core's
aggregation) until inline::localfs and inline::basic are merged. Loaded as a plugin module by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llama_stack_core.apis.common import ScoringResult
from llama_stack_core.apis.datasetio import IterRowsRequest, PaginatedRows
from llama_stack_core.apis.resources import Dataset, RowsDataSource, ScoringFunction
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.scoring import ScoreRequest, ScoreResponse
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.plugins import PluginManager
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.scoring.aggregation import aggregate
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer, chat_completion
from llama_stack_core.testing.waiting import eventually


class NoConfig(BaseModel):
    pass


class Rows:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def register_dataset(self, dataset: Dataset) -> None:
        assert isinstance(dataset.source, RowsDataSource)
        self.rows[dataset.provider_resource_id or dataset.identifier] = dataset.source.rows

    async def unregister_dataset(self, dataset: Dataset) -> None:
        self.rows.pop(dataset.provider_resource_id or dataset.identifier, None)

    async def iterrows(self, request: IterRowsRequest) -> PaginatedRows:
        rows = self.rows[request.dataset_id]
        start = request.start_index or 0
        end = len(rows) if request.limit in (None, -1) else start + request.limit
        page = rows[start:end]
        more = end < len(rows)
        return PaginatedRows(data=page, has_more=more, next_start_index=end if more else None)

    async def append_rows(self, request: Any) -> None:
        raise NotImplementedError


class ExactMatch:
    def __init__(self) -> None:
        self.params: dict[str, dict[str, Any]] = {}

    async def register_scoring_function(self, function: ScoringFunction) -> None:
        self.params[function.provider_resource_id or function.identifier] = function.params or {}

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        results = {}
        for function_id, override in request.scoring_functions.items():
            params = override.model_dump() if override is not None else self.params.get(function_id, {})
            rows = [
                {"score": 1.0 if str(r.get("generated_answer")).strip() == str(r.get("expected_answer")) else 0.0}
                for r in request.input_rows
            ]
            functions = params.get("aggregation_functions") or ["accuracy"]
            results[function_id] = ScoringResult(score_rows=rows, aggregated_results=aggregate(rows, functions))
        return ScoreResponse(results=results)


def create_rows(config: NoConfig, deps: Any) -> Rows:
    return Rows()


def create_exact(config: NoConfig, deps: Any) -> ExactMatch:
    return ExactMatch()


@hookimpl
def register_datasetio_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.datasetio,
            provider_type="inline::rows",
            config_class=NoConfig,
            factory="eval_test_support:create_rows",
        )
    ]


@hookimpl
def register_scoring_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.scoring,
            provider_type="inline::exact",
            config_class=NoConfig,
            factory="eval_test_support:create_exact",
        )
    ]


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
        "datasetio": [{"provider_id": "rows", "provider_type": "inline::rows", "config": {}}],
        "scoring": [{"provider_id": "exact", "provider_type": "inline::exact", "config": {}}],
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
                "provider_id": "exact",
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
    import sys

    from llama_stack_provider_eval import plugin
    from llama_stack_provider_vllm import plugin as vllm_plugin

    support = sys.modules[__name__]
    return stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin, vllm_plugin, support]))


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
