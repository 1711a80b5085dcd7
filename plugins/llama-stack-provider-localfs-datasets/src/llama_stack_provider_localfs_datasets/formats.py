"""Turning a file's bytes into rows (a list of JSON objects): CSV and TSV (pyarrow, typed columns), JSONL, JSON
(an array of objects, or ``{"rows": [...]}`` / ``{"data": [...]}``) and Parquet (pyarrow).

Blocking and CPU-bound: the provider calls :func:`parse` on a worker thread. pyarrow is imported on the first CSV
or Parquet file. A malformed file raises :class:`FormatError` with the line or row that is wrong.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import orjson

from llama_stack_core.errors import NotConfiguredError

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BOM = b"\xef\xbb\xbf"


class FormatError(ValueError):
    """The bytes are not a dataset in the format they claim (the message says where)."""


@dataclass(frozen=True)
class Parsed:
    """A file's rows, and its columns when the format declares them (a CSV header, a Parquet schema)."""

    rows: list[dict[str, Any]]
    columns: list[str] | None = None


def format_of(name: str, override: Any = None) -> str:
    """The format to read ``name`` as: ``override`` (``metadata.format``) if given, else by its extension."""
    if override is not None:
        if not isinstance(override, str) or override.lower() not in FORMATS:
            raise FormatError(f"metadata.format must be one of {', '.join(FORMATS)}, not {override!r}")
        return override.lower()
    suffix = PurePath(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise FormatError(
            f"cannot tell the format of '{name}' from its extension (known: {', '.join(EXTENSIONS)}); "
            f"set metadata.format to one of {', '.join(FORMATS)}"
        )
    return EXTENSIONS[suffix]


def parse(content: bytes, fmt: str) -> Parsed:
    """The rows in ``content``, read as ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "jsonl":
        return Parsed(_jsonl(content))
    if fmt == "json":
        return Parsed(_json(content))
    if fmt in ("csv", "tsv"):
        return _csv(content, "\t" if fmt == "tsv" else ",")
    if fmt == "parquet":
        return _parquet(content)
    raise FormatError(f"unknown format {fmt!r}")


# -- JSON ----------------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _jsonl(content: bytes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(content.removeprefix(_BOM).split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise FormatError(f"line {number}: a JSONL row must be a JSON object, not {_kind(row)}")
        rows.append(row)
    return rows


def _json(content: bytes) -> list[dict[str, Any]]:
    try:
        document = orjson.loads(content.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    rows = document
    if isinstance(document, dict):
        key = next((k for k in ("rows", "data") if isinstance(document.get(k), list)), None)
        if key is None:
            raise FormatError('a JSON dataset is an array of objects, or an object with a "rows" or "data" array')
        rows = document[key]
    elif not isinstance(document, list):
        raise FormatError(f"a JSON dataset is an array of objects, not {_kind(document)}")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise FormatError(f"row {index}: a row must be a JSON object, not {_kind(row)}")
    return rows


# -- pyarrow (CSV, Parquet) ----------------------------------------------------------------------------------------


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise NotConfiguredError(
            "reading CSV and Parquet datasets needs pyarrow, which is not installed (pip install pyarrow)"
        ) from None
    return pyarrow


_ROW_NUMBER = re.compile(r"Row #(\d+): ")


def _csv(content: bytes, delimiter: str) -> Parsed:
    pa = _pyarrow()
    from pyarrow import csv

    read = csv.ReadOptions(use_threads=False)  # single-threaded: errors name the row (and it is faster here)
    parse_options = csv.ParseOptions(delimiter=delimiter)

    def read_table(column_types: dict[str, Any] | None = None) -> Any:
        convert = csv.ConvertOptions(column_types=column_types or {})
        try:
            return csv.read_csv(
                pa.BufferReader(content), read_options=read, parse_options=parse_options, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            message = str(exc).removeprefix("CSV parse error: ")
            raise FormatError(_ROW_NUMBER.sub(lambda m: f"line {m.group(1)}: ", message)) from None

    table = read_table()
    names = table.column_names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FormatError(f"the header names a column more than once: {', '.join(duplicates)}")
    # Keep dates and times as written: pyarrow would turn "2024-01-01T10:00" into a timestamp.
    temporal = {f.name: pa.string() for f in table.schema if pa.types.is_temporal(f.type)}
    if temporal:
        table = read_table(temporal)
    return Parsed(_arrow_rows(table), names)


def _parquet(content: bytes) -> Parsed:
    pa = _pyarrow()
    from pyarrow import parquet

    try:
        table = parquet.read_table(pa.BufferReader(content))
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"not a readable Parquet file: {exc}") from None
    return Parsed(_arrow_rows(table), table.column_names)


def _arrow_rows(table: Any) -> list[dict[str, Any]]:
    """The table's rows as plain JSON values (dates and times as ISO strings, decimals as strings, bytes as text)."""
    rows: list[dict[str, Any]] = table.to_pylist()
    plain = (int, float, str, bool, type(None))
    odd = [f.name for f in table.schema if not _json_native(f.type)]
    for row in rows if odd else ():
        for name in odd:
            value = row[name]
            if not isinstance(value, plain):
                row[name] = _jsonable(value)
    return rows


def _json_native(arrow_type: Any) -> bool:
    """Whether pyarrow gives only JSON values (numbers, strings, booleans, nulls, lists and maps of them)."""
    import pyarrow as pa

    t = pa.types
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_boolean(arrow_type) or t.is_null(arrow_type):
        return True
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return True
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return _json_native(arrow_type.value_type)
    if t.is_struct(arrow_type):
        return all(_json_native(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):  # an arrow map's pairs
            return {str(k): _jsonable(v) for k, v in value}
        return [_jsonable(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    return value
