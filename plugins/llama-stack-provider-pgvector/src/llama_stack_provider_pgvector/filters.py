"""OpenAI attribute filters as SQL over the ``attributes`` JSONB column, with the semantics of
:func:`llama_stack_core.vector_io.index.matches` (the Python reference).

The SQL text holds no user data: keys and values travel as bound parameters (JSONB documents, a jsonpath, text).
- ``eq`` / ``ne`` / ``in`` / ``nin`` on scalars use JSONB containment (``attributes @> '{"k": v}'``), which the GIN
  ``jsonb_path_ops`` index serves; containment compares numbers numerically (2020 = 2020.0) and never matches a
  string against a number, like Python.
- ``gt`` / ``gte`` / ``lt`` / ``lte`` use a strict-mode jsonpath (``attributes @@ 'strict $."k" > v'``): numbers
  compare with numbers and strings with strings (by code point, like Python); a missing key or a value of another
  type gives no match instead of an error.
- A missing key matches ``ne`` and ``nin`` only, as in ``matches()``.
Known differences from Python: booleans are not numbers here (``True == 1`` in Python, ``true != 1`` in JSON).
"""

from __future__ import annotations

import json
import math
from typing import Any

from psycopg.types.json import Jsonb

from llama_stack_core.apis.vector_io import CompoundFilter
from llama_stack_core.errors import BadRequestError

COLUMN = "attributes"
_SCALARS = (str, bool, int, float)


def filter_sql(filters: Any, params: list[Any]) -> str:
    """A boolean SQL expression for ``filters``; appends its parameters to ``params`` in placeholder order."""
    if isinstance(filters, CompoundFilter) or filters.type in ("and", "or"):
        parts = [filter_sql(f, params) for f in filters.filters]
        joiner = " AND " if filters.type == "and" else " OR "
        return "(" + joiner.join(parts) + ")"
    key, op, value = filters.key, filters.type, filters.value
    _check_finite(value)
    match op:
        case "eq":
            return _eq(key, value, params)
        case "ne":
            return f"(NOT {_eq(key, value, params, null_safe=True)})"
        case "gt" | "gte" | "lt" | "lte":
            return _compare(key, op, value, params)
        case "in":
            return _in(key, value, params)
        case "nin":
            return _nin(key, value, params)
    raise BadRequestError(f"unknown filter type '{op}'", param="filters")


def _check_finite(value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise BadRequestError("filter values must be finite numbers", param="filters")


def _eq(key: str, value: Any, params: list[Any], null_safe: bool = False) -> str:
    """``attributes[key] == value``; never NULL when ``null_safe`` (so NOT of it is the Python ``!=``)."""
    if isinstance(value, _SCALARS):
        # Containment of a scalar is equality (an array attribute does not contain a scalar at a nested key).
        params.append(Jsonb({key: value}))
        return f"({COLUMN} @> %s)"
    params.extend((key, Jsonb(value)))
    if null_safe:
        return f"coalesce({COLUMN} -> %s = %s, false)"
    return f"({COLUMN} -> %s = %s)"


def _in(key: str, value: Any, params: list[Any]) -> str:
    if isinstance(value, list):
        if not value:
            return "false"
        return "(" + " OR ".join(_eq(key, v, params, null_safe=True) for v in value) + ")"
    if isinstance(value, str):  # Python's ``actual in "text"``: a substring test, for string attributes only
        params.extend((key, value, key))
        return f"(jsonb_typeof({COLUMN} -> %s) = 'string' AND strpos(%s, {COLUMN} ->> %s) > 0)"
    return "false"  # ``x in 5`` is a TypeError in Python: no match


def _nin(key: str, value: Any, params: list[Any]) -> str:
    if isinstance(value, list):
        return f"(NOT {_in(key, value, params)})"
    if isinstance(value, str):
        params.extend((key, key, value, key))
        return f"(NOT ({COLUMN} ? %s) OR (jsonb_typeof({COLUMN} -> %s) = 'string' AND strpos(%s, {COLUMN} ->> %s) = 0))"
    params.append(key)
    return f"(NOT ({COLUMN} ? %s))"  # only a missing key matches: ``x not in 5`` is a TypeError


_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compare(key: str, op: str, value: Any, params: list[Any]) -> str:
    if isinstance(value, list):
        return "false"  # attribute values are scalars; a scalar compared with a list is a TypeError in Python
    params.append(f"strict $.{_literal(key)} {_OPERATORS[op]} {_literal(value)}")
    return f"coalesce({COLUMN} @@ %s::jsonpath, false)"


def _literal(value: Any) -> str:
    """A jsonpath literal (strings, keys, numbers, booleans have JSON's syntax in jsonpath)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite (checked): 2020.0, 1e-05, 1e+16 are all jsonpath numbers
    return json.dumps(value, ensure_ascii=False)
