"""inline::localfs (datasetio): the core's DatasetIO and resource-lifecycle kits (inline rows, a local JSONL file, a
CSV uploaded through the Files API, appended rows on PostgreSQL), every file format, the refusals (paths outside
``file_roots``, unreadable and malformed files, bad rows), restarts, concurrent appends from two stacks on one
store, a 100k-row CSV paged from one parse, and the choice between several datasetio providers.

The package's entry point is not installed in the shared development venv, so the plugin module is loaded
explicitly; the Files API comes from ``llama-stack-provider-localfs-files`` (installed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_stack_provider_localfs_datasets import plugin
from llama_stack_provider_localfs_datasets.formats import FormatError, format_of, parse
from llama_stack_provider_localfs_datasets.provider import LocalFSDatasetIO

from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.datasetio import ROWS, DatasetIOProviderTests
from llama_stack_core.testing.fixtures import create_postgres_database
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.lifecycle import ResourceLifecycleTests

PROVIDER_TYPE = "inline::localfs"
PURPOSE = "eval/question-answer"
#: the kit's rows as a CSV has them: typed columns (expected_answer "4" is the integer 4)
CSV_ROWS = [{"input_query": r["input_query"], "expected_answer": int(r["expected_answer"])} for r in ROWS]


def pyarrow() -> Any:
    return pytest.importorskip("pyarrow", reason="CSV and Parquet need pyarrow (a dependency of this package)")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    header = list(rows[0])
    lines = [delimiter.join(header)] + [
        delimiter.join("" if row[c] is None else str(row[c]) for c in header) for row in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def files_provider(directory: Path) -> dict[str, Any]:
    return {"provider_id": "files", "provider_type": PROVIDER_TYPE, "config": {"storage_dir": str(directory)}}


def local_access(*roots: Path) -> dict[str, Any]:
    return {"local_access": {"file_roots": [str(root) for root in roots]}}


# -- the plugin ----------------------------------------------------------------------------------------------------


def test_plugin_module_is_light_and_declares_the_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_localfs_datasets.plugin",
        {"llama_stack_provider_localfs_datasets.provider", "pyarrow", "orjson"},
        call=["register_datasetio_providers"],
    )
    [spec] = plugin.register_datasetio_providers()
    assert spec.api == Api.datasetio and spec.provider_type == PROVIDER_TYPE
    assert spec.optional_api_dependencies == (Api.files,) and spec.api_dependencies == ()
    assert PluginManager(extra_plugins=[plugin]).provider_spec(Api.datasetio, PROVIDER_TYPE) is not None


# -- the core's kits -----------------------------------------------------------------------------------------------


class LocalFSKit(DatasetIOProviderTests):
    """The kit with this provider (not collected itself: the classes below say which source)."""

    provider_type = PROVIDER_TYPE
    extra_plugins = [plugin]
    unreadable_source = {"type": "uri", "uri": "hf://datasets/acme/qa"}


class TestLocalFSRows(LocalFSKit):
    """Inline rows, with the provider's store on the registry's SQLite backend."""


class TestLocalFSJsonlFile(LocalFSKit):
    """A JSONL file inside ``file_roots``, by file:// URI."""

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls, workdir: Path) -> dict[str, Any]:
        return {"server": local_access(workdir)}

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_source(cls, workdir: Path) -> dict[str, Any]:
        return {"type": "uri", "uri": write_jsonl(workdir / "qa.jsonl", ROWS).as_uri()}


class TestLocalFSUploadedCsv(LocalFSKit):
    """A CSV uploaded through the Files API (inline::localfs files), by its ``file-`` id: typed columns."""

    expected_rows = CSV_ROWS

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path) -> dict[str, list[dict[str, Any]]]:
        pyarrow()
        return {"files": [files_provider(workdir / "files")]}

    @pytest.fixture(scope="class")
    @classmethod
    async def dataset_source(cls, http: httpx.AsyncClient, workdir: Path) -> dict[str, Any]:
        content = write_csv(workdir / "qa.csv", ROWS).read_bytes()
        uploaded = await http.post("/v1/files", files={"file": ("qa.csv", content)}, data={"purpose": "assistants"})
        assert uploaded.status_code == 200, uploaded.text
        return {"type": "uri", "uri": uploaded.json()["id"]}


@pytest.mark.postgres
class TestLocalFSRowsOnPostgres(LocalFSKit):
    """Appended rows in PostgreSQL: the kit's second stack reads and appends through the same database."""

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path, postgres_uri: str) -> dict[str, Any]:
        backend = {"type": "kv_postgres", "dsn": create_postgres_database(postgres_uri, "datasetio")}
        return {"persistence": {"backend": backend, "namespace": "datasetio"}}


class TestLocalFSDatasetLifecycle(ResourceLifecycleTests):
    api, provider_type, resource_type = "datasetio", PROVIDER_TYPE, "dataset"
    register_body = {"dataset_id": "lifecycle", "purpose": PURPOSE, "source": {"type": "rows", "rows": ROWS}}
    extra_plugins = [plugin]


# -- one stack per test, with local files --------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    return directory


def run_config(
    tmp_path: Path, roots: list[Path], *, files: bool = True, config: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    providers: dict[str, list[dict[str, Any]]] = {
        "datasetio": [{"provider_id": "localfs", "provider_type": PROVIDER_TYPE, "config": config or {}}]
    }
    if files:
        providers["files"] = [files_provider(tmp_path / "files")]
    return make_run_config(providers, tmp_path, server=local_access(*roots), **extra)


@pytest.fixture
async def http(tmp_path: Path, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with stack_client(run_config(tmp_path, [data_dir]), PluginManager(extra_plugins=[plugin])) as client:
        yield client


def provider_of(http: httpx.AsyncClient, provider_id: str = "localfs") -> LocalFSDatasetIO:
    return http.app.state.stack.providers["datasetio"][provider_id].impl  # type: ignore[attr-defined]


async def register(http: httpx.AsyncClient, uri: str, dataset_id: str = "d", **extra: Any) -> httpx.Response:
    body = {"dataset_id": dataset_id, "purpose": PURPOSE, "source": {"type": "uri", "uri": uri}, **extra}
    return await http.post("/v1beta/datasets", json=body)


async def rows_of(http: httpx.AsyncClient, dataset_id: str = "d", **params: Any) -> list[dict[str, Any]]:
    response = await http.get(f"/v1beta/datasetio/iterrows/{dataset_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- formats -------------------------------------------------------------------------------------------------------

QA = [
    {"question": "capital of France", "answer": "Paris", "score": 1.5, "ok": True},
    {"question": "2 + 2", "answer": "4", "score": 2.0, "ok": False},
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name, content",
    [
        ("qa.jsonl", "\n".join(json.dumps(r) for r in QA) + "\n\n"),
        ("qa.ndjson", "\ufeff" + "\n".join(json.dumps(r) for r in QA)),
        ("qa.json", json.dumps(QA)),
        ("rows.json", json.dumps({"rows": QA})),
        ("data.json", json.dumps({"data": QA, "version": 1})),
    ],
)
async def test_json_formats(http: httpx.AsyncClient, data_dir: Path, name: str, content: str) -> None:
    path = data_dir / name
    path.write_text(content)
    assert (await register(http, path.as_uri())).status_code == 200
    assert await rows_of(http) == QA


@pytest.mark.anyio
async def test_csv_and_tsv_have_typed_columns_and_dates_as_written(http: httpx.AsyncClient, data_dir: Path) -> None:
    pyarrow()
    (data_dir / "qa.csv").write_text(
        'question,answer,score,ok,asked\n"capital of France, please",Paris,1.5,true,2024-01-02T10:30:00\n'
        "2 + 2,4,2,false,2024-02-03\n"
    )
    assert (await register(http, str(data_dir / "qa.csv"))).status_code == 200  # a bare absolute path
    assert await rows_of(http) == [
        {
            "question": "capital of France, please",
            "answer": "Paris",
            "score": 1.5,
            "ok": True,
            "asked": "2024-01-02T10:30:00",
        },
        {"question": "2 + 2", "answer": "4", "score": 2.0, "ok": False, "asked": "2024-02-03"},
    ]
    write_csv(data_dir / "qa.tsv", [{"a": "x y", "b": 1}, {"a": "z", "b": None}], delimiter="\t")
    assert (await register(http, (data_dir / "qa.tsv").as_uri(), "tsv")).status_code == 200
    assert await rows_of(http, "tsv") == [{"a": "x y", "b": 1}, {"a": "z", "b": None}]


@pytest.mark.anyio
async def test_parquet_with_dates_decimals_and_nested_values(http: httpx.AsyncClient, data_dir: Path) -> None:
    pa = pyarrow()
    import datetime
    import decimal

    from pyarrow import parquet

    table = pa.table(
        {
            "question": ["a", "b"],
            "answer": [1, None],
            "when": pa.array([datetime.datetime(2024, 5, 6, 7, 8, 9), None], pa.timestamp("s")),
            "price": pa.array([decimal.Decimal("1.25"), decimal.Decimal("3.50")], pa.decimal128(5, 2)),
            "tags": [["x", "y"], []],
            "meta": [{"k": 1}, {"k": 2}],
        }
    )
    parquet.write_table(table, data_dir / "qa.parquet")
    assert (await register(http, (data_dir / "qa.parquet").as_uri())).status_code == 200
    assert await rows_of(http) == [
        {
            "question": "a",
            "answer": 1,
            "when": "2024-05-06T07:08:09",
            "price": "1.25",
            "tags": ["x", "y"],
            "meta": {"k": 1},
        },
        {"question": "b", "answer": None, "when": None, "price": "3.50", "tags": [], "meta": {"k": 2}},
    ]


@pytest.mark.anyio
async def test_metadata_format_overrides_the_extension(http: httpx.AsyncClient, data_dir: Path) -> None:
    write_jsonl(data_dir / "rows.txt", QA)
    uri = (data_dir / "rows.txt").as_uri()
    unknown = error_of(await register(http, uri), 400)
    assert "cannot tell the format of 'rows.txt'" in unknown["message"] and "metadata.format" in unknown["message"]
    bad = error_of(await register(http, uri, metadata={"format": "xlsx"}), 400)
    assert bad["param"] == "metadata.format" and "xlsx" in bad["message"]
    assert (await register(http, uri, metadata={"format": "jsonl"})).status_code == 200
    assert await rows_of(http) == QA


@pytest.mark.anyio
async def test_uploaded_files_by_id_and_files_uri(http: httpx.AsyncClient, data_dir: Path) -> None:
    pa = pyarrow()
    from pyarrow import parquet

    sink = pa.BufferOutputStream()
    parquet.write_table(pa.Table.from_pylist(QA), sink)
    uploads = {"qa.parquet": sink.getvalue().to_pybytes(), "qa.jsonl": "\n".join(json.dumps(r) for r in QA).encode()}
    for index, (filename, content) in enumerate(uploads.items()):
        uploaded = await http.post("/v1/files", files={"file": (filename, content)}, data={"purpose": "assistants"})
        file_id = uploaded.json()["id"]
        uri = file_id if index == 0 else f"files://{file_id}"
        assert (await register(http, uri, f"up-{index}")).status_code == 200
        assert await rows_of(http, f"up-{index}") == QA
    missing = error_of(await register(http, "file-doesnotexist"), 400)
    assert missing["param"] == "source.uri" and "file-doesnotexist" in missing["message"]


@pytest.mark.anyio
async def test_csv_without_pyarrow_is_501_saying_what_to_install(
    http: httpx.AsyncClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    write_csv(data_dir / "qa.csv", ROWS)
    error = error_of(await register(http, (data_dir / "qa.csv").as_uri()), 501)
    assert "pip install pyarrow" in error["message"]
    write_jsonl(data_dir / "qa.jsonl", ROWS)
    assert (await register(http, (data_dir / "qa.jsonl").as_uri())).status_code == 200  # JSON needs nothing


def test_formats_by_extension_and_their_errors() -> None:
    assert [format_of(n) for n in ("a.CSV", "b.tsv", "c.jsonl", "d.ndjson", "e.json", "f.parquet", "g.pq")] == [
        "csv",
        "tsv",
        "jsonl",
        "jsonl",
        "json",
        "parquet",
        "parquet",
    ]
    assert format_of("x.bin", "JSONL") == "jsonl"
    with pytest.raises(FormatError, match="metadata.format"):
        format_of("x.bin")
    cases = {
        ("jsonl", b'{"a": 1}\n\n{"a": 2\n'): "line 3: invalid JSON",
        ("jsonl", b'{"a": 1}\n[1, 2]\n'): "line 2: a JSONL row must be a JSON object, not an array",
        ("json", b'[{"a": 1},\n {"a": }]'): "invalid JSON at line 2",
        ("json", b'{"a": 1}'): 'an object with a "rows" or "data" array',
        ("json", b'"text"'): "not a string",
        ("json", b'[{"a": 1}, 3]'): "row 1: a row must be a JSON object, not a number",
    }
    for (fmt, content), message in cases.items():
        with pytest.raises(FormatError, match=message.replace("[", r"\[")):
            parse(content, fmt)
    pyarrow()
    with pytest.raises(FormatError, match="line 4: Expected 2 columns, got 3"):
        parse(b"a,b\n1,2\n3,4\n5,6,7\n", "csv")
    with pytest.raises(FormatError, match="more than once: a"):
        parse(b"a,a,b\n1,2,3\n", "csv")
    with pytest.raises(FormatError, match="not a readable Parquet file"):
        parse(b"PAR1 this is not parquet", "parquet")
    header_only = parse(b"a,b\n", "csv")
    assert header_only.rows == [] and header_only.columns == ["a", "b"]


# -- refusals at registration ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_paths_outside_file_roots_are_400(http: httpx.AsyncClient, data_dir: Path, tmp_path: Path) -> None:
    outside = write_jsonl(tmp_path / "outside.jsonl", QA)
    (data_dir / "link.jsonl").symlink_to(outside)
    for uri in (
        "file:///etc/passwd",
        "/etc/passwd",
        f"file://{data_dir}/../outside.jsonl",
        f"{data_dir}/../../{tmp_path.name}/outside.jsonl",
        (data_dir / "link.jsonl").as_uri(),  # a symlink out of the root
        "file://other-host/data/x.jsonl",
    ):
        error = error_of(await register(http, uri), 400)
        assert "source.uri" in error["message"], uri
    assert (await http.get("/v1beta/datasets")).json()["data"] == []


@pytest.mark.anyio
async def test_unreadable_sources_are_400_naming_source_uri(http: httpx.AsyncClient, data_dir: Path) -> None:
    (data_dir / "broken.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": \n')
    (data_dir / "list.json").write_text("[1, 2]")
    (data_dir / "dir.jsonl").mkdir()
    expectations = {
        (data_dir / "missing.jsonl").as_uri(): "does not exist",
        (data_dir / "broken.jsonl").as_uri(): "line 3",
        (data_dir / "list.json").as_uri(): "row 0: a row must be a JSON object",
        (data_dir / "dir.jsonl").as_uri(): "cannot be read",
        "hf://datasets/acme/qa": "inline::localfs reads file:// URIs",
        "https://example.com/qa.csv": "inline::localfs reads file:// URIs",
    }
    for uri, message in expectations.items():
        error = error_of(await register(http, uri), 400)
        assert message in error["message"], (uri, error)
        assert error["param"] == "source.uri", (uri, error)
    columns = error_of(
        await http.post(
            "/v1beta/datasets",
            json={"purpose": PURPOSE, "source": {"type": "rows", "rows": []}, "metadata": {"columns": "a"}},
        ),
        400,
    )
    assert columns["param"] == "metadata.columns"
    assert (await http.get("/v1beta/datasets")).json()["data"] == []


@pytest.mark.anyio
async def test_files_over_max_source_bytes_are_400(tmp_path: Path, data_dir: Path) -> None:
    write_jsonl(data_dir / "big.jsonl", QA * 10)
    config = run_config(tmp_path, [data_dir], config={"max_source_bytes": 100})
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        error = error_of(await register(http, (data_dir / "big.jsonl").as_uri()), 400)
        assert "max_source_bytes" in error["message"]


@pytest.mark.anyio
async def test_file_ids_without_a_files_api_are_400(tmp_path: Path, data_dir: Path) -> None:
    config = run_config(tmp_path, [data_dir], files=False)
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        error = error_of(await register(http, "file-0123456789abcdef"), 400)
        assert "providers.files" in error["message"]


# -- reading later: files change, vanish, or leave the roots ---------------------------------------------------------


@pytest.mark.anyio
async def test_a_changed_file_is_read_again_and_a_removed_one_is_404(http: httpx.AsyncClient, data_dir: Path) -> None:
    path = write_jsonl(data_dir / "qa.jsonl", QA)
    assert (await register(http, path.as_uri())).status_code == 200
    provider = provider_of(http)
    assert await rows_of(http) == QA
    loads = provider.cache.loads
    assert await rows_of(http, start_index=1) == QA[1:]
    assert provider.cache.loads == loads  # paging does not parse again
    write_jsonl(path, [*QA, {"question": "new", "answer": "row", "score": 0, "ok": True}])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert len(await rows_of(http)) == 3
    assert len(provider.cache._entries) == 1  # the old version of the file was dropped
    path.unlink()
    gone = error_of(await http.get("/v1beta/datasetio/iterrows/d"), 404)
    assert "does not exist" in gone["message"]


@pytest.mark.anyio
async def test_reads_check_file_roots_again(tmp_path: Path, data_dir: Path) -> None:
    """A dataset registered under one server's roots is not read by a server whose roots exclude it."""
    path = write_jsonl(data_dir / "qa.jsonl", QA)
    async with stack_client(run_config(tmp_path, [data_dir]), PluginManager(extra_plugins=[plugin])) as http:
        assert (await register(http, path.as_uri())).status_code == 200
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with stack_client(run_config(tmp_path, [elsewhere]), PluginManager(extra_plugins=[plugin])) as http:
        error = error_of(await http.get("/v1beta/datasetio/iterrows/d"), 400)
        assert "outside the allowed directories" in error["message"]


# -- appended rows -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_appends_persist_across_restarts_and_never_touch_the_file(tmp_path: Path, data_dir: Path) -> None:
    path = write_jsonl(data_dir / "qa.jsonl", QA)
    before = path.read_bytes()
    added = [{"question": "q3", "answer": "a3", "score": 3.0, "ok": True}]
    config = run_config(tmp_path, [data_dir])
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        assert (await register(http, path.as_uri())).status_code == 200
        appended = await http.post("/v1beta/datasetio/append-rows/d", json={"rows": added})
        assert appended.status_code == 200, appended.text
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        assert await rows_of(http) == [*QA, *added]
        assert provider_of(http).cache.loads == 1  # the restart loaded the dataset's record without parsing
        more = await http.post("/v1beta/datasetio/append-rows/d", json={"rows": added})
        assert more.status_code == 200
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        assert await rows_of(http) == [*QA, *added, *added]
    assert path.read_bytes() == before


@pytest.mark.anyio
async def test_columns_from_metadata_and_open_datasets(http: httpx.AsyncClient) -> None:
    async def create(dataset_id: str, rows: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> None:
        body = {"dataset_id": dataset_id, "purpose": PURPOSE, "source": {"type": "rows", "rows": rows}}
        response = await http.post("/v1beta/datasets", json={**body, "metadata": metadata or {}})
        assert response.status_code == 200, response.text

    async def append(dataset_id: str, rows: list[Any]) -> httpx.Response:
        return await http.post(f"/v1beta/datasetio/append-rows/{dataset_id}", json={"rows": rows})

    await create("declared", [], {"columns": ["a", "b"]})
    assert error_of(await append("declared", [{"a": 1}]), 422)["param"] == "rows[0].b"
    assert error_of(await append("declared", [{"a": 1, "b": 2, "c": 3}]), 422)["param"] == "rows[0].c"
    assert (await append("declared", [{"a": 1, "b": None}])).status_code == 200
    # columns every source row has are required; the others are optional
    await create("mixed", [{"a": 1, "b": 2}, {"a": 3}])
    assert (await append("mixed", [{"a": 5}, {"a": 6, "b": 7}])).status_code == 200
    assert error_of(await append("mixed", [{"b": 1}]), 422)["param"] == "rows[0].a"
    # no rows and no declared columns: any object is a row
    await create("open", [])
    assert (await append("open", [{"x": 1}, {"y": [1, 2]}])).status_code == 200
    assert await rows_of(http, "open") == [{"x": 1}, {"y": [1, 2]}]
    too_many = error_of(await append("open", [{}] * 10_001), 422)
    assert too_many["param"] == "rows" and "max_append_rows" in too_many["message"]


@pytest.mark.anyio
async def test_unregister_deletes_the_appended_rows_from_the_store(http: httpx.AsyncClient) -> None:
    body = {"dataset_id": "gone", "purpose": PURPOSE, "source": {"type": "rows", "rows": ROWS}}
    assert (await http.post("/v1beta/datasets", json=body)).status_code == 200
    for _ in range(3):
        assert (await http.post("/v1beta/datasetio/append-rows/gone", json={"rows": [ROWS[0]]})).status_code == 200
    store = provider_of(http)._kv
    assert len(await store.items("rows:")) == 3 and len(await store.items("dataset:")) == 1
    assert (await http.delete("/v1beta/datasets/gone")).status_code == 200
    assert await store.items("rows:") == [] and await store.items("dataset:") == []


@pytest.mark.anyio
async def test_a_failing_store_is_503_not_500(http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"dataset_id": "d", "purpose": PURPOSE, "source": {"type": "rows", "rows": ROWS}}
    assert (await http.post("/v1beta/datasets", json=body)).status_code == 200
    store = provider_of(http)._kv

    async def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "get", locked)
    for response in (
        await http.get("/v1beta/datasetio/iterrows/d"),
        await http.post("/v1beta/datasetio/append-rows/d", json={"rows": [ROWS[0]]}),
    ):
        assert "datasetio store is unavailable" in error_of(response, 503)["message"]
    health = (await http.get("/v1/providers/localfs")).json()
    assert health["health"]["status"] == "Error"
    monkeypatch.undo()
    assert await rows_of(http) == ROWS


async def concurrent_appends(config: dict[str, Any], per_stack: int) -> list[dict[str, Any]]:
    """Two stacks on one store append ``per_stack`` one-row batches each, all at once; returns the rows read."""
    body = {"dataset_id": "shared", "purpose": PURPOSE, "source": {"type": "rows", "rows": [{"n": -1, "by": "x"}]}}
    async with (
        stack_client(config, PluginManager(extra_plugins=[plugin])) as first,
        stack_client(config, PluginManager(extra_plugins=[plugin])) as second,
    ):
        assert (await first.post("/v1beta/datasets", json=body)).status_code == 200

        async def append(client: httpx.AsyncClient, name: str, n: int) -> None:
            row = {"n": n, "by": name}
            response = await client.post("/v1beta/datasetio/append-rows/shared", json={"rows": [row]})
            assert response.status_code == 200, response.text

        await asyncio.gather(
            *(append(first, "first", n) for n in range(per_stack)),
            *(append(second, "second", n) for n in range(per_stack)),
        )
        rows = await rows_of(second, "shared")
        assert await rows_of(first, "shared") == rows
        return rows


def assert_no_lost_rows(rows: list[dict[str, Any]], per_stack: int) -> None:
    assert rows[0] == {"n": -1, "by": "x"}
    appended = rows[1:]
    assert len(appended) == 2 * per_stack
    for name in ("first", "second"):
        assert sorted(r["n"] for r in appended if r["by"] == name) == list(range(per_stack))


@pytest.mark.anyio
async def test_two_stacks_appending_at_once_lose_no_rows(tmp_path: Path, data_dir: Path) -> None:
    per_stack = 15
    assert_no_lost_rows(await concurrent_appends(run_config(tmp_path, [data_dir]), per_stack), per_stack)


@pytest.mark.anyio
@pytest.mark.postgres
async def test_two_stacks_appending_at_once_on_postgres_lose_no_rows(
    tmp_path: Path, data_dir: Path, postgres_dsn: str
) -> None:
    per_stack = 15
    persistence = {"backend": {"type": "kv_postgres", "dsn": postgres_dsn}, "namespace": "datasetio"}
    config = run_config(tmp_path, [data_dir], config={"persistence": persistence})
    assert_no_lost_rows(await concurrent_appends(config, per_stack), per_stack)


# -- a big file ------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_100k_row_csv_is_parsed_once_and_paged(http: httpx.AsyncClient, data_dir: Path) -> None:
    pyarrow()
    total, page_size = 100_000, 25_000
    lines = ["id,question,answer"] + [f"{i},question {i},{i * 2}" for i in range(total)]
    (data_dir / "big.csv").write_text("\n".join(lines) + "\n")
    assert (await register(http, (data_dir / "big.csv").as_uri(), "big")).status_code == 200
    provider = provider_of(http)
    count, start, pages = 0, 0, 0
    while start is not None:
        response = await http.get("/v1beta/datasetio/iterrows/big", params={"start_index": start, "limit": page_size})
        page = response.json()
        count += len(page["data"])
        pages += 1
        start = page["next_start_index"]
    assert count == total and pages == total // page_size
    assert page["data"][-1] == {"id": total - 1, "question": f"question {total - 1}", "answer": 2 * (total - 1)}
    assert provider.cache.loads == 1


# -- several datasetio providers -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_provider_is_picked_by_source(tmp_path: Path, data_dir: Path) -> None:
    """With two datasetio providers and no provider_id, a source goes to the first that reads it; a source neither
    reads (hf://, or a file id with no Files API) is a 400 saying so."""
    entries = [
        {
            "provider_id": name,
            "provider_type": PROVIDER_TYPE,
            "config": {"persistence": {"backend": "default", "namespace": name}},
        }
        for name in ("first", "second")
    ]
    config = make_run_config({"datasetio": entries}, tmp_path, server=local_access(data_dir))
    path = write_jsonl(data_dir / "qa.jsonl", QA)
    async with stack_client(config, PluginManager(extra_plugins=[plugin])) as http:
        for uri in (path.as_uri(), str(path)):
            created = await http.post(
                "/v1beta/datasets", json={"purpose": PURPOSE, "source": {"type": "uri", "uri": uri}}
            )
            assert created.status_code == 200 and created.json()["provider_id"] == "first"
        rows = await http.post("/v1beta/datasets", json={"purpose": PURPOSE, "source": {"type": "rows", "rows": QA}})
        assert rows.json()["provider_id"] == "first"
        named = await http.post(
            "/v1beta/datasets",
            json={"purpose": PURPOSE, "source": {"type": "rows", "rows": QA}, "provider_id": "second"},
        )
        assert named.json()["provider_id"] == "second"
        assert await rows_of(http, named.json()["identifier"]) == QA
        for uri in ("hf://datasets/acme/qa", "huggingface://acme/qa", "file-0123456789abcdef"):
            refused = error_of(await register(http, uri), 400)
            assert f"no datasetio provider here reads '{uri}'" in refused["message"]
            assert refused["param"] == "provider_id"
