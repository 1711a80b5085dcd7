"""Scoring conformance tests every scoring provider runs: its functions as resources, ``score`` called for real
through the stack on rows whose scores the subclass knows, ``score-batch`` over a dataset (and saving the scored rows
as a new one), and the bad-input answers.

Subclass :class:`ScoringProviderTests`, name one of your functions and give rows with the score each must get::

    class TestAcmeScoring(ScoringProviderTests):
        provider_type = "inline::acme"
        function_id = "acme::exact"
        rows = [
            {"generated_answer": "Paris", "expected_answer": "Paris"},
            {"generated_answer": "Lyon", "expected_answer": "Paris"},
        ]
        expected_scores = [1.0, 0.0]
        expected_aggregates = {"accuracy": 0.5}

The datasets score-batch reads live on ``datasetio_provider`` (``inline::localfs``, from
llama-stack-provider-localfs-datasets, by default). A function that needs params in the request (a judge) sets
``params``; one that needs other providers (a judge's model) adds ``supporting_providers``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from .kit import PROVIDER_ID, StackKit


class ScoringProviderTests(StackKit):
    api = "scoring"
    #: A function the provider serves (registered by its plugin, or by ``function`` below).
    function_id: ClassVar[str]
    #: The register body of ``function_id`` when the plugin does not register it (``provider_id`` filled in).
    function: ClassVar[dict[str, Any] | None] = None
    #: Params to score with (None: the registered ones).
    params: ClassVar[dict[str, Any] | None] = None
    #: Input rows and the ``score`` each must get, in order.
    rows: ClassVar[list[dict[str, Any]]]
    expected_scores: ClassVar[list[Any]]
    #: Aggregated results the rows must give (a subset of the answer's).
    expected_aggregates: ClassVar[dict[str, Any]] = {}
    #: Where score-batch's datasets live.
    datasetio_provider: ClassVar[dict[str, Any]] = {
        "provider_id": "localfs",
        "provider_type": "inline::localfs",
        "config": {},
    }

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Any) -> dict[str, list[dict[str, Any]]]:
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.setdefault("datasetio", [dict(cls.datasetio_provider)])
        return providers

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        functions = [{**cls.function, "provider_id": PROVIDER_ID}] if cls.function else []
        return {"scoring_fns": functions} if functions else {}

    def score_body(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"input_rows": rows, "scoring_functions": {self.function_id: self.params}}

    def assert_scored(self, result: dict[str, Any]) -> None:
        assert [row.get("score") for row in result["score_rows"]] == self.expected_scores, result["score_rows"]
        for key, value in self.expected_aggregates.items():
            assert result["aggregated_results"].get(key) == value, (key, result["aggregated_results"])

    # -- functions as resources ----------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_function_is_listed_and_fetched(self, http: Any) -> None:
        listed = (await http.get("/v1/scoring-functions")).json()["data"]
        assert self.function_id in [f["identifier"] for f in listed]
        function = (await http.get(f"/v1/scoring-functions/{self.function_id}")).json()
        assert function["provider_id"] == PROVIDER_ID and function["type"] == "scoring_function"
        assert function["return_type"]["type"]

    # -- score ---------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_score_gives_each_row_its_score_and_the_aggregates(self, http: Any) -> None:
        response = await http.post("/v1/scoring/score", json=self.score_body(self.rows))
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert list(results) == [self.function_id]
        self.assert_scored(results[self.function_id])

    @pytest.mark.anyio
    async def test_each_row_is_scored_on_its_own(self, http: Any) -> None:
        """Row order and batching change nothing: the rows one by one get the scores they get together."""
        for row, expected in zip(self.rows, self.expected_scores, strict=True):
            response = await http.post("/v1/scoring/score", json=self.score_body([row]))
            assert response.status_code == 200, response.text
            assert response.json()["results"][self.function_id]["score_rows"][0].get("score") == expected

    @pytest.mark.anyio
    async def test_unknown_function_is_404_and_bad_bodies_are_422(self, http: Any) -> None:
        unknown = await http.post(
            "/v1/scoring/score", json={"input_rows": self.rows, "scoring_functions": {"no-such::fn": None}}
        )
        assert unknown.status_code == 404, unknown.text
        assert "no-such::fn" in unknown.json()["error"]["message"]
        for body in (
            {"input_rows": [], "scoring_functions": {self.function_id: None}},
            {"input_rows": self.rows},
            {"input_rows": self.rows, "scoring_functions": {}},
        ):
            response = await http.post("/v1/scoring/score", json=body)
            assert response.status_code == 422, (body, response.text)

    # -- score-batch ---------------------------------------------------------------------------------------------

    async def register_rows_dataset(self, http: Any, rows: list[dict[str, Any]]) -> str:
        body = {"purpose": "eval/question-answer", "source": {"type": "rows", "rows": rows}}
        response = await http.post("/v1beta/datasets", json=body)
        assert response.status_code == 200, response.text
        return response.json()["identifier"]

    @pytest.mark.anyio
    async def test_score_batch_scores_a_dataset_and_can_save_the_scored_rows(self, http: Any) -> None:
        dataset_id = await self.register_rows_dataset(http, self.rows)
        body = {"dataset_id": dataset_id, "scoring_functions": {self.function_id: self.params}}
        plain = await http.post("/v1/scoring/score-batch", json=body)
        assert plain.status_code == 200, plain.text
        assert plain.json()["dataset_id"] is None
        self.assert_scored(plain.json()["results"][self.function_id])
        saved = await http.post("/v1/scoring/score-batch", json={**body, "save_results_dataset": True})
        assert saved.status_code == 200, saved.text
        saved_id = saved.json()["dataset_id"]
        assert saved_id and saved_id != dataset_id
        rows = (await http.get(f"/v1beta/datasetio/iterrows/{saved_id}")).json()["data"]
        assert len(rows) == len(self.rows)
        for row, original, expected in zip(rows, self.rows, self.expected_scores, strict=True):
            assert {k: row[k] for k in original} == original
            assert row[self.function_id].get("score") == expected

    @pytest.mark.anyio
    async def test_score_batch_of_an_unknown_dataset_is_404(self, http: Any) -> None:
        body = {"dataset_id": "no-such-dataset", "scoring_functions": {self.function_id: self.params}}
        response = await http.post("/v1/scoring/score-batch", json=body)
        assert response.status_code == 404, response.text
