"""OpenAI attribute filters as SQL over a JSON ``attributes`` column, with exactly the semantics of
:func:`llama_stack_core.vector_io.index.matches`.

``matches`` is Python: a missing key matches only ``ne``/``nin``; ``1 == 1.0 == True``; ordering a string against a
number is a ``TypeError`` and so no match; ``x in [..]`` is equality with any element. SQLite compares across types
(every number sorts before every string) and its ``json_extract`` turns JSON ``true`` into ``1``, so each comparison
is guarded by the JSON type of the attribute (``json_type``): text only against strings, integer/real/true/false only
against numbers and booleans. Every leaf is ``0`` or ``1``, never NULL, so ``NOT`` gives ``ne``/``nin`` exactly.

What has no exact SQL form (list-valued ``eq``/``ne``/``gt``..., ``in`` with a non-list, keys with quotes or
backslashes, integers beyond 64 bits) raises :class:`Untranslatable`; the caller then evaluates ``matches`` in
Python instead (on distinct attribute sets, so that stays cheap too).
"""

from __future__ import annotations

from typing import Any

import orjson

from llama_stack_core.apis.vector_io import ComparisonFilter

_NUMERIC = "('integer','real','true','false')"
_OPERATORS = {"eq": "=", "ne": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_INT64 = (-(2**63), 2**63 - 1)


class Untranslatable(Exception):
    """This filter has no SQL form with exactly the semantics of ``matches``."""


def _scalar_kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | float):
        return "number"
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise Untranslatable("integer out of SQLite's range")
        return "number"
    raise Untranslatable(f"no SQL form for a {type(value).__name__} value")


def _type_guard(kind: str, column: str) -> str:
    """True when the attribute (path bound as the one parameter) is present with a JSON type of ``kind``."""
    if kind == "text":
        return f"ifnull(json_type({column}, ?), '') = 'text'"
    return f"ifnull(json_type({column}, ?), '') IN {_NUMERIC}"


def compile_filter(filters: Any, column: str = "attributes") -> tuple[str, list[Any]]:
    """``(sql, params)``: a boolean SQL expression over ``column`` (JSON text) equivalent to ``matches(filters, ...)``."""
    if filters.type in ("and", "or"):
        parts = [compile_filter(f, column) for f in filters.filters]
        joiner = " AND " if filters.type == "and" else " OR "
        return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]
    return _compile_comparison(filters, column)


def _compile_comparison(f: ComparisonFilter, column: str) -> tuple[str, list[Any]]:
    key = f.key
    if '"' in key or "\\" in key:
        raise Untranslatable("key needs JSON-path escaping")
    path = f'$."{key}"'
    value = f.value
    if f.type in ("in", "nin"):
        if not isinstance(value, list):
            raise Untranslatable("'in' with a non-list value")  # substring test or TypeError in Python
        texts = [v for v in value if _scalar_kind(v) == "text"]
        numbers = [v for v in value if not isinstance(v, str)]
        parts, params = [], []
        for kind, values in (("text", texts), ("number", numbers)):
            if values:
                guard = _type_guard(kind, column)
                parts.append(f"({guard} AND json_extract({column}, ?) IN (SELECT value FROM json_each(?)))")
                params += [path, path, orjson.dumps(values).decode()]
        sql = "(" + " OR ".join(parts) + ")" if parts else "0"
        return (f"(NOT {sql})" if f.type == "nin" else sql), params
    kind = _scalar_kind(value)
    guard = _type_guard(kind, column)
    sql = f"({guard} AND json_extract({column}, ?) {_OPERATORS[f.type]} ?)"
    params = [path, path, int(value) if isinstance(value, bool) else value]
    return (f"(NOT {sql})" if f.type == "ne" else sql), params
