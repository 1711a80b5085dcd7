"""A judge function's params: checked when a function is registered and when a request overrides them, merged, and
completed into the :class:`Judge` that scores rows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llama_stack_core.apis.common import AggregationFunction
from llama_stack_core.errors import BadRequestError

from .template import PromptTemplate
from .verdict import VerdictReader


class JudgeParams(BaseModel):
    """``params`` of a function on this provider: upstream's ``llm_as_judge`` fields plus the verdict parser options.
    Every field may be left out at registration; a score request must end up with a judge_model, a prompt_template
    and (verdict_format regex) judge_score_regexes."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["llm_as_judge"] = "llm_as_judge"
    judge_model: str | None = Field(default=None, min_length=1)
    prompt_template: str | None = Field(default=None, min_length=1)
    judge_score_regexes: list[str] = Field(default_factory=list)
    aggregation_functions: list[AggregationFunction] = Field(default_factory=list)
    verdict_format: Literal["regex", "json"] = "regex"
    json_score_field: str = Field(default="score", min_length=1)
    score_map: dict[str, float] | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, text: str | None) -> str | None:
        if text is not None:
            PromptTemplate.parse(text)  # TemplateError is a ValueError: pydantic reports it on the field
        return text

    @field_validator("judge_score_regexes")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                groups = re.compile(pattern).groups
            except re.error as exc:
                raise ValueError(f"[{i}] {pattern!r} does not compile: {exc}") from None
            if groups != 1:
                raise ValueError(f"[{i}] {pattern!r} has {groups} capturing groups; the score is its one group")
        return patterns

    @model_validator(mode="after")
    def _one_parser(self) -> JudgeParams:
        if self.verdict_format == "json" and self.judge_score_regexes:
            raise ValueError("judge_score_regexes are for verdict_format regex; json reads json_score_field")
        return self


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown param (known: {', '.join(JudgeParams.model_fields)})"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_params(raw: Mapping[str, Any] | None, where: str) -> JudgeParams:
    """Checked params, or a 400 naming each problem (``where`` says whose params they are)."""
    try:
        return JudgeParams.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise BadRequestError(f"{where}: {_problems(exc)}", param="params") from None


def overridden(registered: JudgeParams, override: Mapping[str, Any], where: str) -> JudgeParams:
    """The registered params with a request's params over them. A request field replaces the registered one when it
    is given and not empty (the 0.2 SDK always sends ``judge_score_regexes`` and ``aggregation_functions``, often
    as ``[]``)."""
    given = {k: v for k, v in override.items() if k != "type" and v not in (None, [], {})}
    if "judge_score_regexes" in given and "verdict_format" not in given:
        given["verdict_format"] = "regex"
    try:
        # check the request's own fields first, so its mistakes are named as its own
        JudgeParams.model_validate(given)
    except ValidationError as exc:
        raise BadRequestError(f"{where}: {_problems(exc)}", param="scoring_functions") from None
    merged = registered.model_dump(exclude_unset=True) | given
    if given.get("verdict_format") == "json":
        merged.pop("judge_score_regexes", None)
    return parse_params(merged, where)


@dataclass(frozen=True)
class Judge:
    """Everything needed to judge rows with one function."""

    model: str
    template: PromptTemplate
    reader: VerdictReader
    aggregation_functions: tuple[AggregationFunction, ...]
    max_tokens: int


def complete(params: JudgeParams, where: str, default_max_tokens: int) -> Judge:
    """The judge the params describe, or a 400 naming the params still missing."""
    missing = [name for name in ("judge_model", "prompt_template") if getattr(params, name) is None]
    if params.verdict_format == "regex" and not params.judge_score_regexes:
        missing.append("judge_score_regexes")
    if missing:
        raise BadRequestError(
            f"{where} needs params {', '.join(missing)}: register them with the function or pass them in the score "
            "request's params ({type: llm_as_judge, ...})",
            param="scoring_functions",
        )
    assert params.judge_model is not None and params.prompt_template is not None
    reader = (
        VerdictReader(json_field=params.json_score_field, score_map=params.score_map)
        if params.verdict_format == "json"
        else VerdictReader(regexes=tuple(map(re.compile, params.judge_score_regexes)), score_map=params.score_map)
    )
    return Judge(
        model=params.judge_model,
        template=PromptTemplate.parse(params.prompt_template),
        reader=reader,
        aggregation_functions=tuple(params.aggregation_functions),
        max_tokens=params.max_tokens or default_max_tokens,
    )
