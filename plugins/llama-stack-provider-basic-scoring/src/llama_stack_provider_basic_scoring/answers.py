"""Reading the answer out of a model's text: a choice letter, or the final answer of a worked math solution, each
normalised so equal answers compare equal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

#: full-width letters and the Arabic letters multilingual benchmarks use for A-D, as ASCII
_LETTERS = {**{chr(0xFF21 + i): chr(ord("A") + i) for i in range(26)}, "أ": "A", "ب": "B", "ج": "C", "د": "D"}


def choice(text: str) -> str:
    """A choice letter (or any parsed answer) as comparable text: trimmed, ASCII, upper case."""
    text = text.strip().strip("*()[]. ").strip()
    return "".join(_LETTERS.get(c, c) for c in text).upper()


def first_group(text: str, patterns: Sequence[Any], timeout: float | None = None) -> str | None:
    """The first group of the first pattern (compiled with the ``regex`` module) that matches ``text``, or None; a
    search that runs over ``timeout`` seconds raises TimeoutError."""
    for pattern in patterns:
        found = pattern.search(text, timeout=timeout)
        if found is not None:
            return found.group(1)
    return None


# -- math ----------------------------------------------------------------------------------------------------------

_ANSWER_IS = re.compile(r"(?i)(?:final answer|the answer)\s*(?:is|:)\s*:?\s*(.+)")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_SHORT_FRAC = re.compile(r"\\[dt]?frac(\d)(\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_UNITS = re.compile(r"\s*(?:\\%|%|\\circ|°|degrees?|dollars?|units?|cm|m|km|kg|g|s)\s*$")


def boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced; None without one."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, begin = 1, i
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[begin : i - 1] if depth == 0 else None


def final_answer(text: str, patterns: Sequence[Any] = (), timeout: float | None = None) -> str | None:
    """A worked solution's final answer: the params' patterns first (see :func:`first_group`), then the last
    ``\\boxed{}``, then "the answer is ..." (to the end of its line)."""
    found = first_group(text, patterns, timeout) if patterns else None
    if found is None:
        found = boxed(text)
    if found is None:
        match = None
        for match in _ANSWER_IS.finditer(text):  # noqa: B007 (the last one)
            pass
        found = match.group(1) if match else None
    return found


def normalise_math(answer: str) -> str:
    """LaTeX and prose trimmed off an answer: ``$``, ``\\left``/``\\right``, ``\\text{}``, units, a leading ``x =``,
    thousands separators and trailing dots; ``\\frac{a}{b}`` as ``a/b``."""
    answer = boxed(answer) or answer
    answer = answer.strip().strip("$").strip()
    answer = answer.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    answer = answer.replace("\\displaystyle", "").replace("^\\circ", "").replace("^{\\circ}", "")
    answer = _TEXT.sub(r"\1", answer)
    answer = _FRAC.sub(r"(\1)/(\2)", answer)
    answer = _SHORT_FRAC.sub(r"\1/\2", answer)
    answer = _THOUSANDS.sub("", answer).rstrip(".")
    answer = _UNITS.sub("", answer)
    answer = re.sub(r"^[a-zA-Z]\s*=\s*", "", answer)
    answer = answer.rstrip(".").replace(" ", "")
    answer = re.sub(r"^\((\d+)\)/\((\d+)\)$", r"\1/\2", answer)
    return answer


def _number(answer: str) -> Fraction | None:
    try:
        return Fraction(answer)
    except (ValueError, ZeroDivisionError):
        return None


def same_math_answer(got: str, expected: str) -> bool:
    """Whether two final answers agree: as numbers when both read as numbers (0.5 and 1/2), else as normalised
    text."""
    got, expected = normalise_math(got), normalise_math(expected)
    a, b = _number(got), _number(expected)
    if a is not None and b is not None:
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    return got == expected
