"""The results file of ``stack eval run --output`` (JSON Lines), written and read back by ``stack eval report``.

One line per evaluated row, in dataset order, then one summary line::

    {"type": "row", "index": 0, "input": {...dataset row...}, "generation": {"generated_answer": "..."},
     "scores": {"basic::equality": {"score": 1.0}, ...}}
    {"type": "summary", "benchmark_id": "mmlu-mini", "dataset_id": "mmlu-rows", "model": "llama3",
     "job_id": "...", "status": "completed", "rows": 2, "failed_rows": 0,
     "aggregates": {"basic::equality": {"accuracy": 0.5, "num_correct": 1, "num_total": 2}},
     "started_at": 1767225600, "completed_at": 1767225612, "elapsed_seconds": 12.31}

``generation`` and each score row are the job result's, untouched (a row that could not be scored has
``{"score": null, "error": "..."}``); ``aggregates`` are each scoring function's ``aggregated_results``.
``started_at`` / ``completed_at`` are the job's (Unix seconds, null if the server did not say); ``elapsed_seconds``
is the wall time the command measured from starting the job to reading its result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ROW_KEYS = ("index", "input", "generation", "scores")
SUMMARY_KEYS = ("benchmark_id", "model", "job_id", "status", "rows", "failed_rows", "aggregates")


@dataclass
class EvalResults:
    """A results file read back: its row records and its summary record."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]

    @property
    def functions(self) -> list[str]:
        """The scoring functions, in the order the summary lists them."""
        return list(self.summary["aggregates"])


def result_records(
    *,
    benchmark: dict[str, Any],
    model: str,
    job: dict[str, Any],
    result: dict[str, Any],
    input_rows: Sequence[dict[str, Any]],
    elapsed_seconds: float,
) -> list[dict[str, Any]]:
    """The records of a finished job: one per generation (with its dataset row and each function's score row), then
    the summary. ``result`` is the job result (``{generations, scores}``), ``job`` its final status."""
    generations = result.get("generations") or []
    scores = result.get("scores") or {}
    records: list[dict[str, Any]] = []
    for index, generation in enumerate(generations):
        row_scores = {fn: _at(scored.get("score_rows") or [], index) for fn, scored in scores.items()}
        records.append(
            {
                "type": "row",
                "index": index,
                "input": _at(input_rows, index),
                "generation": generation,
                "scores": row_scores,
            }
        )
    progress = job.get("progress") or {}
    records.append(
        {
            "type": "summary",
            "benchmark_id": benchmark.get("identifier"),
            "dataset_id": benchmark.get("dataset_id"),
            "model": model,
            "job_id": job.get("job_id"),
            "status": job.get("status"),
            "rows": len(generations),
            "failed_rows": progress.get("failed_rows", 0),
            "aggregates": {fn: scored.get("aggregated_results") or {} for fn, scored in scores.items()},
            "started_at": job.get("started_at"),
            "completed_at": job.get("completed_at"),
            "elapsed_seconds": round(elapsed_seconds, 3),
        }
    )
    return records


def _at(items: Sequence[Any], index: int) -> Any:
    return items[index] if index < len(items) else None


def write_results(path: Path, records: Iterable[dict[str, Any]]) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_results(path: Path) -> EvalResults:
    """Read a results file; anything that is not one (missing, not JSON lines, no summary) is a ConfigError."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot read {path}: {reason}") from None
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if summary is not None:
            raise ConfigError(f"{where}: a line after the summary line (not a `stack eval run --output` file?)")
        try:
            record = json.loads(line)
        except ValueError:
            raise ConfigError(f"{where}: not JSON (not a `stack eval run --output` file?)") from None
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "row":
            _require(record, ROW_KEYS, where)
            rows.append(record)
        elif kind == "summary":
            _require(record, SUMMARY_KEYS, where)
            if not isinstance(record["aggregates"], dict):
                raise ConfigError(f"{where}: 'aggregates' is not an object")
            summary = record
        else:
            raise ConfigError(f"{where}: not a row or summary record (not a `stack eval run --output` file?)")
    if summary is None:
        raise ConfigError(f"{path}: no summary line (an empty or unfinished `stack eval run --output` file?)")
    return EvalResults(rows, summary)


def _require(record: dict[str, Any], keys: Sequence[str], where: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise ConfigError(f"{where}: {record['type']} record without {', '.join(missing)}")


# -- the aggregates as a table ------------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """An aggregate for a table cell: floats rounded to 4 decimals, counts as ``key=n`` pairs."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return str(round(value, 4))
    if isinstance(value, dict):
        return " ".join(f"{key}={format_value(count)}" for key, count in value.items())
    return str(value)


def aggregates_table(aggregates: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: one row per scoring function, one column per aggregate any function has (``-`` where a
    function lacks it), in the order they first appear."""
    names = list(dict.fromkeys(name for results in aggregates.values() for name in results))
    rows = [
        [fn, *(format_value(results[n]) if n in results else "-" for n in names)] for fn, results in aggregates.items()
    ]
    return ["FUNCTION", *(name.upper() for name in names)], rows
