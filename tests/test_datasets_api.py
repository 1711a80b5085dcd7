"""The registry side of the datasets API (``/v1beta/datasets``, and the 0.2 ``/v1/datasets`` paths), on the test
plugin's recorder providers: generated ids, conflicts, validation, provider choice, and datasets in use by
benchmarks. Row access is the datasetio providers' (``llama_stack_core.testing.datasetio``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from stack_test_plugin import recorder_providers

from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio

ROWS = [{"input_query": "1 + 1", "expected_answer": "2"}]
DATASET_ID = re.compile(r"^dataset-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def body(**fields: Any) -> dict[str, Any]:
    return {"purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}, **fields}


@pytest.fixture
def config(tmp_path):
    return make_run_config(recorder_providers(), tmp_path)


async def test_a_dataset_without_an_id_gets_a_generated_one(config, pm):
    async with stack_client(config, pm) as client:
        first = await client.post("/v1beta/datasets", json=body())
        second = await client.post("/v1/datasets", json=body())
        assert first.status_code == 200, first.text
        ids = [first.json()["identifier"], second.json()["identifier"]]
        assert all(DATASET_ID.match(i) for i in ids) and ids[0] != ids[1]
        assert first.json()["provider_resource_id"] == ids[0]
        fetched = await client.get(f"/v1beta/datasets/{ids[0]}")
        assert fetched.json()["source"] == {"type": "rows", "rows": ROWS}
        assert sorted(d["identifier"] for d in (await client.get("/v1beta/datasets")).json()["data"]) == sorted(ids)


async def test_a_duplicate_id_is_409_and_keeps_the_original(config, pm):
    async with stack_client(config, pm) as client:
        assert (await client.post("/v1beta/datasets", json=body(dataset_id="qa"))).status_code == 200
        other = body(dataset_id="qa", source={"type": "uri", "uri": "hf://datasets/acme/other"})
        conflict = await client.post("/v1beta/datasets", json=other)
        assert conflict.status_code == 409, conflict.text
        assert "qa" in conflict.json()["error"]["message"]
        assert (await client.get("/v1beta/datasets/qa")).json()["source"]["type"] == "rows"


async def test_ids_with_slashes_are_one_path_parameter(config, pm):
    async with stack_client(config, pm) as client:
        assert (await client.post("/v1beta/datasets", json=body(dataset_id="team/qa/v1"))).status_code == 200
        assert (await client.get("/v1beta/datasets/team/qa/v1")).json()["identifier"] == "team/qa/v1"
        assert (await client.delete("/v1beta/datasets/team/qa/v1")).status_code == 200
        assert (await client.get("/v1beta/datasets/team/qa/v1")).status_code == 404


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"purpose": "eval/anything"}, "purpose"),
        ({"purpose": None}, "purpose"),
        ({"source": {"type": "table", "rows": ROWS}}, "source"),
        ({"source": {"type": "uri"}}, "source"),
        ({"source": {"type": "rows", "rows": [1, 2]}}, "source"),
        ({"dataset_id": ""}, "dataset_id"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_invalid_register_bodies_are_422_naming_the_field(config, pm, fields, param):
    request = {k: v for k, v in body(**fields).items() if v is not None}
    async with stack_client(config, pm) as client:
        response = await client.post("/v1beta/datasets", json=request)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"].startswith(param)
        assert (await client.get("/v1beta/datasets")).json()["data"] == []


async def test_unknown_dataset_is_404(config, pm):
    async with stack_client(config, pm) as client:
        for response in (
            await client.get("/v1beta/datasets/nope"),
            await client.delete("/v1beta/datasets/nope"),
            await client.get("/v1beta/datasetio/iterrows/nope"),
            await client.post("/v1beta/datasetio/append-rows/nope", json={"rows": []}),
        ):
            assert response.status_code == 404, response.text
            assert "nope" in response.json()["error"]["message"]


async def test_several_providers_pick_by_provider_id_or_refuse(tmp_path, pm):
    recorders = [{"provider_id": p, "provider_type": "inline::recorder", "config": {}} for p in ("a", "b")]
    async with stack_client(make_run_config({"datasetio": recorders}, tmp_path), pm) as client:
        named = await client.post("/v1beta/datasets", json=body(provider_id="b"))
        assert named.json()["provider_id"] == "b"
        by_metadata = await client.post("/v1beta/datasets", json=body(metadata={"provider_id": "a"}))
        assert by_metadata.json()["provider_id"] == "a"
        unknown = await client.post("/v1beta/datasets", json=body(provider_id="c"))
        assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "provider_id"
        # neither recorder says which sources it reads (ReadsDatasetSources), so an unnamed one is refused
        unnamed = await client.post("/v1beta/datasets", json=body())
        assert unnamed.status_code == 400, unnamed.text
        assert "no datasetio provider here reads inline rows" in unnamed.json()["error"]["message"]


async def test_a_dataset_in_use_by_a_benchmark_cannot_be_deleted(config, pm):
    async with stack_client(config, pm) as client:
        assert (await client.post("/v1beta/datasets", json=body(dataset_id="qa"))).status_code == 200
        scoring_fn = {"scoring_fn_id": "fn", "description": "equality", "return_type": {"type": "number"}}
        assert (await client.post("/v1/scoring-functions", json=scoring_fn)).status_code == 200
        benchmark = {"benchmark_id": "bench", "dataset_id": "qa", "scoring_functions": ["fn"]}
        assert (await client.post("/v1alpha/eval/benchmarks", json=benchmark)).status_code == 200
        in_use = await client.delete("/v1beta/datasets/qa")
        assert in_use.status_code == 409, in_use.text
        assert "benchmark 'bench'" in in_use.json()["error"]["message"]
        recorder = client.app.state.stack.providers["datasetio"]["datasetio-rec"].impl
        assert "dataset:qa" in recorder.held  # the provider was not told to drop it
        assert (await client.delete("/v1alpha/eval/benchmarks/bench")).status_code == 200
        assert (await client.delete("/v1beta/datasets/qa")).status_code == 200
        assert "dataset:qa" not in recorder.held
        missing = await client.post("/v1alpha/eval/benchmarks", json=benchmark)
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "dataset_id"
