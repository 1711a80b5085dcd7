"""inline::sqlite-vec: the index conformance kit on every SQLite binding that can load sqlite-vec here, the
VectorIO conformance kit end to end through the stack, and this backend's own edge cases."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_stack_provider_sqlite_vec.config import SqliteVecConfig
from llama_stack_provider_sqlite_vec.driver import ORDER, DriverUnavailable, select_driver
from llama_stack_provider_sqlite_vec.filters import Untranslatable, compile_filter
from llama_stack_provider_sqlite_vec.provider import MAX_KNN_K, SqliteVecIndexFactory, fts_query

from llama_stack_core.apis.vector_io import ComparisonFilter, CompoundFilter
from llama_stack_core.errors import BadRequestError, ConfigError
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.vector_index import VectorIndexTests, corpus, store, unit
from llama_stack_core.testing.vector_io import VectorIOProviderTests
from llama_stack_core.vector_io.index import StoredChunk, VectorIndex, VectorIndexFactory, matches


def _usable(name: str) -> bool:
    try:
        select_driver(name)  # type: ignore[arg-type]
    except DriverUnavailable:
        return False
    return True


DRIVERS = [name for name in ORDER if _usable(name)]


def make_config(path: Path | str, driver: str = "auto", **extra: Any) -> SqliteVecConfig:
    persistence = {
        "backend": {"type": "kv_sqlite", "db_path": str(Path(path).with_suffix(".kv.db"))},
        "namespace": "test",
    }
    return SqliteVecConfig(db_path=str(path), sqlite_driver=driver, persistence=persistence, **extra)


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def first(tmp_path: Path, driver: str) -> Any:
    """A factory on a fresh database file."""
    opened = await SqliteVecIndexFactory.open(make_config(tmp_path / "vectors.db", driver))
    yield opened
    await opened.close()


@pytest.fixture
async def second(tmp_path: Path, driver: str, first: Any) -> Any:
    """Another factory (another connection and thread, as in a second server process) on the same file."""
    opened = await SqliteVecIndexFactory.open(make_config(tmp_path / "vectors.db", driver))
    yield opened
    await opened.close()


class TestSqliteVecIndex(VectorIndexTests):
    """The shared index conformance tests, once per SQLite binding (``driver``)."""

    @pytest.fixture
    async def factory(self, first: Any) -> Any:
        return first

    @pytest.fixture
    async def reopen(self, second: Any) -> Any:
        return second


# -- bindings ------------------------------------------------------------------------------------------------------


def test_auto_prefers_the_bundled_sqlite_of_apsw() -> None:
    pytest.importorskip("apsw")
    chosen = select_driver("auto")
    assert chosen.name == "apsw"
    assert tuple(int(p) for p in chosen.sqlite_version.split(".")[:2]) >= (3, 45)


def test_auto_falls_back_when_apsw_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apsw", None)  # import apsw -> ImportError
    if "pysqlite3" not in DRIVERS and "sqlite3" not in DRIVERS:
        with pytest.raises(DriverUnavailable, match="apsw: not installed.*pip install apsw"):
            select_driver("auto")
        return
    assert select_driver("auto").name == ("pysqlite3" if "pysqlite3" in DRIVERS else "sqlite3")


@pytest.mark.anyio
async def test_a_driver_that_cannot_load_extensions_is_a_clear_config_error(tmp_path: Path) -> None:
    import sqlite3

    if hasattr(sqlite3.connect(":memory:"), "enable_load_extension"):
        pytest.skip("this interpreter's sqlite3 can load extensions")
    with pytest.raises(ConfigError, match="cannot load extensions"):
        await SqliteVecIndexFactory.open(make_config(tmp_path / "v.db", "sqlite3"))


def test_importing_the_plugin_is_cheap() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_sqlite_vec.plugin",
        {"apsw", "sqlite_vec", "pysqlite3", "sqlite3"},
        call=["register_vector_io_providers"],
    )


# -- edge cases ----------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_empty_store(first: Any) -> None:
    index = await first.open_index(store("vs_empty"))
    assert isinstance(first, VectorIndexFactory) and isinstance(index, VectorIndex)
    assert await index.count() == 0
    assert await index.search_vector(unit(1, 0, 0, 0), 5) == []
    assert await index.search_vector(unit(1, 0, 0, 0), 5, ComparisonFilter(key="lang", type="eq", value="en")) == []
    assert await index.search_vector(unit(1, 0, 0, 0), MAX_KNN_K + 10) == []
    assert await index.search_keyword("anything", 5) == []
    assert await index.file_chunks("file-a") == []
    assert await index.delete_file("file-a") == 0
    assert await index.delete_chunks([]) == 0 and await index.delete_chunks(["nope"]) == 0
    await index.set_file_attributes("file-a", {"x": 1})  # no chunks: nothing to change, no error
    await index.add([])
    assert await index.count() == 0
    await index.drop()


@pytest.mark.anyio
async def test_dimension_mismatch_is_a_clear_error_and_nothing_is_written(first: Any) -> None:
    index = await first.open_index(store())
    await index.add(corpus())
    bad = [StoredChunk("ok", "fine", unit(1, 1, 0, 0)), StoredChunk("short", "too short", [1.0, 0.0, 0.0])]
    with pytest.raises(
        BadRequestError,
        match=r"chunks\[1\]\.embedding has 3 dimensions; vector store 'vs_test' "
        r"holds 4-dimension vectors",
    ):
        await index.add(bad)
    assert await index.count() == 5  # the batch is all or nothing
    with pytest.raises(BadRequestError, match="query embedding has 5 dimensions"):
        await index.search_vector([0.1] * 5, 3)
    with pytest.raises(BadRequestError, match="4-dimension vectors; it cannot be opened with embedding_dimension 8"):
        await first.open_index(store().model_copy(update={"embedding_dimension": 8}))
    for vector, reason in (([0.0] * 4, "all zeros"), ([math.nan, 1, 0, 0], "NaN"), (["a", 1, 0, 0], "numbers")):
        with pytest.raises(BadRequestError, match=reason):
            await index.add([StoredChunk("x", "x", vector)])
        with pytest.raises(BadRequestError, match=reason):
            await index.search_vector(vector, 3)
    assert await index.count() == 5


@pytest.mark.anyio
async def test_keyword_queries_are_taken_literally(first: Any) -> None:
    index = await first.open_index(store())
    await index.add(corpus() + [StoredChunk("q", 'he said "NOT NEAR" col:umn AND stars*', unit(1, 1, 1, 0))])
    for query in ('"', "NOT", "AND OR", "col:umn", "stars*", "(", "NEAR(a b)", 'said "NOT'):
        hits = await index.search_keyword(query, 5)
        assert all(h.score > 0 for h in hits), query
    assert [h.chunk.chunk_id for h in await index.search_keyword("NOT", 5)] == ["q"]
    assert await index.search_keyword("  --- ... ", 5) == []
    assert fts_query('a "b" -- c') == '"a" OR """b""" OR "c"'
    assert [h.chunk.chunk_id for h in await index.search_keyword("cat", 5)] == ["a1"]  # porter: cats ~ cat
    assert (await index.search_keyword("revenue revenue grew", 5))[0].chunk.chunk_id == "b1"


@pytest.mark.anyio
async def test_replacing_keeps_position_and_moves_files(first: Any) -> None:
    index = await first.open_index(store())
    await index.add(corpus())
    await index.add(
        [
            StoredChunk("a1", "cats now bark", unit(0, 0, 0, 1), {"n": 9}, "file-a", {"lang": "xx"}),
            StoredChunk(
                "a1", "duplicate in one batch: the last one wins", unit(0, 0, 1, 1), {"n": 10}, "file-a", {"lang": "yy"}
            ),
        ]
    )
    assert [c.chunk_id for c in await index.file_chunks("file-a")] == ["a1", "a2"]
    first = (await index.file_chunks("file-a"))[0]
    assert first.content.startswith("duplicate") and first.metadata == {"n": 10} and first.attributes == {"lang": "yy"}
    assert first.embedding == pytest.approx(unit(0, 0, 1, 1), abs=1e-6)
    assert await index.search_keyword("bark", 3) == [] and await index.search_keyword("purr", 3) == []
    await index.add([StoredChunk("raw", "now part of file c", unit(0, 0, 0, 1), {}, "file-c", {"lang": "fr"})])
    assert [c.chunk_id for c in await index.file_chunks("file-c")] == ["c1", "raw"]
    assert await index.delete_file("file-c") == 2 and await index.count() == 3


@pytest.mark.anyio
async def test_attribute_sets_are_shared_and_collected(first: Any) -> None:
    index = await first.open_index(store())
    await index.add(corpus())
    db = first._db

    async def sets() -> int:
        return (await db.run(db.query, f"SELECT count(*) FROM vs{index.number}_attrs"))[0][0]

    assert await sets() == 4  # a1 and a2 share theirs; raw has {}
    for lang in ("de", "it", "es"):
        await index.set_file_attributes("file-a", {"lang": lang})
    assert await sets() == 4
    await index.delete_file("file-a")
    await index.delete_chunks(["raw"])
    assert await sets() == 2


@pytest.mark.anyio
async def test_filters_without_an_sql_form_fall_back_to_matches(first: Any) -> None:
    index = await first.open_index(store())
    await index.add(
        corpus()
        + [
            StoredChunk(
                "t", "tagged", unit(1, 1, 0, 0), {}, "file-t", {"tags": ["x", "y"], "lang": "english", 'we"ird': 1}
            )
        ]
    )
    query = unit(1, 1, 1, 1)

    async def ids(f: Any) -> set[str]:
        return {h.chunk.chunk_id for h in await index.search_vector(query, 10, f)}

    assert await ids(ComparisonFilter(key="tags", type="eq", value=["x", "y"])) == {"t"}
    assert await ids(ComparisonFilter(key="lang", type="in", value="english")) == {"a1", "a2", "b1", "t"}
    assert await ids(ComparisonFilter(key='we"ird', type="gte", value=1)) == {"t"}
    assert await ids(ComparisonFilter(key="year", type="nin", value=5)) == {"raw", "t"}  # TypeError -> no match
    assert {
        h.chunk.chunk_id
        for h in await index.search_keyword("tagged cats", 5, ComparisonFilter(key="tags", type="ne", value=["x"]))
    } == {"a1", "t"}


# -- filters: SQL against Python -----------------------------------------------------------------------------------

VALUES: list[Any] = ["en", "fr", "", "10", 0, 1, 2, -3, 1.0, 2.5, True, False, None, ["en", 1], {"a": 1}, 2**70]
FILTER_VALUES: list[Any] = [
    "en",
    "fr",
    "",
    "10",
    "2",
    0,
    1,
    2,
    2.5,
    -3,
    True,
    False,
    2**70,
    ["en", "fr"],
    [1, 2.5],
    ["fr", 0, "10"],
    [],
    [True],
    "e",
]


def _attribute_sets(rng: random.Random) -> list[dict[str, Any]]:
    sets = [{}, {"k": None}]
    for value in VALUES:
        sets.append({"k": value})
        sets.append({"k": value, "j": rng.choice(VALUES)})
    return sets


def _filters(rng: random.Random) -> list[Any]:
    leaves = [
        ComparisonFilter(key=key, type=op, value=value)
        for key, op, value in itertools.product(
            ("k", "j", "missing"), ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"), FILTER_VALUES
        )
    ]
    compound = [
        CompoundFilter(type=rng.choice(["and", "or"]), filters=rng.sample(leaves, rng.randint(1, 3)))
        for _ in range(300)
    ]
    nested = [CompoundFilter(type="or", filters=[rng.choice(compound), rng.choice(leaves)]) for _ in range(100)]
    return leaves + compound + nested


def test_sql_filters_agree_with_matches() -> None:
    """Every translatable filter selects exactly the attribute sets ``matches`` accepts (types, missing keys,
    booleans, nulls, lists, cross-type comparisons)."""
    from llama_stack_provider_sqlite_vec.provider import _dumps

    rng = random.Random(7)
    chosen = select_driver("auto")
    conn = chosen.connect(":memory:", 1000)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, attributes TEXT)")
    sets = _attribute_sets(rng)
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, _dumps(a, sort_keys=True)) for i, a in enumerate(sets)])
    translated = fallbacks = 0
    for f in _filters(rng):
        expected = {i for i, a in enumerate(sets) if matches(f, a)}
        try:
            sql, params = compile_filter(f)
        except Untranslatable:
            fallbacks += 1
            continue
        got = {row[0] for row in conn.execute(f"SELECT id FROM t WHERE {sql}", params).fetchall()}
        assert got == expected, (f, sql, params)
        translated += 1
    assert translated > 350 and fallbacks > 0


# -- scale ---------------------------------------------------------------------------------------------------------


def _normalised(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.anyio
async def test_ten_thousand_chunks_in_one_batch_with_exact_recall(first: Any) -> None:
    rng = np.random.default_rng(3)
    n, dim = 10_000, 384
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    files = [f"file-{i % 50}" for i in range(n)]
    chunks = [
        StoredChunk(
            f"c{i}",
            f"chunk {i} of {files[i]} word{i % 97} token{i}",
            vectors[i].tolist(),
            {"i": i},
            files[i],
            {"file": files[i], "bucket": i % 50 // 10, "even": i % 2 == 0},
        )
        for i in range(n)
    ]
    index = await first.open_index(big_store(dim))
    await index.add(chunks)
    assert await index.count() == n
    unit_vectors = _normalised(vectors)
    queries = _normalised(rng.standard_normal((8, dim)).astype(np.float32))
    bucket_two = np.array([i % 50 // 10 == 2 for i in range(n)])
    one_file = np.array([f == "file-7" for f in files])
    for q in queries:
        sims = unit_vectors @ q
        hits = await index.search_vector(q.tolist(), 10)
        assert [h.chunk.chunk_id for h in hits] == [f"c{i}" for i in np.argsort(-sims)[:10]]
        assert hits[0].score == pytest.approx(float(sims.max()), abs=1e-4)
        for f, mask in (
            (ComparisonFilter(key="bucket", type="eq", value=2), bucket_two),
            (ComparisonFilter(key="file", type="eq", value="file-7"), one_file),
        ):
            filtered = await index.search_vector(q.tolist(), 10, f)
            masked = np.where(mask, sims, -np.inf)
            assert [h.chunk.chunk_id for h in filtered] == [f"c{i}" for i in np.argsort(-masked)[:10]]
    hits = await index.search_keyword("token4321", 3)
    assert [h.chunk.chunk_id for h in hits] == ["c4321"]
    assert [c.chunk_id for c in await index.file_chunks("file-7")] == [f"c{i}" for i in range(7, n, 50)]
    assert await index.delete_file("file-7") == n // 50
    assert await index.count() == n - n // 50
    assert (
        await index.search_vector(queries[0].tolist(), 10, ComparisonFilter(key="file", type="eq", value="file-7"))
        == []
    )


def big_store(dim: int, identifier: str = "vs_big") -> Any:
    return store(identifier).model_copy(update={"embedding_dimension": dim})


@pytest.mark.anyio
async def test_k_beyond_the_knn_limit_scans_exactly(first: Any) -> None:
    rng = np.random.default_rng(5)
    n = MAX_KNN_K + 500
    vectors = rng.standard_normal((n, 4)).astype(np.float32)
    index = await first.open_index(store("vs_wide"))
    await index.add([StoredChunk(f"c{i}", "x", vectors[i].tolist(), {}, None, {"odd": i % 2}) for i in range(n)])
    q = _normalised(rng.standard_normal((1, 4)).astype(np.float32))[0]
    sims = _normalised(vectors) @ q
    hits = await index.search_vector(q.tolist(), n + 10)
    assert len(hits) == n and hits[0].chunk.chunk_id == f"c{int(np.argmax(sims))}"
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    odd = await index.search_vector(q.tolist(), MAX_KNN_K + 1, ComparisonFilter(key="odd", type="eq", value=1))
    assert len(odd) == n // 2 and {int(h.chunk.chunk_id[1:]) % 2 for h in odd} == {1}


# -- several connections (processes) on one file --------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_writers_and_a_store_recreated_elsewhere(first: Any, second: Any) -> None:
    mine = await first.open_index(store())
    theirs = await second.open_index(store())

    async def write(index: Any, prefix: str) -> None:
        for batch in range(5):
            await index.add(
                [StoredChunk(f"{prefix}{batch}-{i}", f"text {prefix}", unit(1, i + 1, batch, 1)) for i in range(50)]
            )

    await asyncio.gather(write(mine, "m"), write(theirs, "t"))
    assert await mine.count() == await theirs.count() == 500
    await theirs.drop()
    again = await second.open_index(store())
    await again.add(corpus())
    assert await mine.count() == 5  # followed the store to its new tables
    assert (await mine.search_vector(unit(0, 0, 1, 0), 1))[0].chunk.chunk_id == "c1"
    await again.drop()
    with pytest.raises(Exception, match="no longer exists"):
        await mine.count()


# -- end to end ----------------------------------------------------------------------------------------------------


class TestSqliteVecVectorIO(VectorIOProviderTests):
    """The shared VectorIO conformance tests through the stack (embeddings from inline::sentence-transformers)."""

    provider_type = "inline::sqlite-vec"

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        return {
            "persistence": {"backend": "default", "namespace": "vector_io"},
            "db_path": str(workdir / "sqlite_vec.db"),
        }


@pytest.mark.slow
def test_served_stack_keeps_vectors_across_restarts(tmp_path: Path) -> None:
    """A real ``stack serve``: insert through /v1/vector-io, stop, start again, the store still answers."""
    import httpx

    from llama_stack_core.testing.harness import make_run_config, served_stack

    pytest.importorskip("llama_stack_provider_sentence_transformers")
    config = make_run_config(
        {
            "inference": [{"provider_id": "st", "provider_type": "inline::sentence-transformers", "config": {}}],
            "vector_io": [
                {
                    "provider_id": "sqlite-vec",
                    "provider_type": "inline::sqlite-vec",
                    "config": {
                        "db_path": str(tmp_path / "vectors.db"),
                        "persistence": {"backend": "default", "namespace": "vector_io"},
                    },
                }
            ],
        },
        tmp_path,
    )
    config_path = tmp_path / "run.json"
    config_path.write_text(json.dumps(config))
    env = {"HF_HUB_OFFLINE": "1", "SENTENCE_TRANSFORMERS_THREADS": "1"}
    chunks = [
        {
            "content": "The lighthouse keeper polished the great lens every evening.",
            "metadata": {"document_id": "lighthouse"},
        },
        {"content": "Quarterly revenue rose on strong subscription sales.", "metadata": {"document_id": "money"}},
    ]
    with served_stack(config_path, tmp_path, env=env, timeout=90) as url:
        created = httpx.post(
            f"{url}/v1/vector-dbs", json={"vector_db_id": "served", "embedding_model": "all-MiniLM-L6-v2"}, timeout=60
        )
        assert created.status_code == 200, created.text
        inserted = httpx.post(
            f"{url}/v1/vector-io/insert", json={"vector_db_id": "served", "chunks": chunks}, timeout=60
        )
        assert inserted.status_code == 200, inserted.text
    with served_stack(config_path, tmp_path, env=env, timeout=90) as url:
        answer = httpx.post(
            f"{url}/v1/vector-io/query",
            json={"vector_db_id": "served", "query": "lamp on the coast", "params": {"max_chunks": 1}},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["chunks"][0]["metadata"]["document_id"] == "lighthouse"
        keyword = httpx.post(
            f"{url}/v1/vector-io/query",
            json={"vector_db_id": "served", "query": "subscription", "params": {"mode": "keyword"}},
            timeout=60,
        )
        assert [c["metadata"]["document_id"] for c in keyword.json()["chunks"]] == ["money"]


# -- config and spec -----------------------------------------------------------------------------------------------


def test_config_defaults_sample_and_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_stack_provider_sqlite_vec.config import DEFAULT_DB_PATH
    from llama_stack_provider_sqlite_vec.plugin import register_vector_io_providers
    from pydantic import ValidationError

    from llama_stack_core.apis.routes import Api
    from llama_stack_core.config.env import substitute_env
    from llama_stack_core.config.loader import parse_run_config
    from llama_stack_core.testing.harness import make_run_config

    context = parse_run_config(make_run_config({}, tmp_path)).validation_context()
    default = SqliteVecConfig.model_validate({}, context=context)
    assert default.db_path == DEFAULT_DB_PATH and default.sqlite_driver == "auto"
    assert default.persistence.backend == context["default"] and default.persistence.namespace == "sqlite_vec"
    monkeypatch.setenv("SQLITE_VEC_DB_PATH", str(tmp_path / "env.db"))
    sample = SqliteVecConfig.model_validate(substitute_env(SqliteVecConfig.sample_config()), context=context)
    assert sample.db_path == str(tmp_path / "env.db")
    for bad in (
        {"db_pathh": "x"},
        {"sqlite_driver": "duckdb"},
        {"keyword_tokenizer": "x'); DROP TABLE t; --"},
        {"mmap_size_mb": -1},
    ):
        with pytest.raises(ValidationError):
            SqliteVecConfig.model_validate(bad, context=context)
    [spec] = register_vector_io_providers()
    assert (spec.api, spec.provider_type) == (Api.vector_io, "inline::sqlite-vec")
    assert spec.api_dependencies == (Api.inference,) and spec.optional_api_dependencies == (Api.files,)
    assert spec.factory == "llama_stack_provider_sqlite_vec.provider:create_provider" and spec.compatible


@pytest.mark.anyio
async def test_an_unusable_database_file_is_a_clear_config_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(ConfigError, match="cannot open the sqlite-vec database .*garbage.db"):
        await SqliteVecIndexFactory.open(make_config(not_a_db))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot open the sqlite-vec database"):
        await SqliteVecIndexFactory.open(make_config(tmp_path / "file" / "sub" / "v.db"))
