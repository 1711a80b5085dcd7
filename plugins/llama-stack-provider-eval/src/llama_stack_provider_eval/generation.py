"""Generating a row's answer with the candidate: a model through the Inference API, or an agent through the Agents
API. A row's input is its ``chat_completion_input`` (messages, as a list or a JSON string: eval/messages-answer) or
its ``input_query`` (one user message: eval/question-answer)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from llama_stack_core.apis.agents import (
    AgentConfig,
    AgentCreateResponse,
    AgentIdRequest,
    AgentSessionCreateResponse,
    CreateAgentRequest,
    CreateSessionRequest,
    CreateTurnRequest,
    Turn,
)
from llama_stack_core.apis.eval import AgentCandidate, EvalCandidate, ModelCandidate
from llama_stack_core.apis.inference import ChatCompletion, ChatCompletionRequest
from llama_stack_core.apis.resources import Model
from llama_stack_core.apis.safety import content_text
from llama_stack_core.errors import BadRequestError, NotConfiguredError, ResourceNotFoundError, StackError
from llama_stack_core.routing import ApiRouter

ANSWER = "generated_answer"
MODEL_FIELD = "benchmark_config.eval_candidate.model"
AGENT_MODEL_FIELD = "benchmark_config.eval_candidate.config.model"


class RowInputError(ValueError):
    """A row the candidate cannot be asked (neither input column, or messages that do not parse)."""


def row_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's input as chat messages."""
    if row.get("chat_completion_input") is not None:
        messages = row["chat_completion_input"]
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError as exc:
                raise RowInputError(f"chat_completion_input is not JSON: {exc}") from None
        if isinstance(messages, dict):
            messages = [messages]
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise RowInputError("chat_completion_input must be a non-empty list of messages")
        return messages
    if row.get("input_query") is not None:
        return [{"role": "user", "content": str(row["input_query"])}]
    raise RowInputError("the row has neither input_query nor chat_completion_input")


def generation_error(exc: BaseException) -> dict[str, Any]:
    """A row whose generation failed: no answer, and why."""
    message = exc.message if isinstance(exc, StackError) else str(exc) or type(exc).__name__
    return {ANSWER: None, "error": message}


class Generator:
    """Answers rows with one candidate. ``prepare`` once before the rows (an agent candidate creates its agent),
    ``close`` after."""

    def __init__(self, candidate: EvalCandidate, inference: ApiRouter, agents: ApiRouter | None) -> None:
        self.candidate = candidate
        self.inference = inference
        self.agents = agents
        self._agent_id: str | None = None

    async def check(self) -> None:
        """400 unless the candidate can run here: its model is a registered llm model (the Agents API is served)."""
        candidate = self.candidate
        name = candidate.model if isinstance(candidate, ModelCandidate) else candidate.config.model
        try:
            _, _, model = await self.inference.resolve("model", name)
        except ResourceNotFoundError as exc:
            raise BadRequestError(f"{self._model_field()}: {exc.message}", param=self._model_field()) from None
        if isinstance(model, Model) and model.model_type != "llm":
            raise BadRequestError(
                f"{self._model_field()}: model '{model.identifier}' is of type {model.model_type.value}, not llm",
                param=self._model_field(),
            )
        if isinstance(candidate, AgentCandidate) and self.agents is None:
            raise NotConfiguredError("an agent candidate needs the agents API, which this stack does not serve")

    def _model_field(self) -> str:
        return MODEL_FIELD if isinstance(self.candidate, ModelCandidate) else AGENT_MODEL_FIELD

    async def prepare(self) -> None:
        if isinstance(self.candidate, AgentCandidate) and self._agent_id is None:
            assert self.agents is not None
            config = AgentConfig.model_validate(self.candidate.config.model_dump())
            created = await self.agents.call_as(
                "create_agent", CreateAgentRequest(agent_config=config), AgentCreateResponse
            )
            self._agent_id = created.agent_id

    async def close(self) -> None:
        if self._agent_id is not None and self.agents is not None:
            agent_id, self._agent_id = self._agent_id, None
            await self.agents.call("delete_agent", AgentIdRequest(agent_id=agent_id))

    async def generate(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row's generation: ``{"generated_answer": text}``; raises if the candidate fails on it."""
        messages = row_messages(row)
        if isinstance(self.candidate, ModelCandidate):
            return {ANSWER: await self._chat(self.candidate, messages)}
        return {ANSWER: await self._turn(messages)}

    async def _chat(self, candidate: ModelCandidate, messages: list[dict[str, Any]]) -> str:
        sampling = candidate.sampling_params
        body: dict[str, Any] = {"model": candidate.model, "messages": messages, **sampling.openai_sampling()}
        if candidate.system_message is not None:
            body["messages"] = [
                {"role": "system", "content": content_text(candidate.system_message.content)},
                *messages,
            ]
        if sampling.max_tokens:
            body["max_tokens"] = sampling.max_tokens
        if sampling.stop:
            body["stop"] = sampling.stop
        if sampling.repetition_penalty not in (None, 1.0):
            body["repetition_penalty"] = sampling.repetition_penalty
        try:
            request = ChatCompletionRequest.model_validate(body)
        except ValueError as exc:
            raise RowInputError(f"the row's messages are not chat messages: {exc}") from None
        answer = await self.inference.call_as("openai_chat_completion", request, ChatCompletion)
        if not answer.choices:
            raise RowInputError("the model answered without a choice")
        return content_text(answer.choices[0].message.content)

    async def _turn(self, messages: list[dict[str, Any]]) -> str:
        assert self.agents is not None and self._agent_id is not None
        session = await self.agents.call_as(
            "create_agent_session",
            CreateSessionRequest(agent_id=self._agent_id, session_name=f"eval-{uuid.uuid4().hex[:12]}"),
            AgentSessionCreateResponse,
        )
        inputs = [m for m in messages if m.get("role") in ("user", "tool")]
        request = CreateTurnRequest.model_validate(
            {"agent_id": self._agent_id, "session_id": session.session_id, "messages": inputs, "stream": False}
        )
        turn = await self.agents.call_as("create_agent_turn", request, Turn)
        return content_text(turn.output_message.content)
