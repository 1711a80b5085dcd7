"""Ingestion outlives its server: ``stack serve`` killed with SIGKILL in the middle of a file batch leaves files in
progress; another server on the same store (already running, or the next one to start) takes them over once the dead
one's heartbeat is stale and ingests them again, or, configured so, marks them failed. Never in_progress for ever,
and nothing half-written is visible. The embedding model is a scripted upstream, slow on purpose."""

from __future__ import annotations

import hashlib
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from llama_stack_core.testing.harness import make_run_config, serving_process
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer
from llama_stack_core.testing.waiting import eventually_sync

pytestmark = pytest.mark.slow

FILES = 12
DIMENSION = 8


def vector(text: str) -> list[float]:
    return [b / 255 for b in hashlib.sha256(text.encode()).digest()[:DIMENSION]]


def slow_embeddings(request: RecordedRequest) -> Reply:
    texts = request.json["input"]
    texts = [texts] if isinstance(texts, str) else texts
    data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
    usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    return Reply(json={"object": "list", "data": data, "model": "emb", "usage": usage}, delay=0.4)


def run_config(tmp_path: Path, scripted: ScriptedServer, storage: dict[str, Any] | None, **settings: Any) -> dict:
    vector_io = {"db_path": str(tmp_path / "vectors.db"), "ingestion_stale_after_seconds": 1.0}
    vector_io["max_concurrent_ingestions"] = 1
    if storage is not None:
        vector_io["persistence"] = {"backend": "default", "namespace": "vector_io"}
    providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": scripted.base_url, "refresh_models": False},
            }
        ],
        "files": [{"provider_id": "fs", "provider_type": "inline::localfs", "config": {"storage_dir": str(tmp_path)}}],
        "vector_io": [
            {"provider_id": "vec", "provider_type": "inline::sqlite-vec", "config": {**vector_io, **settings}}
        ],
    }
    model = {
        "model_id": "emb",
        "provider_id": "vllm",
        "model_type": "embedding",
        "metadata": {"embedding_dimension": 8},
    }
    config = make_run_config(providers, tmp_path, models=[model])
    if storage is not None:
        config["storage"] = storage
    return config


def text_of(i: int) -> str:
    return f"Document {i} is about the colour number {i * 7}, and nothing else at all."


def start_batch(url: str) -> tuple[str, str]:
    """Upload the files and attach them to a new store as one batch; answer the store and batch ids."""
    file_ids = [
        httpx.post(
            f"{url}/v1/files",
            files={"file": (f"doc-{i}.txt", text_of(i).encode(), "text/plain")},
            data={"purpose": "assistants"},
        ).json()["id"]
        for i in range(FILES)
    ]
    store = httpx.post(f"{url}/v1/vector_stores", json={"name": "kb", "embedding_model": "emb"}).json()["id"]
    batch = httpx.post(f"{url}/v1/vector_stores/{store}/file_batches", json={"file_ids": file_ids}, timeout=30)
    assert batch.status_code == 200, batch.text
    return store, batch.json()["id"]


def statuses(url: str, store: str) -> Counter[str]:
    files = httpx.get(f"{url}/v1/vector_stores/{store}/files", params={"limit": 100}).json()["data"]
    return Counter(f["status"] for f in files)


def assert_all_searchable(url: str, store: str) -> None:
    for i in (0, FILES - 1):
        hits = httpx.post(f"{url}/v1/vector_stores/{store}/search", json={"query": text_of(i)}).json()["data"]
        assert hits and hits[0]["filename"] == f"doc-{i}.txt"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_live_server_takes_over_a_killed_servers_files(tmp_path, scripted, backend, request):
    storage = request.getfixturevalue("postgres_storage") if backend == "postgres" else None
    scripted.respond = slow_embeddings
    config = run_config(tmp_path, scripted, storage)
    with serving_process(config, tmp_path) as (url_a, process_a):
        store, batch = start_batch(url_a)
        with serving_process(config, tmp_path) as (url_b, _):
            eventually_sync(lambda: statuses(url_a, store)["completed"] >= 3, timeout=30, what="three files ingested")
            process_a.send_signal(signal.SIGKILL)
            process_a.wait()
            left = statuses(url_b, store)
            assert left["in_progress"] > 0  # the kill interrupted some
            eventually_sync(
                lambda: statuses(url_b, store) == Counter(completed=FILES), timeout=60, what="every file ingested"
            )
            view = httpx.get(f"{url_b}/v1/vector_stores/{store}").json()
            assert view["status"] == "completed" and view["file_counts"]["completed"] == FILES
            batch_view = httpx.get(f"{url_b}/v1/vector_stores/{store}/file_batches/{batch}").json()
            assert batch_view["status"] == "completed"
            # each file embedded once, but the one the kill caught mid-way (embedded again by the second server)
            embedded = Counter(str(r.json["input"]) for r in scripted.requests)
            assert len(embedded) == FILES and sum(embedded.values()) <= FILES + 1
            assert_all_searchable(url_b, store)


def test_with_resume_off_the_next_server_marks_interrupted_files_failed(tmp_path, scripted):
    scripted.respond = slow_embeddings
    with serving_process(run_config(tmp_path, scripted, None), tmp_path) as (url, process):
        store, _ = start_batch(url)
        eventually_sync(lambda: statuses(url, store)["completed"] >= 3, timeout=30, what="three files ingested")
        process.send_signal(signal.SIGKILL)
        process.wait()
    asked = len(scripted.requests)
    config = run_config(tmp_path, scripted, None, resume_interrupted_ingestions=False)
    with serving_process(config, tmp_path) as (url, _):
        eventually_sync(lambda: statuses(url, store)["in_progress"] == 0, timeout=30, what="no file in progress")
        counts = statuses(url, store)
        assert counts["completed"] >= 3 and counts["failed"] == FILES - counts["completed"]
        files = httpx.get(f"{url}/v1/vector_stores/{store}/files", params={"filter": "failed"}).json()["data"]
        assert files and all("interrupted" in f["last_error"]["message"] for f in files)
        assert httpx.get(f"{url}/v1/vector_stores/{store}").json()["status"] == "completed"
    assert len(scripted.requests) == asked  # nothing embedded after the kill
