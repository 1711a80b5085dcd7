"""What runs on the provider's generation thread: llama-cpp calls, token accounting, logprobs, OpenAI shapes.

Nothing here may be called from the event loop: a ``Llama`` is not thread-safe and every call blocks.

Token accounting and cancellation hook into ``Llama.generate`` (the token loop under every completion, chat format
and tool handler): for the duration of a request the instance's ``generate`` is wrapped, so each sampled token is
counted (end-of-generation tokens excluded, as llama-cpp counts ``completion_tokens``), checked against the
request's cancel flag, and, if logprobs were asked for, scored from the logits llama.cpp sampled it from (captured
by a logits processor, so no ``logits_all`` model is needed).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar

from . import prompted_tools


class GenerationCancelled(Exception):
    """The request went away (client disconnect) or the provider is shutting down."""


@dataclass
class TokenLogprob:
    token: int
    text: bytes
    logprob: float
    top: list[tuple[bytes, float]]


class Run:
    """One request's generations on one model: cancel flag, token counts, captured logprobs."""

    def __init__(self, llama: Llama, top_logprobs: int | None = None, reuse_prompt_prefix: bool = False) -> None:
        self.llama = llama
        self.top_logprobs = top_logprobs  # None: no logprobs
        self.reuse_prompt_prefix = reuse_prompt_prefix
        self.cancelled = threading.Event()
        self.interrupted = False  # a generation was stopped part-way because of the cancel flag
        self.first_prompt_tokens: int | None = None
        self.last_prompt_tokens = 0
        self.last_tokens = 0
        self.completion_tokens = 0
        self.entries: list[TokenLogprob] = []  # of the last generate() call
        self._fresh_prompt = True  # the next generate() evaluates its prompt afresh (unless reuse_prompt_prefix)
        self._logits: np.ndarray | None = None

    def cancel(self) -> None:
        self.cancelled.set()

    def begin_choice(self) -> None:
        """A new choice starts: its first generation evaluates the prompt afresh, so the same prompt and seed give
        the same answer. Further generations for the same choice (the steps of automatic tool choice, which share
        a long prompt prefix) reuse what the previous one evaluated."""
        self._fresh_prompt = True

    def stop(self) -> None:
        """Called on the generation thread when it gives up because of the cancel flag."""
        self.interrupted = True
        raise GenerationCancelled

    @contextmanager
    def attached(self) -> Iterator[None]:
        """Route this model's token loop through the run while the block runs (on the generation thread)."""
        llama = self.llama
        llama.generate = partial(self._generate, type(llama).generate.__get__(llama))  # type: ignore[method-assign]
        try:
            yield
        finally:
            llama.__dict__.pop("generate", None)

    def _generate(self, original: Any, tokens: Any, *args: Any, **kwargs: Any) -> Iterator[int]:
        if self.cancelled.is_set():
            self.stop()
        if self.first_prompt_tokens is None:
            self.first_prompt_tokens = len(tokens)
        self.last_prompt_tokens, self.last_tokens, self.entries = len(tokens), 0, []
        if self._fresh_prompt and not self.reuse_prompt_prefix:
            self.llama.reset()  # evaluate the whole prompt afresh: same prompt and seed, same answer
        self._fresh_prompt = False
        if self.top_logprobs is not None:
            kwargs["logits_processor"] = [self._capture, *(kwargs.get("logits_processor") or [])]
        vocab = self.llama._model.vocab
        inner = original(tokens, *args, **kwargs)
        try:
            for token in inner:
                if self.cancelled.is_set():
                    self.stop()
                if not llama_cpp.llama_vocab_is_eog(vocab, token):
                    self.completion_tokens += 1
                    self.last_tokens += 1
                    if self.top_logprobs is not None:
                        self.entries.append(self._score(token))
                yield token
        finally:
            inner.close()

    def _capture(self, input_ids: Any, scores: np.ndarray) -> np.ndarray:
        self._logits = np.array(scores, dtype=np.float32)
        return scores

    def _score(self, token: int) -> TokenLogprob:
        text = self.llama.detokenize([token])
        logits = self._logits
        if logits is None:
            return TokenLogprob(token, text, 0.0, [])
        peak = float(np.max(logits))
        log_total = peak + math.log(float(np.sum(np.exp(logits - peak))))
        top: list[tuple[bytes, float]] = []
        k = min(self.top_logprobs or 0, logits.shape[0])
        if k:
            ids = np.argpartition(-logits, k - 1)[:k]
            ids = ids[np.argsort(-logits[ids], kind="stable")]
            top = [(self.llama.detokenize([int(i)]), float(logits[i]) - log_total) for i in ids]
        return TokenLogprob(token, text, float(logits[token]) - log_total, top)

    def hit_limit(self, max_tokens: int | None) -> bool:
        """Whether the last generation stopped because it ran out of tokens (max_tokens or the context window)."""
        room = self.llama.n_ctx() - self.last_prompt_tokens
        limit = room if max_tokens is None else min(max_tokens, room)
        return self.last_tokens >= limit


# -- plans (built and validated on the event loop; executed here) ------------------------------------------------


@dataclass
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int | None
    stop: list[str]
    presence_penalty: float
    frequency_penalty: float
    logit_bias: dict[int, float] | None

    def kwargs(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "logit_bias": self.logit_bias,
        }


@dataclass
class ChatPlan:
    id: str
    created: int
    model: str
    messages: list[dict[str, Any]]
    sampling: Sampling
    seeds: list[int]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    forced_tool: str | None = None
    auto_tools: bool = False  # automatic choice by llama-cpp's chatml-function-calling handler
    prompted_tools: list[dict[str, Any]] | None = None  # automatic choice by prompt and grammar (prompted_tools.py)
    grammar: LlamaGrammar | None = None
    tool_grammar: LlamaGrammar | None = None
    top_logprobs: int | None = None
    include_usage: bool = False


@dataclass
class CompletionPlan:
    id: str
    created: int
    model: str
    prompts: list[str | list[int]]
    sampling: Sampling
    seeds: list[int]
    echo: bool = False
    top_logprobs: int | None = None
    include_usage: bool = False


def check_grammar(llama: Llama, grammar: LlamaGrammar | None, what: str) -> None:
    """Refuse a grammar llama.cpp cannot parse (it would otherwise add a NULL sampler and crash)."""
    if grammar is None:
        return
    sampler = llama_cpp.llama_sampler_init_grammar(
        llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        raise ValueError(f"{what}: llama.cpp could not build a grammar from it")
    llama_cpp.llama_sampler_free(sampler)


# -- OpenAI shapes -------------------------------------------------------------------------------------------------


def _token_str(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def chat_logprobs(entries: list[TokenLogprob]) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": _token_str(e.text),
                "logprob": e.logprob,
                "bytes": list(e.text),
                "top_logprobs": [{"token": _token_str(t), "logprob": lp, "bytes": list(t)} for t, lp in e.top],
            }
            for e in entries
        ],
        "refusal": None,
    }


def completion_logprobs(entries: list[TokenLogprob], offset: int = 0) -> dict[str, Any]:
    tokens, offsets = [], []
    for entry in entries:
        offsets.append(offset)
        tokens.append(_token_str(entry.text))
        offset += len(tokens[-1])
    return {
        "tokens": tokens,
        "token_logprobs": [e.logprob for e in entries],
        "top_logprobs": [{_token_str(t): lp for t, lp in e.top} for e in entries],
        "text_offset": offsets,
    }


def covering(entries: list[TokenLogprob], text: str) -> list[TokenLogprob]:
    """The leading entries whose tokens produced ``text`` (a stop sequence may have cut the last ones off)."""
    limit, used, taken = len(text.encode("utf-8")), 0, []
    for entry in entries:
        if used >= limit:
            break
        taken.append(entry)
        used += len(entry.text)
    return taken


class EntryCursor:
    """Hands out a streamed generation's token entries chunk by chunk, by bytes of text emitted."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.index = 0
        self.covered = 0
        self.emitted = 0

    def take(self, text: str) -> list[TokenLogprob]:
        self.emitted += len(text.encode("utf-8"))
        entries, taken = self.run.entries, []
        while self.covered < self.emitted and self.index < len(entries):
            taken.append(entries[self.index])
            self.covered += len(entries[self.index].text)
            self.index += 1
        return taken


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


# -- chat completions --------------------------------------------------------------------------------------------


def _create_chat(run: Run, plan: ChatPlan, seed: int, stream: bool, without_tools: bool = False) -> Any:
    """One llama-cpp chat call; ``without_tools``: the answer after automatic tool choice chose one (same choice)."""
    if not without_tools:
        run.begin_choice()
    kwargs: dict[str, Any] = {
        "messages": plan.messages,
        "seed": seed,
        "stream": stream,
        "grammar": plan.grammar,
        **plan.sampling.kwargs(),
    }
    if plan.tools and not without_tools:
        kwargs.update(tools=plan.tools, tool_choice=plan.tool_choice)
    return run.llama.create_chat_completion(**kwargs)


def _check_chat(run: Run, plan: ChatPlan) -> None:
    check_grammar(run.llama, plan.grammar, "tools" if plan.prompted_tools is not None else "response_format")
    check_grammar(run.llama, plan.tool_grammar, f"tools[{plan.forced_tool}].function.parameters")


def chat_completion(run: Run, plan: ChatPlan) -> dict[str, Any]:
    _check_chat(run, plan)
    choices = []
    with run.attached():
        for index, seed in enumerate(plan.seeds):
            result = _create_chat(run, plan, seed, stream=False)
            message = result["choices"][0]["message"]
            if plan.auto_tools and not message.get("tool_calls") and not message.get("content"):
                # chatml-function-calling (llama-cpp-python 0.3.x) constrains its "answer with a message" branch
                # to an empty reply; when the model chose to answer, generate the answer without the tools.
                result = _create_chat(run, plan, seed, stream=False, without_tools=True)
            choice = result["choices"][0]
            if plan.prompted_tools is not None:
                choice = _prompted_choice(plan.prompted_tools, choice)
            choices.append(_chat_choice(run, plan, index, choice))
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": choices,
        "usage": usage(run.first_prompt_tokens or 0, run.completion_tokens),
        "system_fingerprint": None,
    }


def _prompted_choice(tools: list[dict[str, Any]], choice: dict[str, Any]) -> dict[str, Any]:
    """A prompted reply that is a call object, as llama-cpp's handlers shape a tool call."""
    call = prompted_tools.read_reply(choice["message"].get("content") or "", tools)
    if call is None:
        return choice
    return {**choice, "message": {"role": "assistant", "content": None, "tool_calls": [{"function": call}]}}


def _chat_choice(run: Run, plan: ChatPlan, index: int, choice: dict[str, Any]) -> dict[str, Any]:
    calls = choice["message"].get("tool_calls")
    if calls:
        tool_calls = [
            {
                "id": call_id(),
                "type": "function",
                "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"].strip()},
            }
            for c in calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "tool_calls": tool_calls}
        finish = "length" if plan.forced_tool and run.hit_limit(plan.sampling.max_tokens) else "tool_calls"
        text = "".join(c["function"]["arguments"] for c in tool_calls)
    else:
        text = choice["message"].get("content") or ""
        message = {"role": "assistant", "content": text, "refusal": None}
        finish = choice.get("finish_reason") or "stop"
    logprobs = chat_logprobs(covering(run.entries, text)) if plan.top_logprobs is not None else None
    return {"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish}


def _chat_chunk(
    plan: ChatPlan, index: int, delta: dict[str, Any], finish: str | None = None, logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": plan.id,
        "object": "chat.completion.chunk",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": None,
        "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
    }
    if plan.include_usage:
        chunk["usage"] = None
    return chunk


def chat_chunks(run: Run, plan: ChatPlan) -> Iterator[dict[str, Any]]:
    """The OpenAI chunks of a streamed chat completion: per choice an opening delta, content (or tool-call
    argument) deltas as llama.cpp produces them, a closing delta with the finish reason; then the usage chunk."""
    _check_chat(run, plan)
    with run.attached():
        for index, seed in enumerate(plan.seeds):
            if plan.auto_tools:
                yield from _auto_choice_chunks(run, plan, index, seed)
                continue
            stream = _create_chat(run, plan, seed, stream=True)
            try:
                if plan.prompted_tools is not None:
                    yield from _prompted_choice_chunks(run, plan, index, stream)
                else:
                    yield from _choice_chunks(run, plan, index, stream)
            finally:
                stream.close()
    if plan.include_usage:
        yield {
            "id": plan.id,
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage(run.first_prompt_tokens or 0, run.completion_tokens),
        }


def _choice_chunks(run: Run, plan: ChatPlan, index: int, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    cursor = EntryCursor(run)
    opened = False
    finish = None
    for item in stream:
        choice = item["choices"][0]
        finish = choice.get("finish_reason") or finish
        delta = choice.get("delta") or {}
        if not opened:
            opened = True
            if plan.forced_tool:
                yield _chat_chunk(
                    plan,
                    index,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id(),
                                "type": "function",
                                "function": {"name": plan.forced_tool, "arguments": ""},
                            }
                        ],
                    },
                )
            else:
                yield _chat_chunk(plan, index, {"role": "assistant", "content": ""})
        calls = delta.get("tool_calls")
        text = (calls[0]["function"].get("arguments") if calls else delta.get("content")) or ""
        if not text:
            continue
        logprobs = chat_logprobs(cursor.take(text)) if plan.top_logprobs is not None else None
        if plan.forced_tool:
            yield _chat_chunk(
                plan, index, {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}, logprobs=logprobs
            )
        else:
            yield _chat_chunk(plan, index, {"content": text}, logprobs=logprobs)
    if plan.forced_tool:
        finish = "length" if run.hit_limit(plan.sampling.max_tokens) else "tool_calls"
    yield _chat_chunk(plan, index, {}, finish=finish or "stop")


def _call_chunks(plan: ChatPlan, index: int, calls: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Whole tool calls as stream chunks: per call one delta opening it (id, name) and one with its arguments."""
    for position, call in enumerate(calls):
        opening: dict[str, Any] = {
            "tool_calls": [
                {
                    "index": position,
                    "id": call_id(),
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
            ]
        }
        if position == 0:
            opening = {"role": "assistant", "content": None, **opening}
        yield _chat_chunk(plan, index, opening)
        arguments = call["function"]["arguments"].strip()
        yield _chat_chunk(plan, index, {"tool_calls": [{"index": position, "function": {"arguments": arguments}}]})
    yield _chat_chunk(plan, index, {}, finish="tool_calls")


def _text_chunks(plan: ChatPlan, index: int, text: str, finish: str) -> Iterator[dict[str, Any]]:
    yield _chat_chunk(plan, index, {"role": "assistant", "content": ""})
    if text:
        yield _chat_chunk(plan, index, {"content": text})
    yield _chat_chunk(plan, index, {}, finish=finish)


def _auto_choice_chunks(run: Run, plan: ChatPlan, index: int, seed: int) -> Iterator[dict[str, Any]]:
    """Automatic choice through chatml-function-calling, streamed: llama-cpp's handler cannot stream its decision,
    so the decision (and a call's arguments, a few grammar-constrained tokens) is generated whole; an answer is then
    streamed token by token."""
    choice = _create_chat(run, plan, seed, stream=False)["choices"][0]
    message = choice["message"]
    if message.get("tool_calls"):
        yield from _call_chunks(plan, index, message["tool_calls"])
    elif message.get("content"):
        yield from _text_chunks(plan, index, message["content"], choice.get("finish_reason") or "stop")
    else:  # the model chose to answer: see chat_completion
        stream = _create_chat(run, plan, seed, stream=True, without_tools=True)
        try:
            yield from _choice_chunks(run, plan, index, stream)
        finally:
            stream.close()


def _prompted_choice_chunks(
    run: Run, plan: ChatPlan, index: int, stream: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """A prompted reply, streamed: the grammar makes the first character decide; a call object is collected and
    sent as a tool call at its end, text is streamed as it comes."""
    assert plan.prompted_tools is not None
    collected: str | None = None  # the reply so far, while it may be a call; None once it is text
    opened = False
    finish = None
    for item in stream:
        choice = item["choices"][0]
        finish = choice.get("finish_reason") or finish
        text = (choice.get("delta") or {}).get("content") or ""
        if not text:
            continue
        if not opened and collected is None and text.startswith("{"):
            collected = ""
        if collected is not None:
            collected += text
            continue
        if not opened:
            opened = True
            yield _chat_chunk(plan, index, {"role": "assistant", "content": ""})
        yield _chat_chunk(plan, index, {"content": text})
    if collected is not None:
        call = prompted_tools.read_reply(collected, plan.prompted_tools)
        if call is not None:
            yield from _call_chunks(plan, index, [{"function": call}])
        else:  # a call cut off by max_tokens: it stays text
            yield from _text_chunks(plan, index, collected, finish or "length")
        return
    if not opened:
        yield _chat_chunk(plan, index, {"role": "assistant", "content": ""})
    yield _chat_chunk(plan, index, {}, finish=finish or "stop")


# -- text completions --------------------------------------------------------------------------------------------


def _create_completion(run: Run, plan: CompletionPlan, prompt: str | list[int], seed: int, stream: bool) -> Any:
    run.begin_choice()
    return run.llama.create_completion(prompt=prompt, seed=seed, stream=stream, **plan.sampling.kwargs())


def _echo(run: Run, prompt: str | list[int]) -> str:
    if isinstance(prompt, str):
        return prompt
    return run.llama.detokenize(prompt).decode("utf-8", errors="replace")


def _check_completion(run: Run, plan: CompletionPlan) -> None:
    n_vocab = run.llama.n_vocab()
    for index, prompt in enumerate(plan.prompts):
        if isinstance(prompt, list) and any(not 0 <= token < n_vocab for token in prompt):
            raise ValueError(f"prompt {index}: token ids must be in [0, {n_vocab})")


def completion(run: Run, plan: CompletionPlan) -> dict[str, Any]:
    _check_completion(run, plan)
    choices, prompt_tokens = [], 0
    with run.attached():
        for p, prompt in enumerate(plan.prompts):
            for j, seed in enumerate(plan.seeds):
                result = _create_completion(run, plan, prompt, seed, stream=False)
                if j == 0:
                    prompt_tokens += run.last_prompt_tokens
                choice = result["choices"][0]
                prefix = _echo(run, prompt) if plan.echo else ""
                logprobs = None
                if plan.top_logprobs is not None:
                    logprobs = completion_logprobs(covering(run.entries, choice["text"]), len(prefix))
                choices.append(
                    {
                        "index": p * len(plan.seeds) + j,
                        "text": prefix + choice["text"],
                        "logprobs": logprobs,
                        "finish_reason": choice["finish_reason"],
                    }
                )
    return {
        "id": plan.id,
        "object": "text_completion",
        "created": plan.created,
        "model": plan.model,
        "choices": choices,
        "usage": usage(prompt_tokens, run.completion_tokens),
        "system_fingerprint": None,
    }


def _completion_chunk(
    plan: CompletionPlan, index: int, text: str, finish: str | None = None, logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": plan.id,
        "object": "text_completion",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": None,
        "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}],
    }
    if plan.include_usage:
        chunk["usage"] = None
    return chunk


def completion_chunks(run: Run, plan: CompletionPlan) -> Iterator[dict[str, Any]]:
    _check_completion(run, plan)
    prompt_tokens = 0
    with run.attached():
        for p, prompt in enumerate(plan.prompts):
            for j, seed in enumerate(plan.seeds):
                index = p * len(plan.seeds) + j
                stream = _create_completion(run, plan, prompt, seed, stream=True)
                try:
                    cursor, finish, offset, echoed = EntryCursor(run), None, 0, not plan.echo
                    for item in stream:
                        if item["choices"][0].get("finish_reason"):
                            finish = item["choices"][0]["finish_reason"]
                        if not echoed:  # after the first item, so a refused prompt fails before anything is sent
                            echoed, echo = True, _echo(run, prompt)
                            offset = len(echo)
                            yield _completion_chunk(plan, index, echo)
                        text = item["choices"][0]["text"]
                        if text:
                            logprobs = None
                            if plan.top_logprobs is not None:
                                logprobs = completion_logprobs(cursor.take(text), offset)
                            offset += len(text)
                            yield _completion_chunk(plan, index, text, logprobs=logprobs)
                finally:
                    stream.close()
                if j == 0:
                    prompt_tokens += run.last_prompt_tokens
                yield _completion_chunk(plan, index, "", finish=finish or "stop")
    if plan.include_usage:
        yield {
            "id": plan.id,
            "object": "text_completion",
            "created": plan.created,
            "model": plan.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage(prompt_tokens, run.completion_tokens),
        }
