"""``inline::llm-as-judge``: score each row by asking a judge model (through the stack's Inference API) with the
function's prompt template, and read the score from its reply."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from llama_stack_core.apis.common import AggregationFunction, LLMAsJudgeScoringFnParams, ScoringFnParams, ScoringResult
from llama_stack_core.apis.inference import ChatCompletion, ChatCompletionRequest, UserMessage
from llama_stack_core.apis.resources import Model, ModelType, ResourceSource, ScoringFunction
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.scoring import ScoreRequest, ScoreResponse
from llama_stack_core.errors import (
    BadRequestError,
    ConfigError,
    ResourceNotFoundError,
    ServiceUnavailableError,
    StackError,
)
from llama_stack_core.provider_contracts import RegistersScoringFunctions, UnregistersScoringFunctions
from llama_stack_core.redaction import mask_secrets
from llama_stack_core.routing import ApiRouter
from llama_stack_core.scoring.aggregation import ERROR, SCORE, aggregate, error_row, numeric

from .config import PROVIDER_TYPE, LlmAsJudgeConfig
from .params import Judge, JudgeParams, complete, overridden, parse_params
from .template import NullColumn
from .verdict import VerdictError


class LlmAsJudgeScoring(RegistersScoringFunctions, UnregistersScoringFunctions):
    """A ScoringProvider whose functions are judge prompts; functions are learnt through register_scoring_function."""

    def __init__(self, config: LlmAsJudgeConfig, inference: ApiRouter) -> None:
        self.config = config
        self.inference = inference
        #: provider_scoring_fn_id -> the functions registered under it (by identifier); they share their params
        self._functions: dict[str, dict[str, JudgeParams]] = {}
        #: provider_scoring_fn_id -> why its function could not be loaded (a stored function whose model is gone)
        self._unloaded: dict[str, str] = {}
        #: bounds the judge calls in flight over all requests
        self._judging = asyncio.Semaphore(config.max_concurrent_judgements)

    # -- functions -----------------------------------------------------------------------------------------------

    async def register_scoring_function(self, scoring_function: ScoringFunction) -> None:
        identifier = scoring_function.identifier
        key = scoring_function.provider_resource_id or identifier
        try:
            params = parse_params(scoring_function.params, f"scoring function '{identifier}' params")
            sharing = self._functions.get(key, {})
            other = next((i for i, p in sharing.items() if i != identifier and p != params), None)
            if other is not None:
                raise BadRequestError(
                    f"scoring function '{other}' already uses provider_scoring_fn_id '{key}' with other params; give "
                    "this function a provider_scoring_fn_id of its own",
                    param="provider_scoring_fn_id",
                )
            if params.judge_model is not None:
                await self._check_model(params.judge_model, f"scoring function '{identifier}'", scoring_function)
        except BadRequestError as exc:
            if key not in self._functions:
                self._unloaded[key] = exc.message
            raise
        self._functions.setdefault(key, {})[identifier] = params
        self._unloaded.pop(key, None)

    async def unregister_scoring_function(self, scoring_function: ScoringFunction) -> None:
        key = scoring_function.provider_resource_id or scoring_function.identifier
        sharing = self._functions.get(key, {})
        sharing.pop(scoring_function.identifier, None)
        if not sharing:
            self._functions.pop(key, None)

    async def _check_model(self, model: str, whose: str, registering: ScoringFunction | None = None) -> None:
        """400 unless the inference router resolves ``model`` to an llm (registered, or ``provider_id/name``)."""
        try:
            _, _, resource = await self.inference.resolve("model", model)
        except (ResourceNotFoundError, ServiceUnavailableError) as exc:
            message = f"{whose}: judge_model: {exc.message}"
            if registering is not None and registering.origin == ResourceSource.plugin_default:
                raise ConfigError(f"{PROVIDER_TYPE} default_judge_model: {exc.message}") from None
            raise BadRequestError(message, param="params.judge_model") from None
        if isinstance(resource, Model) and resource.model_type != ModelType.llm:
            raise BadRequestError(
                f"{whose}: judge_model '{model}' is an {resource.model_type.value} model; a judge must be an llm",
                param="params.judge_model",
            )

    def _judge_params(self, function_id: str) -> JudgeParams:
        sharing = self._functions.get(function_id)
        if sharing:
            return next(iter(sharing.values()))
        if function_id in self._unloaded:
            raise BadRequestError(
                f"scoring function '{function_id}' is not loaded: {self._unloaded[function_id]}",
                param="scoring_functions",
            )
        raise ResourceNotFoundError("Scoring function", function_id)

    async def _judge(self, function_id: str, override: ScoringFnParams | None) -> Judge:
        """The judge a function scores with in this request: its registered params, the request's over them."""
        params = self._judge_params(function_id)
        where = f"scoring function '{function_id}'"
        if override is not None:
            if not isinstance(override, LLMAsJudgeScoringFnParams):
                raise BadRequestError(
                    f"{where} is an LLM judge: its params have type llm_as_judge, not {override.type}",
                    param="scoring_functions",
                )
            params = overridden(params, override.model_dump(exclude_unset=True), f"{where} params")
        judge = complete(params, where, self.config.max_tokens)
        await self._check_model(judge.model, where)
        return judge

    # -- the ScoringProvider protocol ----------------------------------------------------------------------------

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        judges = {fid: await self._judge(fid, params) for fid, params in request.scoring_functions.items()}
        rows = request.input_rows
        for i, row in enumerate(rows):
            for function_id, judge in judges.items():
                if missing := judge.template.missing_columns(row):
                    raise BadRequestError(
                        f"input_rows[{i}] has no '{missing[0]}', which scoring function '{function_id}' reads "
                        f"(its prompt_template uses {', '.join(judge.template.columns)})",
                        param=f"input_rows[{i}].{missing[0]}",
                    )
        score_rows = await self._judge_all(judges, rows)
        results = {}
        for function_id, judge in judges.items():
            scored = score_rows[function_id]
            results[function_id] = ScoringResult(
                score_rows=scored, aggregated_results=aggregate(scored, aggregations(judge, scored), rows)
            )
        return ScoreResponse(results=results)

    async def _judge_all(self, judges: dict[str, Judge], rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Every (function, row) judged, at most ``max_concurrent_judgements`` at a time, in a few workers (not a
        task per row)."""
        out: dict[str, list[dict[str, Any]]] = {function_id: [{}] * len(rows) for function_id in judges}
        work = ((function_id, i) for function_id in judges for i in range(len(rows)))

        async def worker() -> None:
            for function_id, i in work:
                out[function_id][i] = await self._judge_row(judges[function_id], rows[i])

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.config.max_concurrent_judgements, len(judges) * len(rows))):
                group.create_task(worker())
        return out

    async def _judge_row(self, judge: Judge, row: dict[str, Any]) -> dict[str, Any]:
        """``{score, judge_feedback}``, or an error row (the judge failed or its verdict cannot be read)."""
        try:
            prompt = judge.template.render(row)
        except NullColumn as exc:
            return error_row(str(exc), judge_feedback=None)
        request = ChatCompletionRequest(
            model=judge.model,
            messages=[UserMessage(role="user", content=prompt)],
            temperature=0,
            max_tokens=judge.max_tokens,
        )
        timeout = self.config.judge_timeout_seconds
        try:
            async with self._judging:
                async with asyncio.timeout(timeout):
                    answer = await self.inference.call_as("openai_chat_completion", request, ChatCompletion)
        except TimeoutError:
            return error_row(f"judge '{judge.model}' did not answer within {timeout:g} s", judge_feedback=None)
        except StackError as exc:
            return error_row(f"judge '{judge.model}' failed: {mask_secrets(exc.message)}", judge_feedback=None)
        except ValidationError:
            return error_row(
                f"judge '{judge.model}' answered with something that is not a chat completion", judge_feedback=None
            )
        text = answer.choices[0].message.content if answer.choices else None
        if not text or not text.strip():
            return error_row(f"judge '{judge.model}' gave an empty reply", judge_feedback=text)
        try:
            score = judge.reader.read(text)
        except VerdictError as exc:
            return error_row(str(exc), judge_feedback=text)
        return {SCORE: score, "judge_feedback": text}


def aggregations(judge: Judge, score_rows: Sequence[dict[str, Any]]) -> tuple[AggregationFunction, ...]:
    """The function's aggregation_functions; by default ``average`` for numbers (score_map, numeric verdicts) and
    ``categorical_count`` for anything else (letter grades)."""
    if judge.aggregation_functions:
        return judge.aggregation_functions
    if judge.reader.score_map is not None:
        return ("average",)
    scores = [row.get(SCORE) for row in score_rows if row.get(ERROR) is None]
    return ("average",) if all(numeric(score) is not None for score in scores) else ("categorical_count",)


def create_provider(config: LlmAsJudgeConfig, deps: dict[Api, Any]) -> LlmAsJudgeScoring:
    return LlmAsJudgeScoring(config, deps[Api.inference])
