"""Judge prompt templates: Python ``str.format`` syntax with named placeholders only.

A placeholder is one of the row columns of the eval conventions (``{input_query}``, ``{generated_answer}``,
``{expected_answer}``, ``{chat_completion_input}``) or ``{row[COLUMN]}`` for any other column. Literal braces are
written ``{{`` and ``}}``. Attribute access, other indexing, conversions (``!r``) and format specs (``:>10``) are
refused, so a template can read row values and nothing else. A string value is inserted as it is; any other value
(a list of messages, a number) as JSON.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Any

#: the placeholders named after the eval row conventions
KNOWN_FIELDS = ("input_query", "generated_answer", "expected_answer", "chat_completion_input")
#: ``{row[COLUMN]}``: any other column of the row
_ROW_COLUMN = re.compile(r"row\[([^\[\]{}]+)\]")
KNOWN_PLACEHOLDERS = ", ".join([*(f"{{{name}}}" for name in KNOWN_FIELDS), "{row[COLUMN]}"])


class TemplateError(ValueError):
    """A template that cannot be used; the message says why and lists the known placeholders."""


class MissingColumn(KeyError):
    """A row lacks a column the template reads."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


class NullColumn(ValueError):
    """A row's column the template reads is null (e.g. a generation that failed)."""

    def __init__(self, column: str) -> None:
        super().__init__(f"the row's '{column}' is null: nothing to judge")
        self.column = column


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    #: the template as (literal text, column or None) pieces
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The row columns the template reads, each once, in order."""
        return tuple(dict.fromkeys(column for _, column in self.pieces if column is not None))

    @classmethod
    def parse(cls, text: str) -> PromptTemplate:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:  # an unmatched brace
            raise TemplateError(f"{exc}; write a literal brace as {{{{ or }}}}") from None
        pieces = []
        for literal, field, format_spec, conversion in parsed:
            column = None if field is None else _column(field, format_spec, conversion)
            pieces.append((literal, column))
        template = cls(text, tuple(pieces))
        if not template.columns:
            raise TemplateError(f"the template reads no row column; use some of {KNOWN_PLACEHOLDERS}")
        return template

    def missing_columns(self, row: dict[str, Any]) -> list[str]:
        return [column for column in self.columns if column not in row]

    def render(self, row: dict[str, Any]) -> str:
        """The prompt for one row; :class:`MissingColumn` or :class:`NullColumn` when it cannot be made."""
        out = []
        for literal, column in self.pieces:
            out.append(literal)
            if column is None:
                continue
            if column not in row:
                raise MissingColumn(column)
            value = row[column]
            if value is None:
                raise NullColumn(column)
            out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
        return "".join(out)


def _column(field: str, format_spec: str | None, conversion: str | None) -> str:
    """The row column a placeholder reads, or TemplateError."""
    shown = "{" + field + "}"
    if field in KNOWN_FIELDS:
        column = field
    elif (match := _ROW_COLUMN.fullmatch(field)) is not None:
        column = match.group(1)
    elif field == "row":
        raise TemplateError(f"placeholder {shown} needs a column: {{row[COLUMN]}}")
    else:
        raise TemplateError(
            f"unknown placeholder {shown}; known: {KNOWN_PLACEHOLDERS}; write a literal brace as {{{{ or }}}}"
        )
    if conversion or format_spec:
        raise TemplateError(f"placeholder {shown}: conversions (!r) and format specs (:...) are not supported")
    return column
