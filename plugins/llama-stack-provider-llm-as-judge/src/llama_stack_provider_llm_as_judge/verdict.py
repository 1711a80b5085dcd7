"""Reading a judge's reply: a regex's group or a field of the first JSON object, optionally mapped to a number."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: How much of a verdict an error message quotes.
QUOTE = 80


class VerdictError(ValueError):
    """A reply no score can be read from."""


def regex_verdict(text: str, patterns: Sequence[re.Pattern[str]]) -> str:
    """Group 1 of the first pattern (in order) that matches anywhere in the text."""
    for pattern in patterns:
        match = pattern.search(text)
        if match is not None and match.group(1) is not None:
            return match.group(1)
    raise VerdictError("the judge's reply matches none of judge_score_regexes")


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in the text (prose or a ```json fence around it is fine)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def json_verdict(text: str, field: str) -> Any:
    """The scalar at ``field`` (a key, or a dotted path into nested objects) of the reply's first JSON object."""
    value: Any = first_json_object(text)
    if value is None:
        raise VerdictError("the judge's reply holds no JSON object")
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            raise VerdictError(f"the judge's JSON verdict has no '{field}' field")
        value = value[key]
    if value is None or isinstance(value, (dict, list)):
        raise VerdictError(f"the judge's JSON verdict field '{field}' is {json.dumps(value)[:QUOTE]}, not a score")
    return value


def map_score(verdict: Any, score_map: Mapping[str, float]) -> float:
    """The number ``score_map`` gives a verdict (non-string verdicts are looked up as JSON text: ``1``, ``true``)."""
    key = verdict if isinstance(verdict, str) else json.dumps(verdict)
    if key not in score_map:
        known = ", ".join(repr(k) for k in score_map)
        raise VerdictError(f"verdict {key[:QUOTE]!r} is not in score_map ({known})")
    return score_map[key]


@dataclass(frozen=True)
class VerdictReader:
    """How one scoring function reads its judge: ``regexes`` (verdict_format regex) or ``json_field`` (json), then
    ``score_map`` if set."""

    regexes: tuple[re.Pattern[str], ...] = ()
    json_field: str | None = None
    score_map: Mapping[str, float] | None = None

    def read(self, text: str) -> Any:
        verdict = json_verdict(text, self.json_field) if self.json_field else regex_verdict(text, self.regexes)
        return map_score(verdict, self.score_map) if self.score_map is not None else verdict
