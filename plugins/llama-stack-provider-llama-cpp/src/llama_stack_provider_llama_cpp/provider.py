"""inline::llama-cpp: text generation from local GGUF models with llama-cpp-python.

Threading: every ``Llama`` call (model load, tokenisation-heavy work, generation) runs on one dedicated thread per
provider, a single-worker executor, so requests are served one at a time in arrival order and the event loop never
blocks. Models start loading on that thread when the provider is created; requests await their model. A streamed
response is produced on the thread and handed to the loop chunk by chunk through an ``asyncio.Queue``; when the
client goes away the response iterator is cancelled or dropped, which sets the request's cancel flag, and the token
loop stops at the next token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from llama_cpp import Llama, LlamaGrammar
from llama_cpp.llama_chat_format import LlamaChatCompletionHandlerRegistry
from llama_cpp.llama_grammar import JSON_GBNF

from llama_stack_core.errors import (
    BadRequestError,
    ConfigError,
    NotFoundError,
    ServiceUnavailableError,
    StackError,
    TooManyRequestsError,
)

from . import engine, prompted_tools
from .config import PACKAGED_SOURCES, LlamaCppConfig
from .engine import ChatPlan, CompletionPlan, GenerationCancelled, Run, Sampling
from .messages import TOOL_CALLING_FORMAT, forced_tool_instructions, normalize
from .packaged import PACKAGED, assemble_packaged_gguf, gguf_path, missing_package

__all__ = ["LlamaCppInference", "assemble_packaged_gguf", "create_provider"]

if TYPE_CHECKING:
    from llama_stack_core.apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
    from llama_stack_core.apis.resources import Model
    from llama_stack_core.apis.routes import Api

log = logging.getLogger(__name__)

#: Library exceptions that mean "llama.cpp refused this input" (a 400), rather than a bug.
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AssertionError, UnicodeError, jinja2.TemplateError)


def as_stack_error(exc: BaseException) -> BaseException:
    """A library exception as the error the client should see."""
    if isinstance(exc, StackError | asyncio.CancelledError):
        return exc
    if isinstance(exc, GenerationCancelled):
        return ServiceUnavailableError("generation cancelled: the provider is shutting down")
    if isinstance(exc, _INPUT_ERRORS):
        return BadRequestError(f"llama.cpp refused the request: {exc}")
    log.error("llama.cpp failed", exc_info=exc)
    return StackError(f"llama.cpp failed: {type(exc).__name__}: {exc}")


class ModelSlot:
    """One configured model: its load (a future on the generation thread) and, once loaded, the Llama."""

    def __init__(self, model_id: str, source: str, chat_format: str | None) -> None:
        self.model_id = model_id
        self.source = source
        self.chat_format = chat_format
        self.future: asyncio.Future[Llama] | None = None
        self.llama: Llama | None = None
        self.path: Path | None = None
        self.load_seconds: float | None = None

    async def ready(self) -> Llama:
        assert self.future is not None
        try:
            return await asyncio.shield(self.future)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ServiceUnavailableError(f"model '{self.model_id}' failed to load: {exc}") from None

    def state(self) -> dict[str, Any]:
        if self.future is None:
            return {"state": "not loaded"}
        if not self.future.done():
            return {"state": "loading"}
        if self.future.cancelled():
            return {"state": "closed"}
        if (error := self.future.exception()) is not None:
            return {"state": "error", "message": str(error)}
        return {
            "state": "ready",
            "path": str(self.path),
            "chat_format": self.llama.chat_format if self.llama else None,
            "load_seconds": round(self.load_seconds or 0.0, 3),
        }


class _End:
    pass


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = _End()


class ThreadStream:
    """An async iterator over what a generator yields on the generation thread, one chunk at a time.

    Closing it, cancelling a pending ``__anext__`` or dropping it sets the run's cancel flag; the generator then
    stops at its next token and is closed on the thread.
    """

    def __init__(self, provider: LlamaCppInference, run: Run, produce: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._run = run
        self._first: Any = None
        self._done = False
        self._future = provider._submit(run, self._pump, produce)

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            self._run.cancel()

    def _pump(self, produce: Callable[[], Iterator[dict[str, Any]]]) -> None:
        try:
            iterator = produce()
            try:
                for item in iterator:
                    if self._run.cancelled.is_set():
                        self._run.stop()
                    self._put(item)
            finally:
                iterator.close()
        except GenerationCancelled:
            pass
        except BaseException as exc:
            self._put(_Failure(exc))
            return
        self._put(_END)

    async def prime(self) -> None:
        """Wait for the first chunk, so a request llama.cpp refuses fails as an HTTP error, not mid-stream."""
        try:
            self._first = await self._next()
        except StopAsyncIteration:
            raise ServiceUnavailableError("generation cancelled: the provider is shutting down") from None

    async def _next(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except BaseException:
            self.close()
            raise
        if isinstance(item, _End):
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._done = True
            raise as_stack_error(item.exc) from None
        return item

    def __aiter__(self) -> ThreadStream:
        return self

    async def __anext__(self) -> Any:
        if self._first is not None:
            item, self._first = self._first, None
            return item
        return await self._next()

    def close(self) -> None:
        if not self._done:
            self._run.cancel()

    async def aclose(self) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class LlamaCppInference:
    """Implements ``llama_stack_core.apis.inference.InferenceProvider`` with llama-cpp-python."""

    def __init__(self, config: LlamaCppConfig) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        self._slots = {
            model_id: ModelSlot(model_id, source, config.chat_format_for(model_id))
            for model_id, source in config.models.items()
        }
        self._runs: weakref.WeakSet[Run] = weakref.WeakSet()
        self._in_flight = 0  # submitted to the generation thread and not finished: one runs, the others wait
        self.counters = {"requests": 0, "cancelled": 0, "completion_tokens": 0, "seconds": 0.0}

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Config problems worth failing start-up for (cheap: no model is read)."""
        known = LlamaChatCompletionHandlerRegistry()._chat_handlers
        for slot in self._slots.values():
            if slot.chat_format is not None and slot.chat_format not in known:
                raise ConfigError(
                    f"llama-cpp: unknown chat_format '{slot.chat_format}' (known: {', '.join(sorted(known))})"
                )
            if slot.source in PACKAGED_SOURCES:
                if (command := missing_package(slot.source)) is not None:
                    raise ConfigError(
                        f"llama-cpp: models.{slot.model_id} is the packaged {PACKAGED[slot.source].description}, "
                        f"whose package is not installed; install it with: {command}"
                    )
            elif not Path(slot.source).expanduser().is_file():
                raise ConfigError(f"llama-cpp: models.{slot.model_id}: no such file: {slot.source}")

    def start(self) -> None:
        """Start loading the configured models on the generation thread (all of them, with ``preload``)."""
        if self.config.preload:
            for slot in self._slots.values():
                self._start_loading(slot)

    def _start_loading(self, slot: ModelSlot) -> None:
        if slot.future is None:
            slot.future = asyncio.get_running_loop().run_in_executor(self._executor, self._load, slot)
            slot.future.add_done_callback(_log_load)

    def _load(self, slot: ModelSlot) -> Llama:
        started = time.perf_counter()
        config = self.config
        path = gguf_path(slot.source, config.cache_dir())
        llama = Llama(
            model_path=str(path),
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_threads_batch=config.n_threads,
            n_batch=config.n_batch,
            chat_format=slot.chat_format,
            verbose=False,
        )
        slot.path, slot.llama, slot.load_seconds = path, llama, time.perf_counter() - started
        log.info(
            "llama-cpp: loaded %s from %s in %.2fs (chat format %s)",
            slot.model_id,
            path,
            slot.load_seconds,
            llama.chat_format,
        )
        return llama

    def _close_models(self) -> None:
        for slot in self._slots.values():
            if slot.llama is not None:
                slot.llama.close()
                slot.llama = None

    async def shutdown(self) -> None:
        for run in list(self._runs):
            run.cancel()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_models)
        self._executor.shutdown(wait=False)

    async def health(self) -> dict[str, Any]:
        models = {model_id: slot.state() for model_id, slot in self._slots.items()}
        errors = [f"{model_id}: {state['message']}" for model_id, state in models.items() if state["state"] == "error"]
        seconds = self.counters["seconds"]
        tokens_per_second = round(self.counters["completion_tokens"] / seconds, 1) if seconds else None
        info: dict[str, Any] = {
            "status": "Error" if errors else "OK",
            "models": models,
            **self.counters,
            "tokens_per_second": tokens_per_second,
        }
        if errors:
            info["message"] = "; ".join(errors)
        return info

    # -- resources -----------------------------------------------------------------------------------------------

    async def register_model(self, model: Model) -> None:
        if model.model_type.value != "llm":
            raise BadRequestError(
                "llama-cpp serves text generation (llm) models only; for embeddings use the "
                "sentence-transformers provider"
            )
        name = model.provider_resource_id or model.identifier
        if name not in self._slots:
            raise BadRequestError(
                f"llama-cpp has no model '{name}'; configured: {', '.join(self._slots)} (add local "
                f"GGUF files under the provider's config.models)"
            )

    async def unregister_model(self, model: Model) -> None:
        """Nothing to do: configured models stay loaded."""

    # -- running work on the generation thread -------------------------------------------------------------------

    def _on_thread(self, run: Run, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.counters["requests"] += 1
            self.counters["completion_tokens"] += run.completion_tokens
            self.counters["seconds"] += time.perf_counter() - started
            if run.interrupted:
                self.counters["cancelled"] += 1

    def _submit(self, run: Run, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue work for the generation thread, or refuse it (429) when ``max_waiting_requests`` already wait."""
        if self._in_flight > self.config.max_waiting_requests:
            raise TooManyRequestsError(
                f"llama-cpp is busy: {self._in_flight - 1} requests are waiting for the model; retry shortly "
                "(or raise max_waiting_requests)"
            )
        self._in_flight += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._on_thread, run, fn, *args)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: asyncio.Future[Any]) -> None:
        self._in_flight -= 1

    async def _call(self, run: Run, fn: Callable[..., Any], *args: Any) -> Any:
        future = self._submit(run, fn, *args)
        try:
            return await future
        except asyncio.CancelledError:
            run.cancel()
            raise
        except Exception as exc:
            raise as_stack_error(exc) from None

    async def _stream(self, run: Run, produce: Callable[[], Iterator[dict[str, Any]]]) -> ThreadStream:
        stream = ThreadStream(self, run, produce)
        await stream.prime()
        return stream

    async def _model(self, name: str) -> Llama:
        slot = self._slots.get(name)
        if slot is None:
            raise NotFoundError(f"llama-cpp serves no model '{name}' (configured: {', '.join(self._slots)})")
        self._start_loading(slot)
        return await slot.ready()

    # -- the InferenceProvider protocol --------------------------------------------------------------------------

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> dict[str, Any] | AsyncIterator[Any]:
        llama = await self._model(request.model)
        plan = self._chat_plan(request, llama)
        run = Run(llama, plan.top_logprobs, self.config.reuse_prompt_prefix)
        self._runs.add(run)
        if request.stream:
            return await self._stream(run, lambda: engine.chat_chunks(run, plan))
        return await self._call(run, engine.chat_completion, run, plan)

    async def openai_completion(self, request: CompletionRequest) -> dict[str, Any] | AsyncIterator[Any]:
        llama = await self._model(request.model)
        plan = self._completion_plan(request, llama)
        run = Run(llama, plan.top_logprobs, self.config.reuse_prompt_prefix)
        self._runs.add(run)
        if request.stream:
            return await self._stream(run, lambda: engine.completion_chunks(run, plan))
        return await self._call(run, engine.completion, run, plan)

    async def openai_embeddings(self, request: EmbeddingsRequest) -> Any:
        raise BadRequestError(
            "llama-cpp does not serve embeddings; use the sentence-transformers provider "
            "(inline::sentence-transformers)",
            param="model",
        )

    # -- request validation (on the loop, cheap) -----------------------------------------------------------------

    def _seeds(self, seed: int | None, n: int) -> list[int]:
        base = seed if seed is not None else self.config.seed
        if base is None:
            base = random.getrandbits(32)
        return [(base + i) % 2**32 for i in range(n)]

    @staticmethod
    def _sampling(request: Any, llama: Llama, max_tokens: int | None, max_tokens_param: str = "max_tokens") -> Sampling:
        if max_tokens is not None and max_tokens > llama.n_ctx():
            raise BadRequestError(
                f"{max_tokens_param}: {max_tokens} is more than this model's context window ({llama.n_ctx()} tokens, "
                "the prompt included)",
                param=max_tokens_param,
            )
        stop = request.stop if isinstance(request.stop, list) else [request.stop] if request.stop else []
        logit_bias = None
        if request.logit_bias:
            logit_bias = {}
            n_vocab = llama.n_vocab()
            for key, value in request.logit_bias.items():
                if not key.lstrip("-").isdigit() or not 0 <= int(key) < n_vocab:
                    raise BadRequestError(
                        f"logit_bias: '{key}' is not a token id of this model (0..{n_vocab - 1})", param="logit_bias"
                    )
                logit_bias[int(key)] = float(value)
        return Sampling(
            temperature=1.0 if request.temperature is None else request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            max_tokens=max_tokens,
            stop=stop,
            logit_bias=logit_bias,
            presence_penalty=request.presence_penalty or 0.0,
            frequency_penalty=request.frequency_penalty or 0.0,
        )

    def _chat_plan(self, request: ChatCompletionRequest, llama: Llama) -> ChatPlan:
        chat_format = llama.chat_format
        if request.top_logprobs is not None and not request.logprobs:
            raise BadRequestError("top_logprobs needs logprobs: true", param="top_logprobs")
        n = request.n or 1
        tools = [tool.model_dump(exclude_none=True) for tool in request.tools or []]
        for tool in tools:
            tool["function"].setdefault("parameters", {"type": "object", "properties": {}})
        choice = request.tool_choice
        if choice is None:
            choice = "auto" if tools else "none"
        forced: dict[str, Any] | None = None
        if not isinstance(choice, str):
            name = choice.function.get("name")
            forced = next((tool for tool in tools if tool["function"]["name"] == name), None)
            if forced is None:
                raise BadRequestError(f"tool_choice names '{name}', which is not in tools", param="tool_choice")
        elif choice == "required":
            if len(tools) != 1:
                raise BadRequestError(
                    f"tool_choice 'required' needs exactly one tool here (got {len(tools)}); name the tool to call "
                    "with tool_choice {'type': 'function', 'function': {'name': ...}}",
                    param="tool_choice",
                )
            forced = tools[0]
        prompted: list[dict[str, Any]] | None = None
        if choice == "auto" and tools:
            if request.logprobs:
                raise BadRequestError("logprobs are not available with automatic tool choice", param="logprobs")
            if chat_format != TOOL_CALLING_FORMAT:
                # This chat format cannot render tools: describe them in the prompt, constrain the reply by grammar.
                prompted = tools
                if request.response_format is not None and request.response_format.type != "text":
                    raise BadRequestError(
                        f"response_format cannot be combined with automatic tool choice on chat format "
                        f"'{chat_format}'; force the tool with tool_choice, or send tool_choice 'none'",
                        param="response_format",
                    )
        instructions = None
        if forced is not None and chat_format != TOOL_CALLING_FORMAT:
            instructions = forced_tool_instructions(forced)
        elif prompted is not None:
            instructions = prompted_tools.instructions(prompted)
        tool_grammar = None
        if forced is not None:
            tool_grammar = _schema_grammar(forced["function"]["parameters"], "tools.function.parameters")
        max_tokens_param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
        max_tokens = getattr(request, max_tokens_param)
        use_tools = bool(tools) and choice != "none" and prompted is None
        return ChatPlan(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            messages=normalize(request.messages, chat_format, instructions),
            sampling=self._sampling(request, llama, max_tokens, max_tokens_param),
            seeds=self._seeds(request.seed, n),
            tools=tools if use_tools else None,
            tool_choice=(
                {"type": "function", "function": {"name": forced["function"]["name"]}}
                if forced
                else choice
                if use_tools
                else None
            ),
            forced_tool=forced["function"]["name"] if forced else None,
            auto_tools=use_tools and forced is None,
            prompted_tools=prompted,
            grammar=_prompted_grammar(prompted) if prompted else _response_format_grammar(request.response_format),
            tool_grammar=tool_grammar,
            top_logprobs=(request.top_logprobs or 0) if request.logprobs else None,
            include_usage=bool(request.stream and request.stream_options and request.stream_options.include_usage),
        )

    def _completion_plan(self, request: CompletionRequest, llama: Llama) -> CompletionPlan:
        if request.suffix is not None:
            raise BadRequestError("suffix (insertion) is not supported by llama-cpp", param="suffix")
        n = request.n or 1
        if request.best_of is not None and request.best_of != n:
            raise BadRequestError("best_of is not supported (only best_of == n)", param="best_of")
        prompt = request.prompt
        if isinstance(prompt, str):
            prompts: list[str | list[int]] = [prompt]
        elif prompt and all(isinstance(p, int) for p in prompt):
            prompts = [list(prompt)]  # type: ignore[arg-type]
        else:
            prompts = list(prompt)  # type: ignore[arg-type]
        if not prompts or any(len(p) == 0 for p in prompts if isinstance(p, list)):
            raise BadRequestError("prompt must not be empty", param="prompt")
        max_tokens = 16 if request.max_tokens is None else request.max_tokens
        return CompletionPlan(
            id=f"cmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            prompts=prompts,
            sampling=self._sampling(request, llama, max_tokens),
            seeds=self._seeds(request.seed, n),
            echo=bool(request.echo),
            top_logprobs=request.logprobs,
            include_usage=bool(request.stream and request.stream_options and request.stream_options.include_usage),
        )

    # -- test and ops helper ------------------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until the generation thread has finished everything queued before this call."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)


def _schema_grammar(schema: Any, param: str) -> LlamaGrammar:
    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as exc:
        raise BadRequestError(
            f"{param}: llama.cpp cannot turn this JSON schema into a grammar: {exc}", param=param
        ) from None


def _prompted_grammar(tools: list[dict[str, Any]]) -> LlamaGrammar:
    try:
        return LlamaGrammar.from_string(prompted_tools.grammar_text(tools), verbose=False)
    except Exception as exc:
        raise BadRequestError(
            f"tools: llama.cpp cannot turn these tools' parameters into a grammar: {exc}", param="tools"
        ) from None


def _response_format_grammar(response_format: Any) -> LlamaGrammar | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    schema = response_format.json_schema.schema_
    if schema is None:
        raise BadRequestError("response_format.json_schema.schema is required", param="response_format")
    return _schema_grammar(schema, "response_format.json_schema.schema")


def _log_load(future: asyncio.Future[Llama]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error("llama-cpp: model load failed: %s", error)


async def create_provider(config: LlamaCppConfig, deps: dict[Api, Any]) -> LlamaCppInference:
    provider = LlamaCppInference(config)
    provider.check()
    provider.start()
    return provider
