"""IFEval-style checks of verifiable instructions ("answer in fewer than 100 words", "no commas", "wrap the answer in
double quotes"): each instruction id with its kwargs, checked on the answer as written (strict, the score) and on
its loose readings too (IFEval's loose mode: without its first or last line, or its ``*`` markup).

Every instruction of the IFEval dataset that needs no language detection is supported (see ``CHECKS``); an
unsupported id counts as not followed and is named in the score row, so it can never raise a score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[str, dict[str, Any]], bool]

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_BULLET = re.compile(r"^\s*[*-]\s", re.MULTILINE)
_TITLE = re.compile(r"<<[^\n]+>>")
_HIGHLIGHT = re.compile(r"\*[^\n*]+\*")
_PLACEHOLDER = re.compile(r"\[.*?\]")
_CONSTRAINED = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: Any, n: Any) -> bool:
    """IFEval's relations: ``less than`` n, ``at least`` n."""
    if not isinstance(n, int):
        raise ValueError(f"needs an integer count, got {n!r}")
    if relation == "less than":
        return count < n
    if relation == "at least":
        return count >= n
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _sentences(text: str) -> int:
    return len([s for s in _SENTENCE_END.split(text) if s.strip()])


def _contains_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def _json(text: str) -> bool:
    body = text.strip().removeprefix("```json").removeprefix("```Json").removeprefix("```JSON").removeprefix("```")
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _paragraphs(text: str, divider: str) -> list[str]:
    return [p.strip() for p in re.split(divider, text)]


def _number_paragraphs(text: str, kw: dict[str, Any]) -> bool:
    parts = _paragraphs(text, r"\s?\*\*\*\s?")
    return all(parts) and len(parts) == kw["num_paragraphs"]


def _nth_paragraph_first_word(text: str, kw: dict[str, Any]) -> bool:
    parts = [p for p in _paragraphs(text, r"\n\n") if p]
    nth = kw["nth_paragraph"]
    if len(parts) != kw["num_paragraphs"] or not 1 <= nth <= len(parts):
        return False
    first = _WORD.findall(parts[nth - 1])
    return bool(first) and first[0].lower() == str(kw["first_word"]).lower()


def _sections(text: str, kw: dict[str, Any]) -> bool:
    splitter = re.escape(str(kw["section_spliter"]).strip())
    return len(re.split(rf"\s?{splitter}\s?\d+\s?", text)) - 1 >= kw["num_sections"]


def _postscript(text: str, kw: dict[str, Any]) -> bool:
    marker = str(kw["postscript_marker"]).strip()
    pattern = {"P.P.S": r"\s*p\.\s?p\.\s?s.*$", "P.S.": r"\s*p\.\s?s\..*$"}.get(
        marker, rf"\s*{re.escape(marker.lower())}.*$"
    )
    return re.search(pattern, text.lower(), re.MULTILINE) is not None


def _two_responses(text: str, kw: dict[str, Any]) -> bool:
    parts = [p.strip() for p in text.split("******")]
    return len(parts) == 2 and all(parts) and parts[0] != parts[1]


def _quoted(text: str, kw: dict[str, Any]) -> bool:
    text = text.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


CHECKS: dict[str, Check] = {
    "punctuation:no_comma": lambda t, kw: "," not in t,
    "length_constraints:number_words": lambda t, kw: _compare(_words(t), kw["relation"], kw["num_words"]),
    "length_constraints:number_sentences": lambda t, kw: _compare(_sentences(t), kw["relation"], kw["num_sentences"]),
    "length_constraints:number_paragraphs": _number_paragraphs,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "keywords:existence": lambda t, kw: all(_contains_word(t, k) for k in kw["keywords"]),
    "keywords:forbidden_words": lambda t, kw: not any(_contains_word(t, w) for w in kw["forbidden_words"]),
    "keywords:frequency": lambda t, kw: _compare(
        len(re.findall(re.escape(kw["keyword"]), t, re.IGNORECASE)), kw["relation"], kw["frequency"]
    ),
    "keywords:letter_frequency": lambda t, kw: _compare(
        t.lower().count(str(kw["letter"]).lower()), kw["let_relation"], kw["let_frequency"]
    ),
    "change_case:english_lowercase": lambda t, kw: t == t.lower(),
    "change_case:english_capital": lambda t, kw: t == t.upper(),
    "change_case:capital_word_frequency": lambda t, kw: _compare(
        sum(1 for w in _WORD.findall(t) if w.isupper()), kw["capital_relation"], kw["capital_frequency"]
    ),
    "detectable_format:number_bullet_lists": lambda t, kw: len(_BULLET.findall(t)) == kw["num_bullets"],
    "detectable_format:title": lambda t, kw: _TITLE.search(t) is not None,
    "detectable_format:json_format": lambda t, kw: _json(t),
    "detectable_format:multiple_sections": _sections,
    "detectable_format:constrained_response": lambda t, kw: any(option in t for option in _CONSTRAINED),
    "detectable_format:number_highlighted_sections": lambda t, kw: (
        len([h for h in _HIGHLIGHT.findall(t) if h.strip("*").strip()]) >= kw["num_highlights"]
    ),
    "detectable_content:number_placeholders": lambda t, kw: len(_PLACEHOLDER.findall(t)) >= kw["num_placeholders"],
    "detectable_content:postscript": _postscript,
    "startend:end_checker": lambda t, kw: t.strip().lower().endswith(str(kw["end_phrase"]).strip().lower()),
    "startend:quotation": _quoted,
    "combination:repeat_prompt": lambda t, kw: (
        t.strip().lower().startswith(str(kw["prompt_to_repeat"]).strip().lower())
    ),
    "combination:two_responses": _two_responses,
}


def _kwargs_list(value: Any, count: int) -> list[dict[str, Any]]:
    """The row's ``kwargs``: a list of objects (one per instruction), maybe as JSON text; missing ones empty."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, dict | None) for v in value):
        raise ValueError("kwargs must be a list of objects, one per instruction")
    value = [{k: v for k, v in (item or {}).items() if v is not None} for item in value]
    return value + [{}] * (count - len(value))


def loose_variants(answer: str) -> list[str]:
    """IFEval's loose readings of an answer: without its first line, its last line or both, and each of those and the
    answer itself with ``*`` (markdown emphasis) removed; each once, none empty or the answer itself."""
    if "\n" not in answer and "*" not in answer:
        return []  # each reading is the answer itself, or empty
    lines = answer.split("\n")
    cut = ["\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    variants = (v.strip() for v in (*cut, answer.replace("*", ""), *(v.replace("*", "") for v in cut)))
    return [v for v in dict.fromkeys(variants) if v and v != answer]


def score_instructions(answer: str, instruction_ids: Any, kwargs: Any) -> dict[str, Any]:
    """The score row: the fraction of instructions followed (strict: the answer as written), ``weight`` (how many
    there were), each one's outcome (``followed``, in the order of ``instruction_id_list``), the same in loose mode
    (``loose_score``, ``followed_loose``: followed by the answer or one of its :func:`loose_variants`), and which
    could not be checked."""
    if isinstance(instruction_ids, str):
        instruction_ids = json.loads(instruction_ids)
    if (
        not isinstance(instruction_ids, list)
        or not instruction_ids
        or not all(isinstance(i, str) for i in instruction_ids)
    ):
        raise ValueError("instruction_id_list must be a non-empty list of instruction ids")
    arguments = _kwargs_list(kwargs, len(instruction_ids))
    followed: list[bool] = []
    loose: list[bool] = []
    unsupported: list[str] = []
    problems: dict[str, str] = {}
    variants: list[str] | None = None
    for instruction, kw in zip(instruction_ids, arguments, strict=False):
        check = CHECKS.get(instruction)
        if check is None:
            unsupported.append(instruction)
            followed.append(False)
            loose.append(False)
            continue
        try:
            strictly = bool(check(answer, kw))
            if not strictly and variants is None:
                variants = loose_variants(answer)
            loosely = strictly or any(check(variant, kw) for variant in variants or ())
        except (KeyError, TypeError, ValueError, re.error) as exc:
            strictly = loosely = False
            problems[instruction] = f"bad kwargs: {exc}"
        followed.append(strictly)
        loose.append(loosely)
    row: dict[str, Any] = {
        "score": sum(followed) / len(instruction_ids),
        "weight": len(instruction_ids),
        "followed": followed,
        "loose_score": sum(loose) / len(instruction_ids),
        "followed_loose": loose,
    }
    if unsupported:
        row["unsupported"] = unsupported
    if problems:
        row["problems"] = problems
    return row
