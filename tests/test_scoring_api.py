"""The core's scoring router: one request naming functions of two providers (each scores its own), registered params
filled in for functions the request gives none, score-batch reading a dataset through DatasetIO and saving the scored
rows as a dataset the caller can page, and its bad-input answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from llama_stack_provider_basic_scoring import plugin as basic_plugin
from llama_stack_provider_localfs_datasets import plugin as localfs_plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio

ROWS = [
    {"generated_answer": "Answer: B", "expected_answer": "B"},
    {"generated_answer": "B", "expected_answer": "B"},
    {"generated_answer": "Answer: C", "expected_answer": "B"},
]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    providers = {
        "scoring": [
            {"provider_id": "basic", "provider_type": "inline::basic", "config": {}},
            {"provider_id": "other", "provider_type": "inline::basic", "config": {}},
        ],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
    }
    letter_only = {
        "scoring_fn_id": "letter-only",
        "provider_id": "other",
        "provider_scoring_fn_id": "basic::regex_parser_multiple_choice_answer",
        "description": "a bare letter",
        "return_type": {"type": "number"},
        "params": {"type": "regex_parser", "parsing_regexes": [r"^\s*([A-D])\s*$"]},
    }
    config = make_run_config(providers, tmp_path, scoring_fns=[letter_only])
    async with stack_client(config, PluginManager(extra_plugins=[basic_plugin, localfs_plugin])) as client:
        yield client


async def test_functions_of_two_providers_in_one_request(http: httpx.AsyncClient) -> None:
    mcq = "basic::regex_parser_multiple_choice_answer"
    functions = {f["identifier"]: f for f in (await http.get("/v1/scoring-functions")).json()["data"]}
    assert functions["letter-only"]["provider_id"] == "other" and functions[mcq]["provider_id"] in ("basic", "other")
    body = {"input_rows": ROWS, "scoring_functions": {mcq: None, "letter-only": None, "basic::equality": None}}
    response = await http.post("/v1/scoring/score", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert list(results) == [mcq, "letter-only", "basic::equality"]  # the request's order
    assert [r["score"] for r in results[mcq]["score_rows"]] == [1.0, 0.0, 0.0]
    assert [r["score"] for r in results["letter-only"]["score_rows"]] == [0.0, 1.0, 0.0]  # its registered params
    assert [r["score"] for r in results["basic::equality"]["score_rows"]] == [0.0, 1.0, 0.0]
    overridden = {"type": "regex_parser", "parsing_regexes": [r"Answer: (\w)"]}
    body = {"input_rows": ROWS, "scoring_functions": {"letter-only": overridden}}
    scores = (await http.post("/v1/scoring/score", json=body)).json()["results"]["letter-only"]["score_rows"]
    assert [r["score"] for r in scores] == [1.0, 0.0, 0.0]  # the request's params replace the registered ones


async def test_score_batch_saves_the_scored_rows_as_a_dataset(http: httpx.AsyncClient) -> None:
    dataset = await http.post(
        "/v1beta/datasets",
        json={"dataset_id": "answers", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}},
    )
    assert dataset.status_code == 200, dataset.text
    body = {"dataset_id": "answers", "scoring_functions": {"basic::equality": None}, "save_results_dataset": True}
    response = await http.post("/v1/scoring/score-batch", json=body)
    assert response.status_code == 200, response.text
    saved_id = response.json()["dataset_id"]
    assert response.json()["results"]["basic::equality"]["aggregated_results"]["accuracy"] == pytest.approx(1 / 3)
    saved = (await http.get(f"/v1beta/datasets/{saved_id}")).json()
    assert saved["purpose"] == "eval/question-answer" and saved["metadata"]["scored_dataset_id"] == "answers"
    rows = (await http.get(f"/v1beta/datasetio/iterrows/{saved_id}", params={"limit": 2})).json()
    assert rows["has_more"] is True and rows["next_start_index"] == 2
    assert rows["data"][1] == {**ROWS[1], "basic::equality": {"score": 1.0}}


async def test_score_batch_bad_input(http: httpx.AsyncClient) -> None:
    empty = {"dataset_id": "empty", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": []}}
    assert (await http.post("/v1beta/datasets", json=empty)).status_code == 200
    cases = [
        ({"dataset_id": "empty", "scoring_functions": {"basic::equality": None}}, 400, "no rows"),
        ({"dataset_id": "missing", "scoring_functions": {"basic::equality": None}}, 404, "missing"),
        ({"dataset_id": "empty", "scoring_functions": {"no-such": None}}, 404, "no-such"),
    ]
    for body, status, says in cases:
        response = await http.post("/v1/scoring/score-batch", json=body)
        assert response.status_code == status, response.text
        assert says in response.json()["error"]["message"]
