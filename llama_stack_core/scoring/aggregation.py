"""The aggregation functions of the Scoring API, over one scoring function's score rows.

A score row is ``{"score": value, ...}``. A row that could not be scored (its generation or its judge failed)
carries ``"error": message`` (see :func:`error_row`): the numeric aggregations count it as a wrong answer (0), never
skip it, so failures cannot raise a score; ``categorical_count`` counts it under ``"error"``; and every aggregate
then says how many rows failed (``num_errors``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..apis.common import AggregationFunction

SCORE = "score"
ERROR = "error"
#: the row field ``weighted_average`` weighs each score by (1 when absent)
WEIGHT = "weight"


def error_row(message: str, **extra: Any) -> dict[str, Any]:
    """The score row of a row that could not be scored."""
    return {SCORE: None, ERROR: message, **extra}


def numeric(value: Any) -> float | None:
    """A score as a number (booleans as 1/0, numeric strings parsed), or None if it is not one."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _numbers(score_rows: Sequence[dict[str, Any]]) -> list[float]:
    return [0.0 if row.get(ERROR) is not None else (numeric(row.get(SCORE)) or 0.0) for row in score_rows]


def _accuracy(score_rows: Sequence[dict[str, Any]], _: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    numbers = _numbers(score_rows)
    correct = sum(1 for n in numbers if n == 1.0)
    return {"accuracy": correct / len(numbers) if numbers else 0.0, "num_correct": correct, "num_total": len(numbers)}


def _average(score_rows: Sequence[dict[str, Any]], _: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    numbers = _numbers(score_rows)
    return {"average": statistics.fmean(numbers) if numbers else 0.0}


def _weighted_average(
    score_rows: Sequence[dict[str, Any]], input_rows: Sequence[dict[str, Any]] | None
) -> dict[str, Any]:
    numbers = _numbers(score_rows)
    weights = [_weight(row, input_rows[i] if input_rows else None) for i, row in enumerate(score_rows)]
    total = sum(weights)
    return {"weighted_average": sum(n * w for n, w in zip(numbers, weights, strict=True)) / total if total else 0.0}


def _weight(score_row: dict[str, Any], input_row: dict[str, Any] | None) -> float:
    for source in (score_row, input_row or {}):
        weight = numeric(source.get(WEIGHT))
        if weight is not None:
            return weight
    return 1.0


def _median(score_rows: Sequence[dict[str, Any]], _: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    numbers = _numbers(score_rows)
    return {"median": statistics.median(numbers) if numbers else 0.0}


def _categorical_count(score_rows: Sequence[dict[str, Any]], _: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    counts = Counter(ERROR if row.get(ERROR) is not None else _category(row.get(SCORE)) for row in score_rows)
    return {"categorical_count": dict(counts)}


def _category(value: Any) -> str:
    number = numeric(value) if not isinstance(value, str) else None
    return str(value) if number is None else f"{number:g}"


AGGREGATIONS: dict[str, Callable[[Sequence[dict[str, Any]], Sequence[dict[str, Any]] | None], dict[str, Any]]] = {
    "accuracy": _accuracy,
    "average": _average,
    "weighted_average": _weighted_average,
    "median": _median,
    "categorical_count": _categorical_count,
}


def aggregate(
    score_rows: Sequence[dict[str, Any]],
    functions: Iterable[AggregationFunction],
    input_rows: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The aggregated results of one scoring function: each function's keys, merged, plus ``num_errors`` when any
    row failed. ``input_rows`` (the scored rows, same order) supply ``weight`` to ``weighted_average``."""
    results: dict[str, Any] = {}
    for name in dict.fromkeys(functions):
        results.update(AGGREGATIONS[name](score_rows, input_rows))
    errors = sum(1 for row in score_rows if row.get(ERROR) is not None)
    if errors:
        results["num_errors"] = errors
    return results


def functions_of(aggregated_results: dict[str, Any]) -> list[AggregationFunction]:
    """The aggregation functions whose results these are (each function's keys all present), in their order: how
    to aggregate again, the same way, score rows a provider aggregated."""
    keys = set(aggregated_results)
    found: list[AggregationFunction] = []
    for name, function in AGGREGATIONS.items():
        own = set(function([], None))
        if own <= keys:
            found.append(name)  # type: ignore[arg-type]
    return sorted(found, key=lambda name: list(aggregated_results).index(next(iter(AGGREGATIONS[name]([], None)))))
