"""One scorer per function and params: a function from an input row to its score row, and the aggregation functions
its results get. Params are checked when the scorer is built (a ``ValueError`` naming the param)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from llama_stack_core.apis.common import AggregationFunction
from llama_stack_core.scoring.aggregation import error_row

from . import answers
from .functions import EQUALITY, FUNCTIONS, IFEVAL, MATH, MULTIPLE_CHOICE, SUBSET_OF
from .ifeval import score_instructions

GENERATED, EXPECTED = "generated_answer", "expected_answer"
#: the param types each function takes (multiple choice and math also take plain ``basic``: their default regexes)
PARAM_TYPES = {
    EQUALITY: ("basic",),
    SUBSET_OF: ("basic",),
    IFEVAL: ("basic",),
    MULTIPLE_CHOICE: ("regex_parser", "basic"),
    MATH: ("regex_parser", "basic"),
}

Row = dict[str, Any]
Pattern = Any  # regex.Pattern (the module has no type stubs)
#: seconds one parsing-regex search may take on one row (the provider config's regex_timeout_ms)
DEFAULT_REGEX_TIMEOUT = 0.25


@dataclass(frozen=True)
class Scorer:
    score_row: Callable[[Row], Row]
    aggregations: list[AggregationFunction]


def _columns(row: Row, *names: str) -> list[Any] | Row:
    """The row's values of ``names``, or the error row naming the first one missing."""
    values = []
    for name in names:
        value = row.get(name)
        if value is None:
            return error_row(f"the row has no {name}")
        values.append(value)
    return values


def _equality(row: Row) -> Row:
    found = _columns(row, GENERATED, EXPECTED)
    if isinstance(found, dict):
        return found
    generated, expected = found
    return {"score": 1.0 if generated == expected else 0.0}


def _subset_of(row: Row) -> Row:
    found = _columns(row, GENERATED, EXPECTED)
    if isinstance(found, dict):
        return found
    generated, expected = found
    return {"score": 1.0 if str(expected) in str(generated) else 0.0}


def _parsed_answer(
    parse: Callable[[str], str | None],
    shown: Callable[[str], str],
    same: Callable[[str, str], bool],
    timeout: float | None,
) -> Callable[[Row], Row]:
    """A scorer that reads the answer out of ``generated_answer`` (``parse``) and compares it with the expected one:
    the score row carries the answer as read (``shown``), None when there was none to read. A parsing regex that
    runs over its time limit on a row makes that row an error row."""

    def score(row: Row) -> Row:
        found = _columns(row, GENERATED, EXPECTED)
        if isinstance(found, dict):
            return found
        generated, expected = found
        try:
            parsed = parse(str(generated))
        except TimeoutError:
            return error_row(f"a parsing regex ran over its {timeout * 1000:g} ms limit on this row")
        if parsed is None:
            return {"score": 0.0, "parsed_answer": None}
        return {"score": 1.0 if same(parsed, str(expected)) else 0.0, "parsed_answer": shown(parsed)}

    return score


def _multiple_choice(patterns: list[Pattern], timeout: float) -> Callable[[Row], Row]:
    return _parsed_answer(
        lambda text: answers.first_group(text, patterns, timeout),
        answers.choice,
        lambda parsed, expected: answers.choice(parsed) == answers.choice(expected),
        timeout,
    )


def _math(patterns: list[Pattern], timeout: float) -> Callable[[Row], Row]:
    return _parsed_answer(
        lambda text: answers.final_answer(text, patterns, timeout),
        answers.normalise_math,
        answers.same_math_answer,
        timeout,
    )


def _ifeval(row: Row) -> Row:
    found = _columns(row, GENERATED, "instruction_id_list")
    if isinstance(found, dict):
        return found
    generated, instruction_ids = found
    try:
        return score_instructions(str(generated), instruction_ids, row.get("kwargs"))
    except ValueError as exc:
        return error_row(str(exc))


def _patterns(regexes: list[str]) -> list[Pattern]:
    """The parsing regexes compiled with the ``regex`` module (its searches take a time limit: a pattern that
    backtracks without end fails one row instead of holding the server, which ``re`` would)."""
    compiled = []
    for i, expression in enumerate(regexes):
        try:
            pattern = regex.compile(expression)
        except (regex.error, ValueError) as exc:
            raise ValueError(f"params.parsing_regexes.{i}: not a valid regular expression ({exc})") from None
        if pattern.groups < 1:
            raise ValueError(f"params.parsing_regexes.{i}: needs a group capturing the answer")
        compiled.append(pattern)
    return compiled


def build_scorer(
    function_id: str, params: dict[str, Any] | None, regex_timeout: float = DEFAULT_REGEX_TIMEOUT
) -> Scorer:
    """The scorer of a built-in function with the given params (None: the function's defaults); each search of a
    parsing regex may take ``regex_timeout`` seconds."""
    defaults = FUNCTIONS[function_id].params
    params = params or defaults
    kind = params.get("type", "basic")
    if kind not in PARAM_TYPES[function_id]:
        allowed = " or ".join(f"'{t}'" for t in PARAM_TYPES[function_id])
        raise ValueError(f"params.type must be {allowed} for this function, not '{kind}'")
    aggregations = list(params.get("aggregation_functions") or defaults["aggregation_functions"])
    regexes = params.get("parsing_regexes") if kind == "regex_parser" else None
    if function_id == MULTIPLE_CHOICE:
        score = _multiple_choice(_patterns(regexes or defaults["parsing_regexes"]), regex_timeout)
    elif function_id == MATH:
        score = _math(_patterns(regexes or []), regex_timeout)
    else:
        score = {EQUALITY: _equality, SUBSET_OF: _subset_of, IFEVAL: _ifeval}[function_id]
    return Scorer(score, aggregations)
