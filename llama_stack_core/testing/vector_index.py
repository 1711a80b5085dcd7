"""Conformance tests for vector backends at the index level (:mod:`llama_stack_core.vector_io.index`).

Subclass :class:`VectorIndexTests` and provide the ``factory`` fixture: an async generator yielding a fresh
:class:`VectorIndexFactory` for the backend, and ``reopen`` yielding a second factory on the same storage (a restart
or a second process). The vectors are small and hand-made so expected neighbours are known exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ..apis.resources import VectorDB
from ..apis.vector_io import ComparisonFilter, CompoundFilter
from ..vector_io.index import StoredChunk, VectorIndexFactory

DIM = 4


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def store(identifier: str = "vs_test") -> VectorDB:
    return VectorDB(
        identifier=identifier,
        provider_id="p",
        provider_resource_id=identifier,
        embedding_model="m",
        embedding_dimension=DIM,
    )


def corpus() -> list[StoredChunk]:
    return [
        StoredChunk(
            "a1", "cats purr and sleep all day", unit(1, 0, 0, 0), {"n": 1}, "file-a", {"lang": "en", "year": 2020}
        ),
        StoredChunk("a2", "kittens chase yarn", unit(0.9, 0.1, 0, 0), {"n": 2}, "file-a", {"lang": "en", "year": 2020}),
        StoredChunk(
            "b1", "quarterly revenue grew by ten percent", unit(0, 1, 0, 0), {}, "file-b", {"lang": "en", "year": 2023}
        ),
        StoredChunk(
            "c1", "le chat dort; reference XK-42-ZETA", unit(0, 0, 1, 0), {}, "file-c", {"lang": "fr", "year": 2021}
        ),
        StoredChunk("raw", "a raw chunk without a file", unit(0, 0, 0, 1), {"source": "insert"}),
    ]


class VectorIndexTests:
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    async def factory(self) -> Any:  # pragma: no cover - provided by the subclass
        raise NotImplementedError("provide a `factory` fixture yielding a VectorIndexFactory")

    @pytest.fixture
    async def reopen(self) -> Any:  # pragma: no cover - provided by the subclass
        raise NotImplementedError("provide a `reopen` fixture yielding a second factory on the same storage")

    async def filled(self, factory: VectorIndexFactory, identifier: str = "vs_test") -> Any:
        index = await factory.open_index(store(identifier))
        await index.add(corpus())
        return index

    @pytest.mark.anyio
    async def test_nearest_first_with_cosine_scores(self, factory: VectorIndexFactory) -> None:
        index = await self.filled(factory)
        hits = await index.search_vector(unit(1, 0.05, 0, 0), k=2)
        assert [h.chunk.chunk_id for h in hits] == ["a1", "a2"]
        assert 1.0 >= hits[0].score > hits[1].score > 0.9
        assert hits[0].chunk.content == "cats purr and sleep all day"
        assert hits[0].chunk.metadata == {"n": 1} and hits[0].chunk.attributes == {"lang": "en", "year": 2020}
        assert hits[0].chunk.embedding == pytest.approx(unit(1, 0, 0, 0), abs=1e-5)
        assert len(await index.search_vector(unit(1, 1, 1, 1), k=10)) == 5
        assert await index.count() == 5

    @pytest.mark.anyio
    async def test_keyword_search_finds_exact_identifiers(self, factory: VectorIndexFactory) -> None:
        index = await self.filled(factory)
        hits = await index.search_keyword("XK-42-ZETA", k=3)
        assert hits and hits[0].chunk.chunk_id == "c1" and hits[0].score > 0
        revenue = await index.search_keyword("revenue", k=3)
        assert [h.chunk.chunk_id for h in revenue] == ["b1"]
        assert await index.search_keyword("nonexistentword", k=3) == []

    @pytest.mark.anyio
    async def test_filters(self, factory: VectorIndexFactory) -> None:
        index = await self.filled(factory)
        query = unit(1, 1, 1, 1)
        fr = await index.search_vector(query, 10, ComparisonFilter(key="lang", type="eq", value="fr"))
        assert [h.chunk.chunk_id for h in fr] == ["c1"]
        recent = await index.search_vector(query, 10, ComparisonFilter(key="year", type="gte", value=2021))
        assert {h.chunk.chunk_id for h in recent} == {"b1", "c1"}
        either = CompoundFilter(
            type="or",
            filters=[
                ComparisonFilter(key="lang", type="eq", value="fr"),
                ComparisonFilter(key="year", type="lt", value=2021),
            ],
        )
        assert {h.chunk.chunk_id for h in await index.search_vector(query, 10, either)} == {"a1", "a2", "c1"}
        both = CompoundFilter(
            type="and",
            filters=[
                ComparisonFilter(key="lang", type="in", value=["en", "de"]),
                ComparisonFilter(key="year", type="ne", value=2020),
            ],
        )
        assert [h.chunk.chunk_id for h in await index.search_vector(query, 10, both)] == ["b1"]
        assert [
            h.chunk.chunk_id
            for h in await index.search_keyword("chat cats", 10, ComparisonFilter(key="lang", type="eq", value="fr"))
        ] == ["c1"]

    @pytest.mark.anyio
    async def test_replace_and_delete(self, factory: VectorIndexFactory) -> None:
        index = await self.filled(factory)
        await index.add([StoredChunk("b1", "revenue fell", unit(0, 1, 0, 0), {}, "file-b", {"lang": "en"})])
        assert await index.count() == 5
        assert (await index.search_keyword("fell", 3))[0].chunk.chunk_id == "b1"
        assert await index.delete_chunks(["raw", "missing"]) == 1
        assert await index.delete_file("file-a") == 2
        assert await index.delete_file("file-a") == 0
        ids = {h.chunk.chunk_id for h in await index.search_vector(unit(1, 0, 0, 0), 10)}
        assert ids == {"b1", "c1"}
        assert await index.search_keyword("cats", 5) == []
        assert await index.file_chunks("file-a") == []

    @pytest.mark.anyio
    async def test_file_chunks_and_attributes(self, factory: VectorIndexFactory) -> None:
        index = await self.filled(factory)
        assert [c.chunk_id for c in await index.file_chunks("file-a")] == ["a1", "a2"]
        await index.set_file_attributes("file-a", {"lang": "de"})
        german = await index.search_vector(unit(1, 0, 0, 0), 10, ComparisonFilter(key="lang", type="eq", value="de"))
        assert [h.chunk.chunk_id for h in german] == ["a1", "a2"]
        assert all(c.attributes == {"lang": "de"} for c in await index.file_chunks("file-a"))

    @pytest.mark.anyio
    async def test_stores_are_isolated_and_drop_removes_everything(self, factory: VectorIndexFactory) -> None:
        first = await self.filled(factory, "vs_one")
        second = await factory.open_index(store("vs_two"))
        assert await second.count() == 0
        assert await second.search_vector(unit(1, 0, 0, 0), 5) == []
        await first.drop()
        reopened = await factory.open_index(store("vs_one"))
        assert await reopened.count() == 0

    @pytest.mark.anyio
    async def test_persists_across_factories(self, factory: VectorIndexFactory, reopen: VectorIndexFactory) -> None:
        await self.filled(factory)
        again = await reopen.open_index(store())
        assert await again.count() == 5
        assert (await again.search_vector(unit(0, 0, 1, 0), 1))[0].chunk.chunk_id == "c1"
