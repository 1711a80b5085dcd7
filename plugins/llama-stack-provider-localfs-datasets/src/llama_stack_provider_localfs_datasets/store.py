"""What the provider keeps in its key-value store: one record per dataset and the rows appended to it.

Layout (within the configured namespace):

- ``dataset:<provider dataset id>`` -> a :class:`DatasetRecord` (JSON): which registration it is, its columns, and
  the ``generation`` its appended rows are filed under (a new registration of the id starts a new generation).
- ``rows:<generation>:<seq, 12 digits>`` -> one append request's rows (a JSON array), written with ``insert`` at the
  next free ``seq``. An append is one key, so it lands whole or not at all, and two processes appending at once
  never overwrite each other: the loser of a ``seq`` retries at the next one. A ``seq`` is only taken once the one
  before it is committed, so readers see an append-only sequence and can read just the batches past the last one
  they saw.

The user's source file is never written.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from llama_stack_core.errors import ServiceUnavailableError, StackError
from llama_stack_core.storage import KVStore

log = logging.getLogger(__name__)
T = TypeVar("T")

DATASET_PREFIX = "dataset:"
ROWS_PREFIX = "rows:"
SEQ_DIGITS = 12
#: tries at the next free seq before an append gives up (each loss means another append landed)
APPEND_ATTEMPTS = 100


class DatasetRecord(BaseModel):
    identifier: str
    created: int
    #: digest of the source and the metadata that shape reading it (format, columns)
    fingerprint: str
    generation: str
    #: the columns rows may have; None: any object is a row (no source rows and no ``metadata.columns``)
    columns: list[str] | None = None
    #: the columns every row must have
    required: list[str] = []


def _rows_prefix(generation: str) -> str:
    return f"{ROWS_PREFIX}{generation}:"


async def _guarded(what: str, call: Awaitable[T]) -> T:
    """A store failure (database down, locked, a record that does not parse) is a 503, not a 500."""
    try:
        return await call
    except StackError:
        raise
    except Exception as exc:
        log.warning("inline::localfs datasetio: the store failed to %s: %s: %s", what, type(exc).__name__, exc)
        raise ServiceUnavailableError(f"the datasetio store is unavailable ({type(exc).__name__})") from None


class DatasetStore:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    async def _record(self, dataset_id: str) -> DatasetRecord | None:
        raw = await self.kv.get(DATASET_PREFIX + dataset_id)
        return None if raw is None else DatasetRecord.model_validate_json(raw)

    async def record(self, dataset_id: str) -> DatasetRecord | None:
        return await _guarded("read a dataset record", self._record(dataset_id))

    async def put_record(self, dataset_id: str, record: DatasetRecord) -> None:
        await _guarded("write a dataset record", self.kv.set(DATASET_PREFIX + dataset_id, record.model_dump_json()))

    async def delete_record(self, dataset_id: str, record: DatasetRecord) -> bool:
        """Delete the record if it is still this one (another process may have replaced it)."""
        current = await self.record(dataset_id)
        if current is None or current.generation != record.generation:
            return False
        return await _guarded("delete a dataset record", self.kv.delete(DATASET_PREFIX + dataset_id))

    async def _append(self, prefix: str, payload: str) -> bool:
        last = await self.kv.scan(prefix, reverse=True, limit=1)
        seq = int(last[0][0][len(prefix) :]) + 1 if last else 0
        return await self.kv.insert(f"{prefix}{seq:0{SEQ_DIGITS}d}", payload)

    async def append(self, generation: str, rows: list[dict[str, Any]]) -> None:
        """File one batch of rows after the last one, atomically (see the module docstring)."""
        prefix = _rows_prefix(generation)
        payload = orjson.dumps(rows).decode()
        for _ in range(APPEND_ATTEMPTS):
            if await _guarded("append rows", self._append(prefix, payload)):
                return
        raise ServiceUnavailableError("too many appends to this dataset at once; retry")

    async def _batches_after(self, generation: str, after: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
        found = await self.kv.scan(_rows_prefix(generation), after=after)
        return [(key, orjson.loads(value)) for key, value in found]

    async def batches_after(self, generation: str, after: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
        """The batches filed after the key ``after`` (all of them for None), in order, with their keys."""
        return await _guarded("read appended rows", self._batches_after(generation, after))

    async def _drop_rows(self, generation: str) -> int:
        keys = [key for key, _ in await self.kv.scan(_rows_prefix(generation))]
        for key in keys:
            await self.kv.delete(key)
        return len(keys)

    async def drop_rows(self, generation: str) -> int:
        """Delete a generation's appended rows; returns how many batches went."""
        return await _guarded("delete appended rows", self._drop_rows(generation))
