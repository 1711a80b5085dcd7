"""``inline::localfs`` (datasetio): datasets from inline rows, local files and Files API uploads, read page by page,
with appended rows in the stack's key-value store (:mod:`.store`).

A dataset's rows are its source's rows, then the rows appended to it. A file source is parsed once per version of
the file (:mod:`.cache`, keyed by path, mtime and size, or by Files API id) on a worker thread, never on the event
loop; a local path is checked against ``server.local_access.file_roots`` on every read, not only at registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from llama_stack_core.apis.common import BinaryContent
from llama_stack_core.apis.datasetio import AppendRowsRequest, IterRowsRequest, PaginatedRows
from llama_stack_core.apis.files import FileObject, FileRef
from llama_stack_core.apis.resources import Dataset, DataSource, ResourceSource, RowsDataSource
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import (
    BadRequestError,
    NotFoundError,
    ResourceNotFoundError,
    StackError,
    UnprocessableError,
)
from llama_stack_core.provider_contracts import (
    ReadsDatasetSources,
    RegistersDatasets,
    ReportsHealth,
    ShutsDown,
    UnregistersDatasets,
)
from llama_stack_core.storage import KVStore

from .cache import RowCache
from .config import PROVIDER_TYPE, LocalFSDatasetsConfig
from .formats import FormatError, Parsed, format_of, parse
from .sources import PARAM, LocalFile, TooLargeError, UploadedFile, locate, read_file, stat_file
from .store import DatasetRecord, DatasetStore

log = logging.getLogger(__name__)

Row = dict[str, Any]


def _fingerprint(dataset: Dataset) -> str:
    """What decides a dataset's rows: its source, and the metadata that says how to read it."""
    shape = {
        "source": dataset.source.model_dump(mode="json"),
        "format": dataset.metadata.get("format"),
        "columns": dataset.metadata.get("columns"),
    }
    return hashlib.sha256(orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _unreadable(uri: str, exc: OSError) -> BadRequestError:
    return BadRequestError(f"{PARAM}: '{uri}' cannot be read: {exc.strerror or exc}", param=PARAM)


def _check_format(dataset: Dataset) -> None:
    override = dataset.metadata.get("format")
    if override is not None:
        try:
            format_of("", override)
        except FormatError as exc:
            raise BadRequestError(str(exc), param="metadata.format") from None


def _declared_columns(dataset: Dataset) -> list[str] | None:
    columns = dataset.metadata.get("columns")
    if columns is None:
        return None
    if (
        not isinstance(columns, list)
        or not all(isinstance(c, str) and c for c in columns)
        or len(set(columns)) != len(columns)
    ):
        raise BadRequestError("metadata.columns must be a list of distinct column names", param="metadata.columns")
    return columns


def _columns(
    rows: list[Row], known: list[str] | None, declared: list[str] | None
) -> tuple[list[str] | None, list[str]]:
    """The columns rows may have and those every row must have: ``metadata.columns`` if given, else the file's
    header or schema, else the union of the source rows' keys (None, any object, for no rows at all)."""
    union: dict[str, None] = dict.fromkeys(known or ())
    everywhere: set[str] | None = None
    for row in rows:
        if everywhere is None:
            everywhere = set(row)
        elif len(everywhere) != len(row) or not everywhere.issuperset(row):
            everywhere.intersection_update(row)
        if known is None:
            union.update(dict.fromkeys(row))
    columns = declared if declared is not None else (list(union) if union or known is not None else None)
    if columns is None:
        return None, []
    required = set(columns) if everywhere is None else everywhere & set(columns)
    return columns, [c for c in columns if c in required]


@dataclass
class _Appended:
    """One generation's appended rows, as far as this process has read them."""

    rows: list[Row] = field(default_factory=list)
    last_key: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LocalFSDatasetIO(RegistersDatasets, UnregistersDatasets, ReadsDatasetSources, ReportsHealth, ShutsDown):
    def __init__(self, config: LocalFSDatasetsConfig, kv: KVStore, files: Any = None) -> None:
        self.config = config
        self.store = DatasetStore(kv)
        self._kv = kv
        #: the Files API's router, when the stack serves that API
        self.files = files
        #: datasets this process was told about, by the id requests carry
        self._datasets: dict[str, Dataset] = {}
        self.cache: RowCache[Parsed] = RowCache(config.cache_max_rows, lambda parsed: len(parsed.rows))
        self._appended: dict[str, _Appended] = {}

    # -- which sources ---------------------------------------------------------------------------------------------

    async def reads_dataset_source(self, source: DataSource) -> bool:
        if isinstance(source, RowsDataSource):
            return True
        location = locate(source.uri)
        return isinstance(location, LocalFile) or (isinstance(location, UploadedFile) and self.files is not None)

    # -- reading a source ----------------------------------------------------------------------------------------

    async def _source(self, dataset: Dataset, missing: type[StackError]) -> Parsed:
        """The dataset's source rows. A source that is gone raises ``missing`` (400 at registration, 404 later);
        one that cannot be parsed, or lies outside the allowed places, is a 400 naming ``source.uri``."""
        source = dataset.source
        if isinstance(source, RowsDataSource):
            return Parsed(source.rows)
        location = locate(source.uri)
        if location is None:
            raise BadRequestError(
                f"{PARAM}: {PROVIDER_TYPE} reads file:// URIs, absolute paths and Files API ids (file-...), "
                f"not '{source.uri}'",
                param=PARAM,
            )
        try:
            if isinstance(location, LocalFile):
                return await self._local(location, dataset, missing)
            return await self._uploaded(location, dataset, missing)
        except FormatError as exc:
            raise BadRequestError(f"{PARAM}: '{source.uri}' cannot be read: {exc}", param=PARAM) from None

    async def _local(self, location: LocalFile, dataset: Dataset, missing: type[StackError]) -> Parsed:
        path = await asyncio.to_thread(location.path)  # resolving symlinks touches the disk

        def gone() -> StackError:
            return missing(f"{PARAM}: '{location.uri}' does not exist", param=PARAM)

        try:
            info = await asyncio.to_thread(stat_file, path)
        except FileNotFoundError:
            raise gone() from None
        except OSError as exc:
            raise _unreadable(location.uri, exc) from None
        self._check_size(info.st_size, location.uri)
        fmt = format_of(path.name, dataset.metadata.get("format"))

        async def load() -> Parsed:
            try:
                content = await asyncio.to_thread(read_file, path, self.config.max_source_bytes)
            except FileNotFoundError:
                raise gone() from None
            except TooLargeError:
                raise self._too_large(f"more than {self.config.max_source_bytes}", location.uri) from None
            except OSError as exc:
                raise _unreadable(location.uri, exc) from None
            return await asyncio.to_thread(parse, content, fmt)

        file = ("path", str(path))
        return await self.cache.get(file, (*file, info.st_mtime_ns, info.st_size, fmt), load)

    async def _uploaded(self, location: UploadedFile, dataset: Dataset, missing: type[StackError]) -> Parsed:
        if self.files is None:
            raise BadRequestError(
                f"{PARAM}: '{location.file_id}' is a Files API id, and this stack serves no Files API "
                "(add a provider under providers.files)",
                param=PARAM,
            )
        ref = FileRef(file_id=location.file_id)
        try:
            meta = await self.files.call_as("openai_retrieve_file", ref, FileObject)
        except NotFoundError:
            raise missing(f"{PARAM}: file '{location.file_id}' not found in the Files API", param=PARAM) from None
        self._check_size(meta.bytes, location.file_id)
        fmt = format_of(meta.filename, dataset.metadata.get("format"))

        async def load() -> Parsed:
            content = await self.files.call_as("openai_retrieve_file_content", ref, BinaryContent)
            self._check_size(len(content.content), location.file_id)
            return await asyncio.to_thread(parse, content.content, fmt)

        file = ("file", location.file_id)
        return await self.cache.get(file, (*file, meta.created_at, meta.bytes, fmt), load)

    def _check_size(self, size: int, name: str) -> None:
        if size > self.config.max_source_bytes:
            raise self._too_large(str(size), name)

    def _too_large(self, size: str, name: str) -> BadRequestError:
        return BadRequestError(
            f"{PARAM}: '{name}' is {size} bytes; this provider reads files of at most "
            f"{self.config.max_source_bytes} bytes (max_source_bytes)",
            param=PARAM,
        )

    # -- registration --------------------------------------------------------------------------------------------

    async def register_dataset(self, dataset: Dataset) -> None:
        """Check the source can be read and parsed, and record the dataset's columns. A dataset this store already
        holds (a restart, another process, the run config's same entry again) is taken as recorded, unread."""
        dataset_id = dataset.provider_resource_id or dataset.identifier
        fingerprint = _fingerprint(dataset)
        record = await self.store.record(dataset_id)
        if record is not None and record.identifier != dataset.identifier:
            raise BadRequestError(
                f"provider_dataset_id '{dataset_id}' is already used by dataset '{record.identifier}'",
                param="provider_dataset_id",
            )
        same_registration = record is not None and (
            record.created == dataset.created or dataset.origin != ResourceSource.via_register_api
        )
        if record is not None and same_registration and record.fingerprint == fingerprint:
            self._datasets[dataset_id] = dataset
            return
        _check_format(dataset)
        declared = _declared_columns(dataset)
        parsed = await self._source(dataset, BadRequestError)
        columns, required = _columns(parsed.rows, parsed.columns, declared)
        new = DatasetRecord(
            identifier=dataset.identifier,
            created=dataset.created,
            fingerprint=fingerprint,
            generation=uuid.uuid4().hex,
            columns=columns,
            required=required,
        )
        await self.store.put_record(dataset_id, new)
        if record is not None:  # an earlier registration of the id: its appended rows go with it
            await self.store.drop_rows(record.generation)
            self._appended.pop(record.generation, None)
        self._datasets[dataset_id] = dataset

    async def unregister_dataset(self, dataset: Dataset) -> None:
        """Drop the dataset's appended rows and what this process cached of it (never its source file)."""
        dataset_id = dataset.provider_resource_id or dataset.identifier
        self._datasets.pop(dataset_id, None)
        record = await self.store.record(dataset_id)
        if record is None or record.identifier != dataset.identifier:
            return
        if await self.store.delete_record(dataset_id, record):
            await self.store.drop_rows(record.generation)
        self._appended.pop(record.generation, None)
        location = locate(dataset.source.uri) if not isinstance(dataset.source, RowsDataSource) else None
        if isinstance(location, UploadedFile):
            self.cache.forget(("file", location.file_id))
        elif isinstance(location, LocalFile):
            with contextlib.suppress(StackError):
                self.cache.forget(("path", str(location.path())))

    async def _registered(self, dataset_id: str) -> tuple[Dataset, DatasetRecord]:
        dataset = self._datasets.get(dataset_id)
        record = await self.store.record(dataset_id)
        if dataset is None or record is None or record.identifier != dataset.identifier:
            if dataset is not None:  # unregistered by another process
                self._datasets.pop(dataset_id, None)
            raise ResourceNotFoundError("Dataset", dataset_id)
        return dataset, record

    # -- rows ----------------------------------------------------------------------------------------------------

    async def _appended_rows(self, generation: str) -> list[Row]:
        """The generation's appended rows, reading only the batches filed since this process last looked."""
        appended = self._appended.setdefault(generation, _Appended())
        async with appended.lock:
            for key, rows in await self.store.batches_after(generation, appended.last_key):
                appended.rows.extend(rows)
                appended.last_key = key
        return appended.rows

    async def iterrows(self, request: IterRowsRequest) -> PaginatedRows:
        """Rows ``start_index`` .. ``start_index + limit`` of the source rows followed by the appended ones. A
        ``start_index`` at or past the end is an empty page (``has_more`` false), as upstream answers."""
        dataset, record = await self._registered(request.dataset_id)
        source = (await self._source(dataset, NotFoundError)).rows
        appended = await self._appended_rows(record.generation)
        total = len(source) + len(appended)
        start = request.start_index or 0
        limit = total if request.limit is None or request.limit == -1 else request.limit
        end = max(start, min(start + limit, total))
        split = len(source)
        page = source[start:end] + appended[max(start - split, 0) : max(end - split, 0)]
        has_more = end < total
        return PaginatedRows.model_construct(
            data=[dict(row) for row in page],  # callers may change their rows; the cache keeps its own
            has_more=has_more,
            url=None,
            next_start_index=end if has_more else None,
        )

    async def append_rows(self, request: AppendRowsRequest) -> None:
        """All or none: every row is checked against the dataset's columns before any is stored."""
        _, record = await self._registered(request.dataset_id)
        rows = request.rows
        if len(rows) > self.config.max_append_rows:
            raise UnprocessableError(
                f"rows: at most {self.config.max_append_rows} rows per request (max_append_rows), got {len(rows)}",
                param="rows",
            )
        for index, row in enumerate(rows):
            _check_row(index, row, record)
        if rows:
            await self.store.append(record.generation, rows)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        try:
            await self._kv.get("health-check")
        except Exception as exc:
            return {"status": "Error", "message": f"the datasetio store is unavailable ({type(exc).__name__})"}
        return {"status": "OK"}

    async def shutdown(self) -> None:
        await self._kv.close()


def _check_row(index: int, row: Any, record: DatasetRecord) -> None:
    """A 422 naming ``rows[i]`` or ``rows[i].field`` for a row that does not fit the dataset's columns."""
    if not isinstance(row, dict):
        raise UnprocessableError(f"rows[{index}]: a row must be a JSON object", param=f"rows[{index}]")
    if record.columns is None:
        return
    unknown = next((key for key in row if key not in record.columns), None)
    if unknown is not None:
        raise UnprocessableError(
            f"rows[{index}].{unknown}: unknown column; the dataset's columns are {', '.join(record.columns)}",
            param=f"rows[{index}].{unknown}",
        )
    absent = next((key for key in record.required if key not in row), None)
    if absent is not None:
        raise UnprocessableError(
            f"rows[{index}].{absent}: missing; every row of this dataset has it", param=f"rows[{index}].{absent}"
        )


async def create_provider(config: LocalFSDatasetsConfig, deps: dict[Api, Any]) -> LocalFSDatasetIO:
    kv = await config.persistence.open()
    return LocalFSDatasetIO(config, kv, deps.get(Api.files))
