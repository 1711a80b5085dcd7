"""remote::huggingface (datasetio) with the real ``datasets`` library, never the network: the core's DatasetIO kit on
a local dataset directory (``local_roots``), on the ``datasets`` cache an online load leaves behind, and on a Hub
cache snapshot (what ``hf download`` leaves behind); every local format, configs and data dirs, paging a large split
from Arrow, the 400s (bad URIs, nothing cached while offline, missing splits and configs), the read-only append,
restarts, HF_HUB_OFFLINE honoured, and the choice between this provider and inline::localfs by source.

Every test runs with sockets to the outside refused and recorded (:class:`NoNetwork`): a recorded attempt fails the
test. The test data is ``tests/data/qa`` (configs ``default``: train 7 rows, test 3 rows; ``hard``: test 2 rows).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

datasets = pytest.importorskip("datasets", reason="remote::huggingface needs the datasets library")

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from llama_stack_provider_huggingface_datasets import loading, plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.datasetio import ROWS, DatasetIOProviderTests
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.lifecycle import ResourceLifecycleTests

PROVIDER_TYPE = "remote::huggingface"
PURPOSE = "eval/question-answer"
DATA = Path(__file__).parent / "data" / "qa"


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


TRAIN = jsonl_rows(DATA / "default" / "train.jsonl")
TEST = jsonl_rows(DATA / "default" / "test.jsonl")
HARD = jsonl_rows(DATA / "hard" / "test.jsonl")
assert TRAIN == ROWS  # the kit's rows are the default config's train split


# -- no network ----------------------------------------------------------------------------------------------------


class NoNetwork:
    """Refuses (and records) every connection to an internet address and every name lookup while active."""

    def __init__(self) -> None:
        self.attempts: list[Any] = []

    def refuse(self, what: Any) -> OSError:
        self.attempts.append(what)
        return OSError(f"network access in a test: {what}")

    @staticmethod
    def internet(sock: socket.socket) -> bool:
        return sock.family in (socket.AF_INET, socket.AF_INET6)

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            if self.internet(sock):
                raise self.refuse(address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            if self.internet(sock):
                raise self.refuse(address)
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            raise self.refuse(host)

        monkeypatch.setattr(socket.socket, "connect", guarded_connect)
        monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[NoNetwork]:
    guard = NoNetwork()
    guard.patch(monkeypatch)
    yield guard
    assert guard.attempts == [], f"the test reached for the network: {guard.attempts}"


# -- building local data, the datasets cache and the Hub cache ---------------------------------------------------


def provider_config(root: Path, **extra: Any) -> dict[str, Any]:
    """Offline, with both caches under ``root`` (nothing written to the home directory)."""
    return {"offline": True, "cache_dir": str(root / "datasets-cache"), "hub_cache_dir": str(root / "hub"), **extra}


def copy_dataset(destination: Path, name: str = "qa") -> Path:
    """The test dataset directory, copied to ``destination/name`` (the directory name is the dataset's name)."""
    return Path(shutil.copytree(DATA, destination / name))


def build_datasets_cache(cache_dir: Path, repo_id: str, *configs: str) -> None:
    """What ``datasets.load_dataset(repo_id, config)`` leaves in the ``datasets`` cache on a connected machine:
    the prepared Arrow files and dataset_info.json under ``<org>___<name>/<config>/<version>/<hash>/``. Prepared
    here from the local copy of the data by the library's own builder, then filed under the repository's name."""
    org, name = repo_id.split("/")
    work = cache_dir.parent / "cache-build"
    source = copy_dataset(work, name)
    for config in configs:
        builder = datasets.load_dataset_builder(str(source), name=config, cache_dir=str(work / "cache"))
        builder.download_and_prepare()
        built = Path(builder.cache_dir)
        relative = built.relative_to(work / "cache" / name)
        shutil.copytree(built, cache_dir / f"{org}___{name}" / relative)
    shutil.rmtree(work)


def build_hub_snapshot(hub_dir: Path, repo_id: str, branch: str = "main") -> str:
    """What ``hf download --repo-type dataset repo_id`` leaves in the Hub cache: the files as content-addressed
    blobs, a snapshot directory of symlinks to them named by the commit, and ``refs/<branch>`` naming the commit."""
    repo = hub_dir / f"datasets--{repo_id.replace('/', '--')}"
    files = sorted(p for p in DATA.rglob("*") if p.is_file())
    commit = hashlib.sha1(b"".join(p.read_bytes() for p in files)).hexdigest()
    for path in files:
        content = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = repo / "snapshots" / commit / path.relative_to(DATA)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / branch).write_text(commit)
    return commit


def write_parquet(path: Path, rows: list[dict[str, Any]] | pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows), path)
    return path


def uri_source(uri: str) -> dict[str, Any]:
    return {"type": "uri", "uri": uri}


# -- the core's kits -----------------------------------------------------------------------------------------------


class HuggingFaceKit(DatasetIOProviderTests):
    """The DatasetIO kit with this provider, read-only, the network refused for the class's whole stack."""

    provider_type = PROVIDER_TYPE
    extra_plugins = [plugin]
    appends_rows = False
    unreadable_source = uri_source("hf://datasets/acme/not-cached?split=train")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def no_network_for_the_stack(cls) -> Iterator[None]:
        guard = NoNetwork()
        with pytest.MonkeyPatch.context() as monkeypatch:
            guard.patch(monkeypatch)
            yield
        assert guard.attempts == [], f"the stack reached for the network: {guard.attempts}"


class TestHuggingFaceLocalRoot(HuggingFaceKit):
    """``hf://datasets/acme/qa`` mapped to a local dataset directory (README configs, JSONL files)."""

    source = uri_source("hf://datasets/acme/qa?split=train")

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        return provider_config(workdir, local_roots={"acme/qa": str(DATA)})


class TestHuggingFaceDatasetsCache(HuggingFaceKit):
    """Upstream's ``huggingface://datasets/acme/qa`` read offline from the ``datasets`` cache of an earlier load."""

    source = uri_source("huggingface://datasets/acme/qa?split=train")

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        build_datasets_cache(workdir / "datasets-cache", "acme/qa", "default")
        return provider_config(workdir)


class TestHuggingFaceHubSnapshot(HuggingFaceKit):
    """``hf://datasets/acme/qa`` (no split: ``train``) read offline from a Hub cache snapshot."""

    source = uri_source("hf://datasets/acme/qa")

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        build_hub_snapshot(workdir / "hub", "acme/qa")
        return provider_config(workdir)


class TestHuggingFaceDatasetLifecycle(ResourceLifecycleTests):
    api, provider_type, resource_type = "datasetio", PROVIDER_TYPE, "dataset"
    register_body = {"dataset_id": "lifecycle", "purpose": PURPOSE, "source": uri_source("hf://datasets/acme/qa")}
    extra_plugins = [plugin]

    @pytest.fixture
    def run_config(self, tmp_path: Path) -> dict[str, Any]:
        config = provider_config(tmp_path, local_roots={"acme/qa": str(DATA)})
        entry = {"provider_id": "under-test", "provider_type": PROVIDER_TYPE, "config": config}
        return make_run_config({"datasetio": [entry]}, tmp_path)


# -- one stack per test ------------------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run_config(directory: Path, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    entry = {"provider_id": "hf", "provider_type": PROVIDER_TYPE, "config": config}
    return make_run_config({"datasetio": [entry]}, directory, **extra)


def stack(config: dict[str, Any]) -> Any:
    return stack_client(config, PluginManager(extra_plugins=[plugin]))


@pytest.fixture
async def local_stack(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """``acme/qa`` mapped to the test data directory."""
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots={"acme/qa": str(DATA)}))) as http:
        yield http


async def register(http: httpx.AsyncClient, uri: str, dataset_id: str = "qa", **body: Any) -> httpx.Response:
    return await http.post(
        "/v1beta/datasets", json={"dataset_id": dataset_id, "purpose": PURPOSE, "source": uri_source(uri), **body}
    )


async def rows_of(http: httpx.AsyncClient, dataset_id: str, **params: Any) -> list[dict[str, Any]]:
    page = await http.get(f"/v1beta/datasetio/iterrows/{dataset_id}", params=params)
    assert page.status_code == 200, page.text
    return page.json()["data"]


def provider_of(http: httpx.AsyncClient) -> Any:
    return http.app.state.stack.providers["datasetio"]["hf"].impl


def error_of(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]


@pytest.mark.anyio
async def test_configs_splits_and_data_dirs_of_a_dataset_directory(local_stack: httpx.AsyncClient) -> None:
    http = local_stack
    for dataset_id, uri, expected in (
        ("train", "hf://datasets/acme/qa", TRAIN),
        ("test", "hf://datasets/acme/qa?split=test", TEST),
        ("hard", "hf://datasets/acme/qa?name=hard&split=test", HARD),
        ("hard-only-split", "hf://datasets/acme/qa?name=hard", HARD),  # no train: the only split
        ("dir", "hf://datasets/acme/qa?data_dir=hard", HARD),  # a data dir's files as one train split
    ):
        assert (await register(http, uri, dataset_id)).status_code == 200, uri
        assert await rows_of(http, dataset_id) == expected, uri
    older = await register(http, "dataset:acme/qa", "older", metadata={"path": "acme/qa", "split": "test"})
    assert older.status_code == 200, older.text  # upstream's metadata.path convention, any URI
    assert await rows_of(http, "older") == TEST


@pytest.mark.anyio
async def test_every_local_format(tmp_path: Path) -> None:
    """Parquet (typed columns), CSV, TSV, JSON and JSONL, as a directory or as one file."""
    typed = [{"input_query": r["input_query"], "expected_answer": int(r["expected_answer"])} for r in TRAIN]
    header = "input_query,expected_answer\n"
    csv = header + "".join(f'"{r["input_query"]}",{r["expected_answer"]}\n' for r in TRAIN)
    files = {
        "parquet-dir": (write_parquet(tmp_path / "pq" / "train-00000.parquet", typed).parent, typed),
        "csv-file": (tmp_path / "qa.csv", typed),
        "tsv-file": (tmp_path / "qa.tsv", typed),
        "json-file": (tmp_path / "qa.json", TRAIN),
        "jsonl-file": (tmp_path / "qa.jsonl", TRAIN),
        "parquet-file": (write_parquet(tmp_path / "one.parquet", typed), typed),
    }
    (tmp_path / "qa.csv").write_text(csv)
    (tmp_path / "qa.tsv").write_text(csv.replace(",", "\t"))
    (tmp_path / "qa.json").write_text(json.dumps(TRAIN))
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN))
    roots = {f"acme/{name}": str(path) for name, (path, _) in files.items()}
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots=roots))) as http:
        for name, (_, expected) in files.items():
            assert (await register(http, f"hf://datasets/acme/{name}", name)).status_code == 200, name
            assert await rows_of(http, name, start_index=2, limit=3) == expected[2:5], name


@pytest.mark.anyio
async def test_binary_and_nested_columns_are_json(tmp_path: Path) -> None:
    table = pa.table(
        {
            "image": pa.array([{"bytes": b"\x89PNG\x00\xff", "path": "a.png"}]),
            "tags": pa.array([["x", "y"]]),
            "score": pa.array([0.5]),
            "when": pa.array([datetime(2024, 1, 2, 3, 4, 5)]),
        }
    )
    root = write_parquet(tmp_path / "bin" / "train.parquet", table).parent
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots={"acme/bin": str(root)}))) as http:
        assert (await register(http, "hf://datasets/acme/bin")).status_code == 200
        [row] = await rows_of(http, "qa")
    assert row == {
        "image": {"bytes": "iVBORwD/", "path": "a.png"},  # base64 of the bytes
        "tags": ["x", "y"],
        "score": 0.5,
        "when": "2024-01-02T03:04:05",
    }


@pytest.mark.anyio
async def test_a_large_split_is_paged_from_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100k rows: loaded once, on a worker thread; each page turns only its own rows into Python objects; a request
    for every row gets ``max_page_rows`` of them and the index of the next page."""
    n = 100_000
    table = pa.table({"input_query": [f"q{i}" for i in range(n)], "expected_answer": list(range(n))})
    root = write_parquet(tmp_path / "big" / "train.parquet", table).parent
    loads: list[str] = []
    sliced: list[int] = []
    load_splits, read_rows = loading.load_splits, loading.read_rows

    def spy_load(*args: Any) -> Any:
        loads.append(threading.current_thread().name)
        return load_splits(*args)

    def spy_read(split: Any, start: int, end: int) -> Any:
        rows = read_rows(split, start, end)
        sliced.append(len(rows))
        return rows

    monkeypatch.setattr(loading, "load_splits", spy_load)
    monkeypatch.setattr(loading, "read_rows", spy_read)
    config = provider_config(tmp_path, local_roots={"acme/big": str(root)}, max_page_rows=5_000)
    async with stack(run_config(tmp_path, config)) as http:
        assert (await register(http, "hf://datasets/acme/big", "big")).status_code == 200
        middle = await http.get("/v1beta/datasetio/iterrows/big", params={"start_index": 54_321, "limit": 3})
        assert middle.json() == {
            "data": [{"input_query": f"q{i}", "expected_answer": i} for i in (54_321, 54_322, 54_323)],
            "has_more": True,
            "url": None,
            "next_start_index": 54_324,
        }
        everything = (await http.get("/v1beta/datasetio/iterrows/big", params={"limit": -1})).json()
        assert len(everything["data"]) == 5_000 and everything["next_start_index"] == 5_000
        last = (await http.get("/v1beta/datasetio/iterrows/big", params={"start_index": n - 2})).json()
        assert last["data"][-1] == {"input_query": f"q{n - 1}", "expected_answer": n - 1}
        assert last["has_more"] is False and last["next_start_index"] is None
        # a second dataset on another split of the same repository shares the load
        assert (await register(http, "hf://datasets/acme/big?split=train", "big-again")).status_code == 200
        assert provider_of(http).loads == 1
    assert len(loads) == 1 and loads[0] != threading.main_thread().name
    assert sliced == [3, 5_000, 2]


@pytest.mark.anyio
async def test_concurrent_first_reads_load_once(tmp_path: Path) -> None:
    """Datasets registered at once on one repository (here through the provider object, as the stack's start-up
    does for stored ones) wait for one load; the loaded splits are dropped with the last dataset naming them."""
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots={"acme/qa": str(DATA)}))) as http:
        provider = provider_of(http)
        from llama_stack_core.apis.resources import Dataset, URIDataSource

        def dataset(i: int) -> Dataset:
            uri = f"hf://datasets/acme/qa?split={'train' if i % 2 else 'test'}"
            return Dataset(
                identifier=f"d{i}",
                provider_id="hf",
                provider_resource_id=f"d{i}",
                purpose=PURPOSE,
                source=URIDataSource(uri=uri),
            )

        await asyncio.gather(*(provider.register_dataset(dataset(i)) for i in range(8)))
        assert provider.loads == 1 and len(provider._splits) == 1
        for i in range(7):
            await provider.unregister_dataset(dataset(i))
        assert len(provider._splits) == 1
        await provider.unregister_dataset(dataset(7))
        assert provider._splits == {}


@pytest.mark.anyio
async def test_refusals(tmp_path: Path) -> None:
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots={"acme/qa": str(DATA)}))) as http:
        missing = error_of(await register(http, "hf://datasets/acme/elsewhere?split=train", "missing"))
        for words in ("'acme/elsewhere' is not in the local caches", "offline", "load_dataset('acme/elsewhere')"):
            assert words in missing
        assert "hf download --repo-type dataset acme/elsewhere" in missing and "local_roots" in missing
        no_split = error_of(await register(http, "hf://datasets/acme/qa?split=validation"))
        assert "has no split 'validation'; its splits: train, test" in no_split
        no_config = error_of(await register(http, "hf://datasets/acme/qa?name=easy"))
        assert "easy" in no_config and "hard" in no_config  # the configs there are
        assert "not a valid name" in error_of(await register(http, "hf://datasets/acme/q!a"))
        assert "not inline rows" in error_of(
            await http.post("/v1beta/datasets", json={"purpose": PURPOSE, "source": {"type": "rows", "rows": ROWS}})
        )
        revision = error_of(await register(http, "hf://datasets/acme/qa@v2"))
        assert "local directory (local_roots), which has no revisions" in revision
        listed = (await http.get("/v1beta/datasets")).json()["data"]
        assert listed == []  # nothing refused was stored
        assert (await register(http, "hf://datasets/acme/qa")).status_code == 200
        refused = await http.post("/v1beta/datasetio/append-rows/qa", json={"rows": [TRAIN[0]]})
        assert "only reads: rows cannot be appended" in error_of(refused)
        assert await rows_of(http, "qa") == TRAIN
        assert (await http.post("/v1beta/datasetio/append-rows/nope", json={"rows": []})).status_code == 404


@pytest.mark.anyio
async def test_local_roots_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "train.jsonl").write_text('{"a": 1}\n{not json\n')
    (tmp_path / "no-train").mkdir()
    for split in ("test", "validation"):
        (tmp_path / "no-train" / f"{split}.jsonl").write_text('{"a": 1}\n')
    roots = {
        "acme/gone": str(tmp_path / "gone"),
        "acme/empty": str(tmp_path / "empty"),
        "acme/notes": str(tmp_path / "notes.txt"),
        "acme/broken": str(tmp_path / "broken"),
        "acme/no-train": str(tmp_path / "no-train"),
    }
    async with stack(run_config(tmp_path, provider_config(tmp_path, local_roots=roots))) as http:
        for name, words in (
            ("gone", "which does not exist"),
            ("empty", "no data files"),
            ("notes", "files read: .parquet"),
            ("broken", "cannot be loaded"),
            ("no-train", "has several splits (validation, test): name one with ?split="),
        ):
            message = error_of(await register(http, f"hf://datasets/acme/{name}", name))
            assert f"dataset 'acme/{name}'" in message and words in message, message
        assert (await register(http, "hf://datasets/acme/no-train?split=validation")).status_code == 200


@pytest.mark.anyio
async def test_datasets_cache_with_several_configs(tmp_path: Path) -> None:
    """Offline, the ``datasets`` cache holding two configs of one dataset: a config must be named (as the library
    itself asks), and each named one is read; a config not cached is a 400 listing the cached ones."""
    build_datasets_cache(tmp_path / "datasets-cache", "acme/qa", "default", "hard")
    async with stack(run_config(tmp_path, provider_config(tmp_path))) as http:
        ambiguous = error_of(await register(http, "hf://datasets/acme/qa"))
        assert "multiple 'acme/qa' configurations in the cache" in ambiguous
        assert (await register(http, "hf://datasets/acme/qa?name=hard", "hard")).status_code == 200
        assert await rows_of(http, "hard") == HARD
        assert (await register(http, "hf://datasets/acme/qa?name=default&split=test", "test")).status_code == 200
        assert await rows_of(http, "test") == TEST
        other = error_of(await register(http, "hf://datasets/acme/qa?name=easy", "easy"))
        assert "'easy'" in other and "Available configs in the cache: ['default', 'hard']" in other


@pytest.mark.anyio
async def test_hub_snapshot_configs_and_revisions(tmp_path: Path) -> None:
    commit = build_hub_snapshot(tmp_path / "hub", "acme/qa", branch="main")
    (tmp_path / "hub" / "datasets--acme--qa" / "refs" / "v1").write_text(commit)
    async with stack(run_config(tmp_path, provider_config(tmp_path))) as http:
        for dataset_id, uri, expected in (
            ("hard", "hf://datasets/acme/qa?name=hard&split=test", HARD),
            ("tag", "hf://datasets/acme/qa@v1?split=test", TEST),
            ("commit", f"hf://datasets/acme/qa?revision={commit}", TRAIN),
        ):
            assert (await register(http, uri, dataset_id)).status_code == 200, uri
            assert await rows_of(http, dataset_id) == expected, uri
        unknown = error_of(await register(http, "hf://datasets/acme/qa@v9"))
        assert "'acme/qa' is not in the local caches" in unknown


@pytest.mark.anyio
async def test_registered_datasets_survive_a_restart_and_say_why_when_unreadable(tmp_path: Path) -> None:
    """The stack tells the provider about stored datasets at start-up; one whose files are gone by then still
    answers with the reason (a 400), not as unknown."""
    config = provider_config(tmp_path, local_roots={"acme/qa": str(DATA)})
    async with stack(run_config(tmp_path, config)) as http:
        assert (await register(http, "hf://datasets/acme/qa?split=test")).status_code == 200
    async with stack(run_config(tmp_path, config)) as http:
        assert await rows_of(http, "qa") == TEST
    async with stack(run_config(tmp_path, provider_config(tmp_path))) as http:  # local root no longer configured
        assert "is not in the local caches" in error_of(await http.get("/v1beta/datasetio/iterrows/qa"))
        assert (await http.delete("/v1beta/datasets/qa")).status_code in (200, 204)


@pytest.mark.anyio
async def test_hf_uris_go_to_this_provider_and_files_to_localfs(tmp_path: Path) -> None:
    """With inline::localfs configured too, a registration naming no provider goes by its source."""
    localfs = pytest.importorskip("llama_stack_provider_localfs_datasets.plugin")
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in TEST))
    providers = {
        "datasetio": [
            {"provider_id": "local", "provider_type": "inline::localfs", "config": {}},
            {"provider_id": "hf", "provider_type": PROVIDER_TYPE, "config": provider_config(tmp_path)},
        ]
    }
    build_hub_snapshot(tmp_path / "hub", "acme/qa")
    config = make_run_config(providers, tmp_path, server={"local_access": {"file_roots": [str(tmp_path)]}})
    async with stack_client(config, PluginManager(extra_plugins=[plugin, localfs])) as http:
        hub = await register(http, "huggingface://acme/qa?split=train", "from-hub")
        assert hub.status_code == 200 and hub.json()["provider_id"] == "hf"
        local = await register(http, qa.as_uri(), "from-file")
        assert local.status_code == 200 and local.json()["provider_id"] == "local"
        assert await rows_of(http, "from-hub") == TRAIN
        assert await rows_of(http, "from-file") == TEST


def test_hf_hub_offline_in_the_environment_is_honoured(tmp_path: Path) -> None:
    """``offline: false`` in the config, HF_HUB_OFFLINE=1 in the environment: the provider does not ask the Hub and
    says the dataset is not cached (a fresh interpreter, since the library reads the variable when imported)."""
    probe = f"""
import asyncio, socket
from llama_stack_core.apis.resources import Dataset, URIDataSource
from llama_stack_core.errors import BadRequestError
from llama_stack_provider_huggingface_datasets.config import HuggingFaceDatasetsConfig
from llama_stack_provider_huggingface_datasets.provider import create_provider

def refuse(*args, **kwargs):
    raise AssertionError("network access")
socket.getaddrinfo = refuse
socket.socket.connect = refuse

async def main():
    config = HuggingFaceDatasetsConfig(offline=False, cache_dir={str(tmp_path / "c")!r}, hub_cache_dir={str(tmp_path)!r})
    provider = await create_provider(config, {{}})
    source = URIDataSource(uri="hf://datasets/acme/qa")
    dataset = Dataset(identifier="d", provider_id="hf", purpose="eval/question-answer", source=source)
    try:
        await provider.register_dataset(dataset)
    except BadRequestError as exc:
        print(exc)

asyncio.run(main())
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "'acme/qa' is not in the local caches" in done.stdout, done.stdout + done.stderr


def test_offline_config_turns_the_library_offline(tmp_path: Path) -> None:
    from llama_stack_provider_huggingface_datasets.config import HuggingFaceDatasetsConfig
    from llama_stack_provider_huggingface_datasets.provider import create_provider

    asyncio.run(create_provider(HuggingFaceDatasetsConfig(offline=True), {}))
    assert datasets.config.HF_HUB_OFFLINE is True and loading.offline()


@pytest.mark.anyio
async def test_online_an_unreachable_hub_is_a_502(
    tmp_path: Path, no_network: NoNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``offline: false`` (and no offline variable) the provider asks the Hub (the guard sees it try), and a
    Hub it cannot reach, for a dataset in no cache, is a 502; a dataset in the Hub cache is still read."""
    import huggingface_hub.constants
    import huggingface_hub.utils._http

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # the Hub client retries a failed connection 5 times with growing pauses (~50 s in all): skip the pauses
    monkeypatch.setattr(huggingface_hub.utils._http, "time", SimpleNamespace(sleep=lambda seconds: None))
    build_hub_snapshot(tmp_path / "hub", "acme/qa")
    config = {**provider_config(tmp_path), "offline": False}
    async with stack(run_config(tmp_path, config)) as http:
        unreachable = await register(http, "hf://datasets/acme/elsewhere", "elsewhere")
        assert "could not reach the Hugging Face Hub for dataset 'acme/elsewhere'" in error_of(unreachable, 502)
        assert no_network.attempts, "the provider did not try the Hub"
        assert (await register(http, "hf://datasets/acme/qa?split=test")).status_code == 200
        assert await rows_of(http, "qa") == TEST
    no_network.attempts.clear()  # the attempts were the point
