"""``inline::localfs``: the OpenAI Files API over a directory (the bytes) and the stack's key-value store (metadata).

Layout: ``<storage_dir>/<file id>`` holds a file's bytes and the store holds ``file:<id>`` -> a JSON record. An
upload is written to a hidden temp file in the same directory, fsynced, renamed into place, and only then published
by inserting its record; a delete removes the record first, and the one process whose delete succeeds removes the
bytes. So every process sharing the directory and the store sees a file exactly while its record exists, always with
complete bytes, and none keeps a cache that could go stale. All file IO runs on a thread pool, never on the event
loop; the store does its own IO off the loop too. With ``server.auth`` on a record names its uploader (its owner),
and reads, lists and deletes are checked by :mod:`llama_stack_core.owners`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from llama_stack_core.apis.common import BinaryContent, CursorPage, DeletedObject
from llama_stack_core.apis.files import (
    FileListRequest,
    FileObject,
    FileRef,
    FileUploadRequest,
)
from llama_stack_core.errors import (
    ConfigError,
    NotFoundError,
    ServiceUnavailableError,
    StackError,
)
from llama_stack_core.owners import Action, Owner, authorize, authorize_create, current_owner, owner_of, readable
from llama_stack_core.pagination import paginate
from llama_stack_core.storage import KVStore

from .config import PROVIDER_TYPE, LocalFSFilesConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

KEY_PREFIX = "file:"
FILE_ID = re.compile(r"^file-[0-9a-f]{32}$")
TEMP_PREFIX = ".upload-"
#: A temp file older than this was left by a process that died mid-upload (live uploads take far less).
TEMP_GRACE_SECONDS = 6 * 3600


def now() -> float:
    """The clock that creation and expiry times come from (tests move it forward)."""
    return time.time()


def new_file_id() -> str:
    return f"file-{secrets.token_hex(16)}"


class FileTooLargeError(StackError):
    status_code = 413
    error_type = "invalid_request_error"


@dataclass(frozen=True)
class FileRecord:
    """What the store holds for one file: the API object, a fine-grained creation time for ordering, and who
    uploaded it (with auth on)."""

    file: FileObject
    created_ns: int
    owner: Owner | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"file": self.file.model_dump(mode="json"), "created_ns": self.created_ns}
        if self.owner is not None:
            data["owner"] = self.owner.model_dump()
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> FileRecord:
        data = json.loads(raw)
        return cls(FileObject.model_validate(data["file"]), int(data["created_ns"]), owner_of(data))

    @property
    def id(self) -> str:
        return self.file.id

    def expired(self, at: float) -> bool:
        return self.file.expires_at is not None and self.file.expires_at <= at


# -- blocking helpers (run on the IO pool) -------------------------------------------------------------------------


def _prepare_directory(directory: Path) -> int:
    """Create the directory, prove it is writable, and remove temp files that crashed uploads left behind."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f"{TEMP_PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}"
    probe.write_bytes(b"")
    probe.unlink()
    removed = 0
    cutoff = time.time() - TEMP_GRACE_SECONDS
    for entry in os.scandir(directory):
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _write_atomic(path: Path, content: bytes, fsync: bool) -> None:
    """Write ``content`` to ``path`` through a temp file and a rename: ``path`` is whole or absent, never partial."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temp, "xb") as handle:
            handle.write(content)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if fsync:  # make the rename itself durable
        with contextlib.suppress(OSError):
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


# -- the metadata store, with its failures as 503 ------------------------------------------------------------------


class _Metadata:
    """The KV store under ``file:<id>`` keys. A store failure (database down, locked) answers 503, not 500."""

    def __init__(self, store: KVStore) -> None:
        self.store = store

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await fn(*args)
        except StackError:
            raise
        except Exception as exc:
            log.warning("%s: file metadata store failed to %s: %s: %s", PROVIDER_TYPE, what, type(exc).__name__, exc)
            raise ServiceUnavailableError(f"the file metadata store is unavailable ({type(exc).__name__})") from None

    async def get(self, file_id: str) -> FileRecord | None:
        raw = await self._call("read", self.store.get, KEY_PREFIX + file_id)
        if raw is None:
            return None
        try:
            return FileRecord.from_json(raw)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("%s: unreadable metadata for %s: %s", PROVIDER_TYPE, file_id, exc)
            raise ServiceUnavailableError(f"the metadata of file '{file_id}' is unreadable") from None

    async def insert(self, record: FileRecord) -> bool:
        return await self._call("write", self.store.insert, KEY_PREFIX + record.id, record.to_json())

    async def delete(self, file_id: str) -> bool:
        return await self._call("delete", self.store.delete, KEY_PREFIX + file_id)

    async def all(self) -> list[FileRecord]:
        records = []
        for key, raw in await self._call("list", self.store.items, KEY_PREFIX):
            try:
                records.append(FileRecord.from_json(raw))
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                log.warning("%s: skipping unreadable metadata %s: %s", PROVIDER_TYPE, key, exc)
        return records


def _not_found(file_id: str) -> NotFoundError:
    return NotFoundError(f"file '{file_id}' not found", param="file_id")


def list_page(records: list[FileRecord], request: FileListRequest) -> CursorPage[FileObject]:
    """Newest first (or oldest, ``order=asc``) files of the requested purpose, one cursor page."""
    matching = [r for r in records if request.purpose is None or r.file.purpose == request.purpose]
    page = paginate(
        matching,
        limit=request.limit,
        order=request.order,
        after=request.after,
        before=request.before,
        sort_key=lambda r: r.created_ns,
        item_id=lambda r: r.id,
    )
    return CursorPage[FileObject](
        data=[r.file for r in page.data], has_more=page.has_more, first_id=page.first_id, last_id=page.last_id
    )


class LocalFSFiles:
    """The Files API provider object (one per configured provider; several processes may share its storage)."""

    def __init__(
        self,
        config: LocalFSFilesConfig,
        directory: Path,
        store: KVStore,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.config = config
        self.directory = directory
        self.metadata = _Metadata(store)
        self._store = store
        self._executor = executor
        self._sweeper: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    @classmethod
    async def create(cls, config: LocalFSFilesConfig) -> LocalFSFiles:
        directory = Path(config.storage_dir).expanduser().absolute()
        executor = ThreadPoolExecutor(max_workers=config.io_threads, thread_name_prefix="localfs-files")
        try:
            removed = await asyncio.get_running_loop().run_in_executor(executor, _prepare_directory, directory)
        except OSError as exc:
            executor.shutdown(wait=False)
            raise ConfigError(f"{PROVIDER_TYPE}: cannot use storage_dir {directory}: {exc.strerror or exc}") from None
        if removed:
            log.info("%s: removed %d temp files left by interrupted uploads in %s", PROVIDER_TYPE, removed, directory)
        try:
            store = await config.persistence.open()
        except BaseException:
            executor.shutdown(wait=False)
            raise
        provider = cls(config, directory, store, executor)
        if config.cleanup_interval_seconds is not None:
            provider._sweeper = asyncio.create_task(
                provider._sweep_forever(config.cleanup_interval_seconds), name="localfs-files-expiry"
            )
        return provider

    # -- helpers -------------------------------------------------------------------------------------------------

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def path(self, file_id: str) -> Path:
        """Where a file's bytes live (``file_id`` must be a well-formed id: nothing else reaches the filesystem)."""
        assert FILE_ID.match(file_id), file_id
        return self.directory / file_id

    async def _live(self, file_id: str, action: Action = Action.read) -> FileRecord:
        """The record of a file that exists, has not expired, and the caller may ``action`` (else 404, or 403 for a
        write to a file they may read); an expired one is deleted on the way."""
        if not FILE_ID.match(file_id):
            raise _not_found(file_id)
        record = await self.metadata.get(file_id)
        if record is None:
            raise _not_found(file_id)
        authorize(action, "file", file_id, record.owner, lambda: _not_found(file_id))
        if record.expired(now()):
            await self._remove(file_id)
            raise NotFoundError(f"file '{file_id}' has expired", param="file_id")
        return record

    async def _remove(self, file_id: str) -> bool:
        """Delete the record, then (only if this call deleted it) the bytes. False if it was already gone."""
        if not await self.metadata.delete(file_id):
            return False
        try:
            await self._io(_unlink, self.path(file_id))
        except OSError as exc:  # the file is gone for every reader already; only disk space is lost
            log.warning("%s: could not remove the bytes of %s: %s", PROVIDER_TYPE, file_id, exc)
        return True

    async def remove_expired(self) -> int:
        """Delete every expired file; returns how many this process deleted."""
        at = now()
        removed = 0
        for record in await self.metadata.all():
            if record.expired(at) and await self._remove(record.id):
                removed += 1
        return removed

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            try:
                removed = await self.remove_expired()
                if removed:
                    log.info("%s: deleted %d expired files", PROVIDER_TYPE, removed)
            except Exception as exc:  # keep sweeping after a transient store failure
                log.warning("%s: expiry sweep failed: %s", PROVIDER_TYPE, exc)
            await asyncio.sleep(interval)

    async def _publish(self, record: FileRecord, content: bytes) -> None:
        path = self.path(record.id)
        try:
            await self._io(_write_atomic, path, content, self.config.fsync)
        except OSError as exc:
            log.warning("%s: could not write %s: %s", PROVIDER_TYPE, path, exc)
            raise ServiceUnavailableError(f"could not store the file: {exc.strerror or exc}") from None
        try:
            inserted = await self.metadata.insert(record)
        except BaseException:
            await self._io(_unlink, path)
            raise
        if not inserted:  # a 128-bit id collision: never expected; the other file's bytes were replaced
            raise ServiceUnavailableError(f"file id collision on {record.id}; retry the upload")

    # -- the API -------------------------------------------------------------------------------------------------

    async def openai_upload_file(self, request: FileUploadRequest) -> FileObject:
        authorize_create("file", "")
        content = request.file.content
        limit = self.config.max_upload_bytes
        if len(content) > limit:
            raise FileTooLargeError(
                f"the file is {len(content)} bytes; this server accepts files of at most {limit} bytes", param="file"
            )
        created = now()
        created_at = int(created)
        expires_at = created_at + request.expires_after.seconds if request.expires_after is not None else None
        file = FileObject(
            id=new_file_id(),
            bytes=len(content),
            created_at=created_at,
            expires_at=expires_at,
            filename=request.file.filename,
            purpose=request.purpose,
            status="processed",
        )
        # Shielded: a cancelled request must not leave bytes without a record (or a record without bytes).
        record = FileRecord(file, int(created * 1e9), current_owner())
        task = asyncio.ensure_future(self._publish(record, content))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)
        return file

    async def openai_list_files(self, request: FileListRequest) -> CursorPage[FileObject]:
        at = now()
        live = []
        for record in await self.metadata.all():
            if record.expired(at):
                await self._remove(record.id)
            else:
                live.append(record)
        return list_page(readable(live, "file", lambda r: (r.id, r.owner)), request)

    async def openai_retrieve_file(self, request: FileRef) -> FileObject:
        return (await self._live(request.file_id)).file

    async def openai_delete_file(self, request: FileRef) -> DeletedObject:
        await self._live(request.file_id, Action.delete)
        if not await self._remove(request.file_id):  # another request or process deleted it just now
            raise _not_found(request.file_id)
        return DeletedObject(id=request.file_id, object="file", deleted=True)

    async def openai_retrieve_file_content(self, request: FileRef) -> BinaryContent:
        record = await self._live(request.file_id)
        try:
            content = await self._io(self.path(record.id).read_bytes)
        except FileNotFoundError:
            if await self.metadata.get(record.id) is None:  # deleted between the lookup and the read
                raise _not_found(record.id) from None
            log.warning("%s: the bytes of %s are missing from %s", PROVIDER_TYPE, record.id, self.directory)
            raise NotFoundError(f"the content of file '{record.id}' is missing from storage", param="file_id") from None
        except OSError as exc:
            raise ServiceUnavailableError(f"could not read the file: {exc.strerror or exc}") from None
        return BinaryContent(content=content, media_type="application/octet-stream")

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        if not await self._io(os.path.isdir, self.directory):
            return {"status": "Error", "message": f"storage_dir {self.directory} is missing"}
        try:
            await self.metadata.get("file-health-check")
        except ServiceUnavailableError as exc:
            return {"status": "Error", "message": exc.message}
        return {"status": "OK"}

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._pending:  # let uploads that were already writing finish and publish
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._store.close()
        self._executor.shutdown(wait=False)


async def create_provider(config: LocalFSFilesConfig, deps: dict[Any, Any]) -> LocalFSFiles:
    return await LocalFSFiles.create(config)
