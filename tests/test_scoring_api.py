"""The core's scoring router: one request naming functions of two providers (each scores its own) and two variants
of one provider function (their own registered params), score-batch reading a dataset through DatasetIO and saving
the scored rows as a dataset the caller can page (and owns, with auth on), its bad-input answers, and the same
through the llama-stack-client 0.2 SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_stack_provider_basic_scoring import plugin as basic_plugin
from llama_stack_provider_localfs_datasets import plugin as localfs_plugin

from llama_stack_core.auth.keys import hash_key
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio

ROWS = [
    {"generated_answer": "Answer: B", "expected_answer": "B"},
    {"generated_answer": "B", "expected_answer": "B"},
    {"generated_answer": "Answer: C", "expected_answer": "B"},
]


MCQ = "basic::regex_parser_multiple_choice_answer"


def variant(scoring_fn_id: str, provider_id: str, regex: str) -> dict[str, Any]:
    """A variant of the multiple-choice parser with its own regex, registered on one provider."""
    return {
        "scoring_fn_id": scoring_fn_id,
        "provider_id": provider_id,
        "provider_scoring_fn_id": MCQ,
        "description": "a variant",
        "return_type": {"type": "number"},
        "params": {"type": "regex_parser", "parsing_regexes": [regex]},
    }


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Two inline::basic providers: the built-in functions' fixed ids end up on the last one ("other"); a variant
    on each provider."""
    providers = {
        "scoring": [
            {"provider_id": "basic", "provider_type": "inline::basic", "config": {}},
            {"provider_id": "other", "provider_type": "inline::basic", "config": {}},
        ],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
    }
    functions = [variant("letter-only", "basic", r"^\s*([A-D])\s*$"), variant("last-letter", "other", r"([A-D])\W*$")]
    config = make_run_config(providers, tmp_path, scoring_fns=functions)
    async with stack_client(config, PluginManager(extra_plugins=[basic_plugin, localfs_plugin])) as client:
        yield client


async def test_functions_of_two_providers_in_one_request(http: httpx.AsyncClient) -> None:
    """letter-only is on "basic"; the built-ins and last-letter on "other", where last-letter and the built-in
    parser are one provider function with two sets of params (two calls to that provider)."""
    functions = {f["identifier"]: f for f in (await http.get("/v1/scoring-functions")).json()["data"]}
    served_by = {
        name: functions[name]["provider_id"] for name in (MCQ, "letter-only", "last-letter", "basic::equality")
    }
    assert served_by == {MCQ: "other", "letter-only": "basic", "last-letter": "other", "basic::equality": "other"}
    body = {
        "input_rows": ROWS,
        "scoring_functions": {MCQ: None, "letter-only": None, "last-letter": None, "basic::equality": None},
    }
    response = await http.post("/v1/scoring/score", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert list(results) == [MCQ, "letter-only", "last-letter", "basic::equality"]  # the request's order
    assert [r["score"] for r in results[MCQ]["score_rows"]] == [1.0, 0.0, 0.0]
    assert [r["score"] for r in results["letter-only"]["score_rows"]] == [0.0, 1.0, 0.0]  # its registered params
    assert [r["parsed_answer"] for r in results["last-letter"]["score_rows"]] == ["B", "B", "C"]  # its own, too
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


async def test_a_saved_results_dataset_belongs_to_its_caller(tmp_path: Path) -> None:
    """With auth on, the dataset score-batch saves is the caller's: bob can neither read it nor score alice's data."""
    keys = {"alice": "lsk-alice-0123456789abcdefghijklmnop", "bob": "lsk-bob-0123456789abcdefghijklmnopqrs"}
    providers = {
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
    }
    server = {"auth": {"api_keys": [{"name": name, "key_hash": hash_key(key)} for name, key in keys.items()]}}
    config = make_run_config(providers, tmp_path, server=server)
    alice, bob = ({"Authorization": f"Bearer {keys[name]}"} for name in ("alice", "bob"))
    async with stack_client(config, PluginManager(extra_plugins=[basic_plugin, localfs_plugin])) as http:
        dataset = {
            "dataset_id": "alice-answers",
            "purpose": "eval/question-answer",
            "source": {"type": "rows", "rows": ROWS},
        }
        assert (await http.post("/v1beta/datasets", json=dataset, headers=alice)).status_code == 200
        body = {"dataset_id": "alice-answers", "scoring_functions": {"basic::equality": None}}
        saved = await http.post("/v1/scoring/score-batch", json={**body, "save_results_dataset": True}, headers=alice)
        assert saved.status_code == 200, saved.text
        saved_id = saved.json()["dataset_id"]
        mine = (await http.get(f"/v1beta/datasets/{saved_id}", headers=alice)).json()
        assert mine["owner"]["principal"] == "alice"
        rows = (await http.get(f"/v1beta/datasetio/iterrows/{saved_id}", headers=alice)).json()["data"]
        assert [row["basic::equality"]["score"] for row in rows] == [0.0, 1.0, 0.0]
        for path in (f"/v1beta/datasets/{saved_id}", f"/v1beta/datasetio/iterrows/{saved_id}"):
            assert (await http.get(path, headers=bob)).status_code == 404
        listed = (await http.get("/v1beta/datasets", headers=bob)).json()["data"]
        assert saved_id not in {d["identifier"] for d in listed}
        assert (await http.post("/v1/scoring/score-batch", json=body, headers=bob)).status_code == 404


async def test_with_the_llama_stack_client_sdk(http: httpx.AsyncClient) -> None:
    """The 0.2 SDK's scoring calls: functions of two providers in one score, score-batch saving its rows, a 404."""
    sdk = pytest.importorskip("llama_stack_client")
    client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
    assert {"letter-only", "last-letter", MCQ} <= {f.identifier for f in await client.scoring_functions.list()}
    answer = await client.scoring.score(input_rows=ROWS, scoring_functions={"letter-only": None, MCQ: None})
    assert [r["score"] for r in answer.results["letter-only"].score_rows] == [0.0, 1.0, 0.0]
    assert answer.results[MCQ].aggregated_results["accuracy"] == pytest.approx(1 / 3)
    await client.datasets.register(
        purpose="eval/question-answer", source={"type": "rows", "rows": ROWS}, dataset_id="d"
    )
    batch = await client.scoring.score_batch(
        dataset_id="d", scoring_functions={"basic::subset_of": None}, save_results_dataset=True
    )
    assert batch.results["basic::subset_of"].aggregated_results["accuracy"] == pytest.approx(2 / 3)
    saved = await client.datasets.iterrows(batch.dataset_id)
    assert [row["basic::subset_of"] for row in saved.data] == [{"score": 1.0}, {"score": 1.0}, {"score": 0.0}]
    with pytest.raises(sdk.NotFoundError):
        await client.scoring.score(input_rows=ROWS, scoring_functions={"no-such-function": None})
