"""DatasetIO conformance tests every datasetio provider runs, through the stack: datasets registered with
``POST /v1beta/datasets``, listed and fetched, read page by page (``iterrows``), appended to (``append-rows``), and
unregistered; the 0.2 ``/v1/...`` paths and the ``llama-stack-client`` SDK; the 404, 400 and 422 answers.

Subclass :class:`DatasetIOProviderTests` and name the provider. By default the kit registers datasets of inline rows
(:data:`ROWS`); a provider that reads other sources gives one it reads and the rows it holds::

    class TestAcmeDatasets(DatasetIOProviderTests):
        provider_type = "remote::acme"
        source = {"type": "uri", "uri": "acme://datasets/qa"}
        expected_rows = [...]                 # the rows that source holds, in order
        unreadable_source = {"type": "uri", "uri": "elsewhere://x"}   # refused with 400 (None: not tested)
        appends_rows = False                  # a read-only provider (its append-rows answers 4xx/501)

Override the class-scoped fixtures ``dataset_source`` / ``expected`` when the source needs other fixtures (a file in
the ``workdir``). The stack is started once per class; each test registers datasets of its own.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pytest

from ..apis.routes import Api
from ..plugins import PluginManager
from .harness import stack_client
from .kit import PROVIDER_ID, StackKit

#: the kit's default dataset: question-answer rows (7 of them, so pages of 3 end with a short one)
ROWS: list[dict[str, Any]] = [{"input_query": f"What is {i} + {i}?", "expected_answer": str(2 * i)} for i in range(7)]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class DatasetIOProviderTests(StackKit):
    api = "datasetio"
    #: a dataset source the provider reads (None: inline rows of :data:`ROWS`)
    source: ClassVar[dict[str, Any] | None] = None
    #: the rows that source holds, in order
    expected_rows: ClassVar[list[dict[str, Any]]] = ROWS
    #: a row that fits the dataset (appended by the append tests); None: the first expected row, changed
    append_row: ClassVar[dict[str, Any] | None] = None
    #: whether append-rows is supported (and its rows persist in the provider's store)
    appends_rows: ClassVar[bool] = True
    #: a source this provider does not read, refused with 400 at registration (None: not tested)
    unreadable_source: ClassVar[dict[str, Any] | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_source(cls, workdir: Any) -> dict[str, Any]:
        """The source the kit's datasets are registered with; override to build it from other fixtures."""
        return cls.source if cls.source is not None else {"type": "rows", "rows": ROWS}

    @pytest.fixture(scope="class")
    @classmethod
    def expected(cls) -> list[dict[str, Any]]:
        return cls.expected_rows

    @pytest.fixture(scope="class")
    @classmethod
    def new_row(cls, expected: list[dict[str, Any]]) -> dict[str, Any]:
        if cls.append_row is not None:
            return dict(cls.append_row)
        return {key: f"appended {key}" if isinstance(value, str) else value for key, value in expected[0].items()}

    # -- helpers -------------------------------------------------------------------------------------------------

    async def register(self, http: Any, source: dict[str, Any], dataset_id: str | None = None, **extra: Any) -> Any:
        body = {"purpose": "eval/question-answer", "source": source, "provider_id": PROVIDER_ID, **extra}
        if dataset_id is not None:
            body["dataset_id"] = dataset_id
        return await http.post("/v1beta/datasets", json=body)

    async def registered(self, http: Any, source: dict[str, Any], prefix: str = "kit") -> str:
        dataset_id = new_id(prefix)
        response = await self.register(http, source, dataset_id)
        assert response.status_code == 200, response.text
        return dataset_id

    async def page(self, http: Any, dataset_id: str, **params: Any) -> dict[str, Any]:
        response = await http.get(f"/v1beta/datasetio/iterrows/{dataset_id}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def all_rows(self, http: Any, dataset_id: str) -> list[dict[str, Any]]:
        return (await self.page(http, dataset_id))["data"]

    async def append(self, http: Any, dataset_id: str, rows: list[Any]) -> Any:
        return await http.post(f"/v1beta/datasetio/append-rows/{dataset_id}", json={"rows": rows})

    def needs_appends(self) -> None:
        if not self.appends_rows:
            pytest.skip(f"{type(self).__name__} sets appends_rows = False")

    # -- datasets as resources -----------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_register_list_and_get(self, http: Any, dataset_source: dict[str, Any]) -> None:
        dataset_id = new_id("listed")
        created = await self.register(http, dataset_source, dataset_id, metadata={"note": "kit"})
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["identifier"] == dataset_id
        assert body["provider_id"] == PROVIDER_ID
        assert body["type"] == "dataset"
        assert body["purpose"] == "eval/question-answer"
        assert body["source"]["type"] == dataset_source["type"]
        listed = (await http.get("/v1beta/datasets")).json()["data"]
        assert dataset_id in [d["identifier"] for d in listed]
        fetched = await http.get(f"/v1beta/datasets/{dataset_id}")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["identifier"] == dataset_id
        assert fetched.json()["metadata"]["note"] == "kit"

    @pytest.mark.anyio
    async def test_unreadable_source_is_400(self, http: Any) -> None:
        if self.unreadable_source is None:
            pytest.skip(f"{type(self).__name__} names no unreadable_source")
        dataset_id = new_id("unreadable")
        refused = await self.register(http, self.unreadable_source, dataset_id)
        assert refused.status_code == 400, refused.text
        assert (await http.get(f"/v1beta/datasets/{dataset_id}")).status_code == 404

    # -- iterrows ------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_iterrows_returns_every_row_in_order(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]]
    ) -> None:
        dataset_id = await self.registered(http, dataset_source)
        page = await self.page(http, dataset_id)
        assert page["data"] == expected
        assert page["has_more"] is False
        assert page.get("next_start_index") is None
        everything = await self.page(http, dataset_id, limit=-1)
        assert everything["data"] == expected

    @pytest.mark.anyio
    async def test_pages_follow_next_start_index(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]]
    ) -> None:
        dataset_id = await self.registered(http, dataset_source)
        size = max(1, (len(expected) + 1) // 3)
        rows: list[dict[str, Any]] = []
        start: int | None = 0
        pages = 0
        while start is not None:
            page = await self.page(http, dataset_id, start_index=start, limit=size)
            assert 0 < len(page["data"]) <= size
            rows.extend(page["data"])
            pages += 1
            assert page["has_more"] is (len(rows) < len(expected))
            start = page.get("next_start_index")
            assert start == (len(rows) if page["has_more"] else None)
            assert pages <= len(expected), "paging does not end"
        assert rows == expected
        assert pages == -(-len(expected) // size)
        middle = await self.page(http, dataset_id, start_index=1, limit=2)
        assert middle["data"] == expected[1:3]

    @pytest.mark.anyio
    async def test_start_index_past_the_end_is_an_empty_page(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]]
    ) -> None:
        dataset_id = await self.registered(http, dataset_source)
        for start in (len(expected), len(expected) + 10):
            page = await self.page(http, dataset_id, start_index=start, limit=5)
            assert page["data"] == []
            assert page["has_more"] is False
            assert page.get("next_start_index") is None

    @pytest.mark.anyio
    async def test_bad_paging_parameters_are_422(self, http: Any, dataset_source: dict[str, Any]) -> None:
        dataset_id = await self.registered(http, dataset_source)
        for params, field in (({"start_index": -1}, "start_index"), ({"limit": -2}, "limit")):
            response = await http.get(f"/v1beta/datasetio/iterrows/{dataset_id}", params=params)
            assert response.status_code == 422, response.text
            assert field in response.text

    @pytest.mark.anyio
    async def test_read_rows_pages_through_the_router(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]], monkeypatch: Any
    ) -> None:
        """What score-batch and eval use: the core's ``read_rows``, here with pages of 2 rows."""
        from .. import datasets

        dataset_id = await self.registered(http, dataset_source)
        monkeypatch.setattr(datasets, "PAGE_ROWS", 2)
        router = http.app.state.stack.routers[Api.datasetio]
        assert await datasets.read_rows(router, dataset_id) == expected
        assert await datasets.read_rows(router, dataset_id, limit=3) == expected[:3]

    @pytest.mark.anyio
    async def test_unknown_dataset_is_404(self, http: Any) -> None:
        missing = await http.get("/v1beta/datasetio/iterrows/no-such-dataset")
        assert missing.status_code == 404
        assert "no-such-dataset" in missing.text
        append = await self.append(http, "no-such-dataset", [{"a": 1}])
        assert append.status_code == 404
        assert (await http.get("/v1beta/datasets/no-such-dataset")).status_code == 404

    # -- append-rows ---------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_appended_rows_follow_the_source_rows(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]], new_row: dict[str, Any]
    ) -> None:
        self.needs_appends()
        dataset_id = await self.registered(http, dataset_source)
        second = {**new_row, **{k: f"second {k}" for k, v in new_row.items() if isinstance(v, str)}}
        appended = await self.append(http, dataset_id, [new_row, second])
        assert appended.status_code in (200, 204), appended.text
        assert (await self.append(http, dataset_id, [])).status_code in (200, 204)
        assert await self.all_rows(http, dataset_id) == [*expected, new_row, second]
        tail = await self.page(http, dataset_id, start_index=len(expected) - 1, limit=2)
        assert tail["data"] == [expected[-1], new_row]
        assert tail["has_more"] is True and tail["next_start_index"] == len(expected) + 1

    @pytest.mark.anyio
    async def test_append_checks_every_row_and_stores_none_on_error(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]], new_row: dict[str, Any]
    ) -> None:
        self.needs_appends()
        dataset_id = await self.registered(http, dataset_source)
        missing_column = next(iter(new_row))
        bad_batches = [
            (("rows[1].no_such_column",), [new_row, {**new_row, "no_such_column": 1}]),
            ((f"rows[0].{missing_column}",), [{k: v for k, v in new_row.items() if k != missing_column}]),
            (("rows[2]", "rows.2"), [new_row, new_row, "not an object"]),  # the request model may refuse it first
        ]
        for fields, rows in bad_batches:
            refused = await self.append(http, dataset_id, rows)
            assert refused.status_code == 422, refused.text
            assert any(field in refused.text for field in fields), refused.text
        assert await self.all_rows(http, dataset_id) == expected  # nothing of a refused batch was stored

    @pytest.mark.anyio
    async def test_appended_rows_are_kept_in_the_store(
        self,
        http: Any,
        run_config: dict[str, Any],
        dataset_source: dict[str, Any],
        expected: list[dict[str, Any]],
        new_row: dict[str, Any],
    ) -> None:
        """Another stack on the same stores (a restart, or a second server process) reads the appended rows, and
        appends of its own land after them."""
        self.needs_appends()
        dataset_id = await self.registered(http, dataset_source)
        assert (await self.append(http, dataset_id, [new_row])).status_code in (200, 204)
        other = {**new_row, **{k: f"other {k}" for k, v in new_row.items() if isinstance(v, str)}}
        async with stack_client(run_config, PluginManager(extra_plugins=list(self.extra_plugins))) as second:
            assert await self.all_rows(second, dataset_id) == [*expected, new_row]
            assert (await self.append(second, dataset_id, [other])).status_code in (200, 204)
        assert await self.all_rows(http, dataset_id) == [*expected, new_row, other]

    # -- unregister ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unregister_drops_the_dataset_and_its_appended_rows(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]], new_row: dict[str, Any]
    ) -> None:
        dataset_id = await self.registered(http, dataset_source)
        if self.appends_rows:
            assert (await self.append(http, dataset_id, [new_row])).status_code in (200, 204)
        deleted = await http.delete(f"/v1beta/datasets/{dataset_id}")
        assert deleted.status_code in (200, 204), deleted.text
        assert (await http.get(f"/v1beta/datasets/{dataset_id}")).status_code == 404
        assert (await http.get(f"/v1beta/datasetio/iterrows/{dataset_id}")).status_code == 404
        assert (await http.delete(f"/v1beta/datasets/{dataset_id}")).status_code == 404
        again = await self.register(http, dataset_source, dataset_id)
        assert again.status_code == 200, again.text
        assert await self.all_rows(http, dataset_id) == expected  # the old registration's rows are gone

    # -- the 0.2 paths and the SDK -------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_v1_alias_paths(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]], new_row: dict[str, Any]
    ) -> None:
        dataset_id = new_id("alias")
        body = {"dataset_id": dataset_id, "purpose": "eval/question-answer", "source": dataset_source}
        created = await http.post("/v1/datasets", json={**body, "provider_id": PROVIDER_ID})
        assert created.status_code == 200, created.text
        assert dataset_id in [d["identifier"] for d in (await http.get("/v1/datasets")).json()["data"]]
        page = await http.get(f"/v1/datasetio/iterrows/{dataset_id}", params={"limit": 2})
        assert page.status_code == 200, page.text
        assert page.json()["data"] == expected[:2]
        if self.appends_rows:
            appended = await http.post(f"/v1/datasetio/append-rows/{dataset_id}", json={"rows": [new_row]})
            assert appended.status_code in (200, 204), appended.text
            assert (await self.all_rows(http, dataset_id))[-1] == new_row
        assert (await http.delete(f"/v1/datasets/{dataset_id}")).status_code in (200, 204)

    @pytest.mark.anyio
    async def test_llama_stack_client(
        self, http: Any, dataset_source: dict[str, Any], expected: list[dict[str, Any]]
    ) -> None:
        sdk = pytest.importorskip("llama_stack_client")
        client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
        beta = getattr(client, "beta", None)
        datasets = beta.datasets if beta is not None and hasattr(beta, "datasets") else client.datasets
        dataset_id = new_id("sdk")
        registered = await datasets.register(
            purpose="eval/question-answer",
            source=dataset_source,
            dataset_id=dataset_id,
            metadata={"provider_id": PROVIDER_ID},
        )
        assert registered.identifier == dataset_id and registered.provider_id == PROVIDER_ID
        listed = await datasets.list()
        assert dataset_id in [d.identifier for d in listed]
        assert (await datasets.retrieve(dataset_id)).identifier == dataset_id
        page = await datasets.iterrows(dataset_id, start_index=1, limit=2)
        assert page.data == expected[1:3]
        assert page.has_more is (len(expected) > 3)
        await datasets.unregister(dataset_id)
        with pytest.raises(sdk.NotFoundError):
            await datasets.retrieve(dataset_id)
