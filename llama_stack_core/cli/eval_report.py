"""``stack eval report``: a ``stack eval run --output`` file as one self-contained HTML page.

The page has no external assets and no script: a header (benchmark, model, rows, times), the aggregates table, a bar
chart of each scoring function's headline score (inline SVG), the score distribution of categorical functions, and
the failing rows (a score of 0, false or null, or an error) with their input, generated and expected answers. Every
value from the file is HTML-escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from .eval_progress import format_duration
from .eval_results import EvalResults, aggregates_table, format_value, read_results

#: the aggregate a function's bar shows, the first one it has
HEADLINE = ("accuracy", "average", "weighted_average", "median")
CHART_HEIGHT = 200
BAR_WIDTH = 48
BAR_SLOT = 110
MAX_FAILING = 1000

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:80rem}
h1{margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem} dl.meta dt{color:#666}
table{border-collapse:collapse;margin:.5rem 0} th,td{border:1px solid #ddd;padding:.3rem .6rem;vertical-align:top}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
td pre{margin:0;white-space:pre-wrap;word-break:break-word;max-width:28rem}
.bar{fill:#3b6fb6} .dist{fill:#8aa9d6} .error{color:#b00020} svg text{font-size:12px}
"""


def render_report(results: EvalResults) -> str:
    """The HTML page of a results file."""
    summary = results.summary
    title = f"Eval: {summary['benchmark_id']} / {summary['model']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        _header(summary),
        _aggregates(summary["aggregates"]),
        _chart(results),
        _distributions(results),
        _failing(results),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _text(value: Any) -> str:
    return escape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _time(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _header(summary: dict[str, Any]) -> str:
    elapsed = summary.get("elapsed_seconds")
    fields = [
        ("benchmark", summary["benchmark_id"]),
        ("dataset", summary.get("dataset_id") or "-"),
        ("model", summary["model"]),
        ("rows", summary["rows"]),
        ("failed rows", summary["failed_rows"]),
        ("status", summary["status"]),
        ("job", summary["job_id"]),
        ("started", _time(summary.get("started_at"))),
        ("completed", _time(summary.get("completed_at"))),
        ("elapsed", format_duration(elapsed) if isinstance(elapsed, (int, float)) else "-"),
    ]
    items = "".join(f'<dt>{escape(k)}</dt><dd class="{escape(k.replace(" ", "-"))}">{_text(v)}</dd>' for k, v in fields)
    return f'<header><h1>{_text(summary["benchmark_id"])}</h1><dl class="meta">{items}</dl></header>'


def _aggregates(aggregates: dict[str, dict[str, Any]]) -> str:
    headers, rows = aggregates_table(aggregates)
    head = "".join(f"<th>{escape(h.lower())}</th>" for h in headers)
    body = "".join(
        "<tr>" + f"<td>{escape(row[0])}</td>" + "".join(f'<td class="num">{escape(c)}</td>' for c in row[1:]) + "</tr>"
        for row in rows
    )
    return f'<section><h2>Aggregates</h2><table class="aggregates"><tr>{head}</tr>{body}</table></section>'


# -- failing rows ---------------------------------------------------------------------------------------------------


def row_fails(score_row: Any) -> bool:
    """A score row that counts as failing: missing, an error, or a score of 0, false or null."""
    if not isinstance(score_row, dict) or score_row.get("error") is not None:
        return True
    score = score_row.get("score")
    if score is None or score is False:
        return True
    if isinstance(score, (int, float)):
        return score == 0
    if isinstance(score, str):
        try:
            return float(score) == 0
        except ValueError:
            return False
    return False


def failing_rows(results: EvalResults) -> list[dict[str, Any]]:
    functions = results.functions
    return [row for row in results.rows if any(row_fails(row["scores"].get(fn)) for fn in functions)]


def pass_rate(results: EvalResults, function: str) -> float:
    """The share of rows whose score for ``function`` does not fail."""
    if not results.rows:
        return 0.0
    return sum(not row_fails(row["scores"].get(function)) for row in results.rows) / len(results.rows)


def _question(row_input: Any) -> Any:
    if isinstance(row_input, dict):
        for key in ("input_query", "chat_completion_input"):
            if key in row_input:
                return row_input[key]
        return {k: v for k, v in row_input.items() if k != "expected_answer"}
    return row_input


def _answer(generation: Any) -> str:
    if isinstance(generation, dict):
        parts = []
        if generation.get("generated_answer") is not None:
            parts.append(_text(generation["generated_answer"]))
        if generation.get("error") is not None:
            parts.append(f'<span class="error">{_text(generation["error"])}</span>')
        if parts:
            return "<br>".join(parts)
    return _text(generation)


def _score_cell(score_row: Any) -> str:
    if not isinstance(score_row, dict):
        return '<td class="error">no score</td>'
    cell = _text(score_row.get("score"))
    if score_row.get("error") is not None:
        cell += f'<br><span class="error">{_text(score_row["error"])}</span>'
    return f"<td>{cell}</td>"


def _failing(results: EvalResults) -> str:
    failing = failing_rows(results)
    functions = results.functions
    heading = f"<h2>Failing rows ({len(failing)} of {len(results.rows)})</h2>"
    if not failing:
        return f"<section>{heading}<p>None.</p></section>"
    head = "<tr><th>#</th><th>input</th><th>generated</th><th>expected</th>"
    head += "".join(f"<th>{escape(fn)}</th>" for fn in functions) + "</tr>"
    body = []
    for row in failing[:MAX_FAILING]:
        row_input = row.get("input")
        expected = row_input.get("expected_answer") if isinstance(row_input, dict) else None
        cells = [
            f'<td class="num">{_text(row["index"])}</td>',
            f"<td><pre>{_text(_question(row_input))}</pre></td>",
            f"<td><pre>{_answer(row.get('generation'))}</pre></td>",
            f"<td><pre>{_text(expected) if expected is not None else '-'}</pre></td>",
            *(_score_cell(row["scores"].get(fn)) for fn in functions),
        ]
        body.append(f'<tr class="failing-row">{"".join(cells)}</tr>')
    more = f"<p>{len(failing) - MAX_FAILING} more failing rows not shown.</p>" if len(failing) > MAX_FAILING else ""
    return f'<section>{heading}<table class="failing">{head}{"".join(body)}</table>{more}</section>'


# -- charts -------------------------------------------------------------------------------------------------------


def headline(results: EvalResults, function: str) -> tuple[str, float]:
    """A function's bar: its first :data:`HEADLINE` aggregate that is a number, else its pass rate over the rows."""
    aggregates = results.summary["aggregates"].get(function) or {}
    for name in HEADLINE:
        value = aggregates.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return name, float(value)
    return "pass rate", pass_rate(results, function)


def _bars(items: list[tuple[str, str, float]], css: str, caption: str) -> str:
    """A vertical bar chart: (label, value label, value) per bar, heights proportional to the values (the scale is
    1, or the largest value when one is above 1)."""
    scale = max([1.0, *(value for _, _, value in items)])
    top, label_room = 20, 150  # labels slant down to the right under their bars: room below and to the right
    width = BAR_SLOT * len(items) + 20 + 240
    shapes = []
    for i, (label, shown, value) in enumerate(items):
        height = round(max(0.0, value) / scale * CHART_HEIGHT, 2)
        x = 20 + i * BAR_SLOT + (BAR_SLOT - BAR_WIDTH) / 2
        y = top + CHART_HEIGHT - height
        center = x + BAR_WIDTH / 2
        base = top + CHART_HEIGHT
        shapes.append(
            f'<rect class="{css}" x="{x}" y="{y}" width="{BAR_WIDTH}" height="{height}" '
            f'data-label="{escape(label)}" data-value="{value!r}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{center}" y="{y - 4}" text-anchor="middle">{escape(shown)}</text>'
            f'<text x="{center}" y="{base + 14}" text-anchor="start" '
            f'transform="rotate(30 {center} {base + 14})">{escape(label)}</text>'
        )
    axis = f'<line x1="10" y1="{top + CHART_HEIGHT}" x2="{width - 240}" y2="{top + CHART_HEIGHT}" stroke="#999"/>'
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + CHART_HEIGHT + label_room}" '
        f'role="img" aria-label="{escape(caption)}">{axis}{"".join(shapes)}</svg>'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _chart(results: EvalResults) -> str:
    items = []
    for function in results.functions:
        name, value = headline(results, function)
        items.append((function, f"{name} {value:.3g}", value))
    if not items:
        return "<section><h2>Scores</h2><p>No scoring functions.</p></section>"
    return (
        f'<section class="chart"><h2>Scores</h2>{_bars(items, "bar", "headline score per scoring function")}</section>'
    )


def distribution(results: EvalResults, function: str) -> dict[str, int] | None:
    """How many rows got each score, for a categorical function: its ``categorical_count`` aggregate, else counted
    from the rows when some score is not a number; None for a numeric function."""
    counts = (results.summary["aggregates"].get(function) or {}).get("categorical_count")
    if isinstance(counts, dict):
        return {str(k): v for k, v in counts.items() if isinstance(v, int)}
    scores = [row["scores"].get(function) for row in results.rows]
    values = [s.get("score") if isinstance(s, dict) else None for s in scores]
    if not any(isinstance(v, str) and not _is_number(v) for v in values):
        return None
    return dict(
        Counter(
            "error" if isinstance(s, dict) and s.get("error") is not None else format_value(v)
            for s, v in zip(scores, values, strict=True)
        )
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _distributions(results: EvalResults) -> str:
    charts = []
    for function in results.functions:
        counts = distribution(results, function)
        if not counts:
            continue
        total = sum(counts.values()) or 1
        items = [(category, str(n), n / total) for category, n in counts.items()]
        chart = _bars(items, "dist", f"{function}: rows per score")
        charts.append(f'<div class="distribution" data-function="{escape(function)}">{chart}</div>')
    if not charts:
        return ""
    return f"<section><h2>Score distributions</h2>{''.join(charts)}</section>"


def cmd_eval_report(args: Any) -> None:
    import sys

    source = Path(args.results)
    page = render_report(read_results(source))
    target = Path(args.output) if args.output else source.with_suffix(".html")
    if target.resolve() == source.resolve():
        from ..errors import ConfigError

        raise ConfigError(f"the report would overwrite {source}; name another file with -o")
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {target}", file=sys.stderr)
