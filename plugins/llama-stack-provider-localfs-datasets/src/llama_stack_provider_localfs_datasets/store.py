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

from typing import Any

import orjson
from pydantic import BaseModel

from llama_stack_core.errors import ServiceUnavailableError
from llama_stack_core.storage import KVStore

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


class DatasetStore:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    async def record(self, dataset_id: str) -> DatasetRecord | None:
        raw = await self.kv.get(DATASET_PREFIX + dataset_id)
        return None if raw is None else DatasetRecord.model_validate_json(raw)

    async def put_record(self, dataset_id: str, record: DatasetRecord) -> None:
        await self.kv.set(DATASET_PREFIX + dataset_id, record.model_dump_json())

    async def delete_record(self, dataset_id: str, record: DatasetRecord) -> bool:
        """Delete the record if it is still this one (another process may have replaced it)."""
        key = DATASET_PREFIX + dataset_id
        raw = await self.kv.get(key)
        if raw is None or DatasetRecord.model_validate_json(raw).generation != record.generation:
            return False
        return await self.kv.delete(key)

    async def append(self, generation: str, rows: list[dict[str, Any]]) -> None:
        """File one batch of rows after the last one, atomically (see the module docstring)."""
        prefix = _rows_prefix(generation)
        payload = orjson.dumps(rows).decode()
        for _ in range(APPEND_ATTEMPTS):
            last = await self.kv.scan(prefix, reverse=True, limit=1)
            seq = int(last[0][0][len(prefix) :]) + 1 if last else 0
            if await self.kv.insert(f"{prefix}{seq:0{SEQ_DIGITS}d}", payload):
                return
        raise ServiceUnavailableError("too many appends to this dataset at once; retry")

    async def batches_after(self, generation: str, after: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
        """The batches filed after the key ``after`` (all of them for None), in order, with their keys."""
        found = await self.kv.scan(_rows_prefix(generation), after=after)
        return [(key, orjson.loads(value)) for key, value in found]

    async def drop_rows(self, generation: str) -> int:
        """Delete a generation's appended rows; returns how many batches went."""
        keys = [key for key, _ in await self.kv.scan(_rows_prefix(generation))]
        for key in keys:
            await self.kv.delete(key)
        return len(keys)
