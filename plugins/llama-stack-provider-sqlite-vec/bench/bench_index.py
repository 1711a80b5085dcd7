"""inline::sqlite-vec against raw sqlite-vec on the same data: ingest time, query p50/p99 at k=10, recall@10.

    python plugins/llama-stack-provider-sqlite-vec/bench/bench_index.py [--n 100000] [--dim 384] [--queries 200]

Vectors are random but clustered (so neighbourhoods mean something); exact top-10 comes from numpy. "raw" queries
the index's own vec0 table with ``embedding MATCH ? AND k = 10`` on a separate bare connection (default pragmas, and
with mmap), no event loop; "index" is SqliteVecIndex.search_vector through asyncio and its dedicated thread,
returning full chunks. Queries are interleaved so machine load affects every column alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from llama_stack_provider_sqlite_vec.config import SqliteVecConfig
from llama_stack_provider_sqlite_vec.driver import select_driver
from llama_stack_provider_sqlite_vec.provider import SqliteVecIndexFactory

from llama_stack_core.apis.resources import VectorDB
from llama_stack_core.apis.vector_io import ComparisonFilter
from llama_stack_core.vector_io.index import StoredChunk


def data(n: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((256, dim)).astype(np.float32)
    x = centres[rng.integers(0, 256, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    q = centres[rng.integers(0, 256, queries)] + 0.6 * rng.standard_normal((queries, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), q / np.linalg.norm(q, axis=1, keepdims=True)


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return statistics.mean(len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth))


def raw_ingest(path: Path, x: np.ndarray) -> float:
    """Bare sqlite-vec: the vectors alone into a vec0 table, one transaction."""
    conn = select_driver("apsw").connect(str(path), 30000)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{x.shape[1]}] distance_metric=cosine)")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO v (rowid, embedding) VALUES (?, ?)", ((i, x[i].tobytes()) for i in range(len(x))))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


async def run(path: Path, x: np.ndarray, q: np.ndarray, batch: int) -> dict[str, dict[str, Any]]:
    """Ingest through the index, then per query, interleaved so machine load hits all alike: raw sqlite-vec on the
    same vec0 table (without and with mmap), the index, the index with a filter, keyword search."""
    config = SqliteVecConfig(
        db_path=str(path),
        persistence={"backend": {"type": "kv_sqlite", "db_path": str(path.with_suffix(".kv"))}, "namespace": "bench"},
    )
    factory = await SqliteVecIndexFactory.open(config)
    idx = await factory.open_index(
        VectorDB(
            identifier="bench",
            provider_id="p",
            provider_resource_id="bench",
            embedding_model="m",
            embedding_dimension=x.shape[1],
        )
    )
    chunks = [
        StoredChunk(
            f"c{i}",
            f"chunk number {i} about topic {i % 256}",
            x[i].tolist(),
            {"i": i},
            f"file-{i // 100}",
            {"shard": i % 10},
        )
        for i in range(len(x))
    ]
    start = time.perf_counter()
    for s in range(0, len(chunks), batch):
        await idx.add(chunks[s : s + batch])
    ingest = time.perf_counter() - start
    conns = {}
    for name, mmap in (("raw", 0), ("raw_mmap", 1 << 30)):
        conns[name] = select_driver("apsw").connect(str(path), 30000)
        conns[name].execute(f"PRAGMA mmap_size={mmap}")
    sql = f"SELECT rowid, distance FROM {idx._vec} WHERE embedding MATCH ? AND k = 10"
    shard = ComparisonFilter(key="shard", type="eq", value=3)
    out: dict[str, dict[str, Any]] = {
        k: {"times": [], "found": []} for k in ("raw", "raw_mmap", "index", "filtered", "keyword")
    }
    for _rep in range(2):  # the first pass warms the caches; the second is measured
        for r in out.values():
            r["times"], r["found"] = [], []
        for i, vec in enumerate(q):
            for name, conn in conns.items():
                start = time.perf_counter()
                rows = conn.execute(sql, (vec.tobytes(),)).fetchall()
                out[name]["times"].append(time.perf_counter() - start)
                out[name]["found"].append([r[0] - 1 for r in rows])  # the index numbers rows from 1
            for name, filters in (("index", None), ("filtered", shard)):
                query = vec.tolist()
                start = time.perf_counter()
                hits = await idx.search_vector(query, 10, filters)
                out[name]["times"].append(time.perf_counter() - start)
                out[name]["found"].append([int(h.chunk.chunk_id[1:]) for h in hits])
            start = time.perf_counter()
            await idx.search_keyword(f"topic {i % 256}", 10)
            out["keyword"]["times"].append(time.perf_counter() - start)
    for conn in conns.values():
        conn.close()
    await factory.close()
    out["index"]["ingest_s"] = ingest
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    x, q = data(args.n, args.dim, args.queries)
    sims = q @ x.T
    truth = np.argsort(-sims, axis=1)[:, :10]
    shard = np.arange(args.n) % 10 == 3
    truth_filtered = np.argsort(-np.where(shard, sims, -np.inf), axis=1)[:, :10]
    with tempfile.TemporaryDirectory() as tmp:
        raw_seconds = raw_ingest(Path(tmp) / "raw.db", x)
        out = asyncio.run(run(Path(tmp) / "index.db", x, q, args.batch))
    print(
        f"n={args.n} dim={args.dim} queries={len(q)} k=10; ingest: raw sqlite-vec {raw_seconds:.2f} s (vectors "
        f"only), index {out['index']['ingest_s']:.2f} s (rows, vectors, FTS5; batches of {args.batch})"
    )
    print(f"{'':34}{'p50 ms':>8}{'p99 ms':>8}{'recall@10':>11}")
    rows = (
        ("raw sqlite-vec", "raw", truth),
        ("raw sqlite-vec + mmap", "raw_mmap", truth),
        ("index.search_vector", "index", truth),
        ("index.search_vector, 1/10 filter", "filtered", truth_filtered),
        ("index.search_keyword", "keyword", None),
    )
    for label, key, expected in rows:
        r = out[key]
        quality = f"{recall(r['found'], expected):11.3f}" if expected is not None else ""
        print(f"{label:34}{pct(r['times'], 50):8.1f}{pct(r['times'], 99):8.1f}{quality}")


if __name__ == "__main__":
    main()
