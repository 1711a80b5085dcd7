"""``inline::sentence-transformers``: OpenAI-compatible embeddings from local sentence-transformers models.

Imported by the stack when a run config uses the provider. torch, sentence-transformers and numpy are imported in
the provider's worker thread, never on the event loop: creating the provider only resolves paths and queues the model
loads; requests await the load. Everything a model does (load, tokenise, encode, serialise) runs on that one thread,
so a model is never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_stack_core.apis.resources import ModelType
from llama_stack_core.errors import BadRequestError, ConfigError, NotFoundError, ServiceUnavailableError
from llama_stack_core.provider_contracts import TextTokens, TokenizesText

from .config import PACKAGED_MODELS, PROVIDER_TYPE, SentenceTransformersConfig, model_metadata, packaged_model

if TYPE_CHECKING:
    from llama_stack_core.apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
    from llama_stack_core.apis.resources import Model
    from llama_stack_core.apis.routes import Api

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    name: str
    model: Any  # sentence_transformers.SentenceTransformer
    dimension: int
    max_seq_length: int
    load_seconds: float
    thread_id: int


class SentenceTransformersInference(TokenizesText):
    """Implements the embeddings part of ``InferenceProvider``; chat and text completions are refused with 400."""

    def __init__(self, config: SentenceTransformersConfig, paths: dict[str, Path]) -> None:
        self.config = config
        self.paths = paths  # model name -> model directory
        self.metadata = {name: model_metadata(str(path)) for name, path in paths.items()}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentence-transformers")
        self._loads: dict[str, Future[LoadedModel]] = {}

    def start(self) -> None:
        """Queue the background loads (``preload``); returns at once."""
        if self.config.preload:
            for name in self.paths:
                self._load_future(name)

    # -- loading (worker thread) ---------------------------------------------------------------------------------

    def _load_future(self, name: str) -> Future[LoadedModel]:
        future = self._loads.get(name)
        if future is None:
            future = self._loads[name] = self._executor.submit(self._load, name)
        return future

    def _load(self, name: str) -> LoadedModel:
        for attempt in range(3):
            try:
                return self._load_once(name)
            except RecursionError:
                # importing torch/transformers here while another thread imports some of the same modules can
                # fail half-way with a RecursionError (a partly initialised lazy module); a second import works
                if attempt == 2:
                    raise
                log.warning(
                    "sentence-transformers: loading '%s' hit a concurrent-import error; retrying", name, exc_info=True
                )
                time.sleep(1)
        raise AssertionError("unreachable")

    def _load_once(self, name: str) -> LoadedModel:
        started = time.perf_counter()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # threads are torch_threads' business
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.config.torch_threads)
        model = SentenceTransformer(str(self.paths[name]), device=self.config.device, local_files_only=True)
        if not self.config.normalize and len(model) and type(model[len(model) - 1]).__name__ == "Normalize":
            del model[len(model) - 1]
        model.eval()
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = int(get_dimension())
        loaded = LoadedModel(
            name,
            model,
            dimension,
            int(model.max_seq_length or 512),
            time.perf_counter() - started,
            threading.get_ident(),
        )
        expected = (self.metadata.get(name) or {}).get("embedding_dimension")
        if expected is not None and expected != dimension:
            log.warning(
                "model '%s' gives %d-dimensional vectors, but its files suggested %d", name, dimension, expected
            )
        log.info(
            "sentence-transformers: loaded '%s' (dim %d) on %s in %.1f s",
            name,
            dimension,
            self.config.device,
            loaded.load_seconds,
        )
        return loaded

    async def loaded_model(self, name: str) -> LoadedModel:
        """The loaded model, awaiting its background load (started now if ``preload`` is off)."""
        if name not in self.paths:
            raise NotFoundError(
                f"model '{name}' is not configured on {PROVIDER_TYPE}; configured: {', '.join(self.paths)}",
                param="model",
            )
        future = self._load_future(name)
        try:
            # shield: a cancelled request must not cancel a load other requests are waiting for
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ServiceUnavailableError(
                f"model '{name}' failed to load from {self.paths[name]}: {type(exc).__name__}: {exc}"
            ) from None

    # -- encoding (worker thread) --------------------------------------------------------------------------------

    def _embed(self, loaded: LoadedModel, texts: list[str], encoding_format: str, model_name: str) -> bytes:
        import numpy as np
        import orjson

        token_ids = loaded.model.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=self.config.truncate,
            max_length=loaded.max_seq_length if self.config.truncate else None,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        counts = [len(ids) for ids in token_ids]
        if not self.config.truncate:
            too_long = [(i, n) for i, n in enumerate(counts) if n > loaded.max_seq_length]
            if too_long:
                where = ", ".join(f"input[{i}] has {n}" for i, n in too_long[:5])
                raise BadRequestError(
                    f"{where} tokens; '{model_name}' takes at most {loaded.max_seq_length} tokens "
                    f"per input (truncation is off in this provider's config)",
                    param="input",
                )
        vectors = loaded.model.encode(
            texts,
            batch_size=self.config.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.config.normalize,
            show_progress_bar=False,
        )
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if encoding_format == "base64":
            data = [
                {"object": "embedding", "index": i, "embedding": base64.b64encode(row.tobytes()).decode("ascii")}
                for i, row in enumerate(vectors)
            ]
        else:
            data = [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(vectors)]
        total = sum(counts)
        body = {
            "object": "list",
            "data": data,
            "model": model_name,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }
        # float32 written in its shortest form, which reads back to the very same float32 (as OpenAI does)
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    def _tokenize(self, loaded: LoadedModel, text: str) -> TextTokens:
        tokenizer = loaded.model.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            raise NotImplementedError(f"'{loaded.name}' has no fast tokenizer, which gives token offsets")
        encoding = tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=False,
            verbose=False,  # no warning that the text is longer than the model takes: that is why it is asked
        )
        offsets = [(int(start), int(end)) for start, end in encoding["offset_mapping"] if end > start]
        specials = tokenizer.num_special_tokens_to_add(pair=False)
        return TextTokens(offsets, max(loaded.max_seq_length - specials, 1))

    def _texts(self, value: Any) -> list[str]:
        texts = [value] if isinstance(value, str) else list(value)
        if not texts:
            raise BadRequestError("input must not be empty: send a string or a list of strings", param="input")
        if not all(isinstance(text, str) for text in texts):
            raise BadRequestError(
                "token-id input is not supported by sentence-transformers models: send the text "
                "as a string or a list of strings",
                param="input",
            )
        if len(texts) > self.config.max_inputs:
            raise BadRequestError(
                f"too many inputs: {len(texts)} (at most {self.config.max_inputs} per request)", param="input"
            )
        return texts

    # -- the InferenceProvider protocol --------------------------------------------------------------------------

    async def openai_embeddings(self, request: EmbeddingsRequest) -> bytes:
        texts = self._texts(request.input)
        loaded = await self.loaded_model(request.model)
        if request.dimensions is not None and request.dimensions != loaded.dimension:
            raise BadRequestError(
                f"'{request.model}' gives {loaded.dimension}-dimensional vectors and cannot shorten "
                f"them (not Matryoshka-trained): omit dimensions or set it to {loaded.dimension}",
                param="dimensions",
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._embed, loaded, texts, request.encoding_format, request.model
        )

    async def tokenize_text(self, model: str, text: str) -> TextTokens:
        """``TokenizesText``: the model's own tokens of ``text`` (character offsets) and how many it embeds whole."""
        loaded = await self.loaded_model(model)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._tokenize, loaded, text)

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> Any:
        raise BadRequestError(
            f"'{request.model}' is an embedding model: {PROVIDER_TYPE} serves only /v1/embeddings", param="model"
        )

    async def openai_completion(self, request: CompletionRequest) -> Any:
        raise BadRequestError(
            f"'{request.model}' is an embedding model: {PROVIDER_TYPE} serves only /v1/embeddings", param="model"
        )

    # -- resources and lifecycle ---------------------------------------------------------------------------------

    async def register_model(self, model: Model) -> None:
        """Accept embedding models this config names; a BadRequestError refuses the registration (HTTP 400)."""
        name = model.provider_resource_id or model.identifier
        if model.model_type != ModelType.embedding:
            raise BadRequestError(
                f"{PROVIDER_TYPE} serves only embedding models; register '{model.identifier}' with "
                f"model_type 'embedding'"
            )
        if name not in self.paths:
            raise BadRequestError(
                f"{PROVIDER_TYPE} has no model '{name}'; it serves {', '.join(self.paths)} (add more "
                f"under config.models: name -> local directory or a packaged model)"
            )
        future = self._loads.get(name)
        if future is not None and future.done() and future.exception() is None:
            known = future.result().dimension
        else:
            known = (self.metadata.get(name) or {}).get("embedding_dimension")
        given = model.metadata.get("embedding_dimension")
        if known is not None and given != known:
            raise BadRequestError(
                f"'{name}' gives {known}-dimensional vectors, but metadata.embedding_dimension is {given}"
            )

    async def health(self) -> dict[str, Any]:
        states: dict[str, str] = {}
        errors = []
        for name in self.paths:
            future = self._loads.get(name)
            if future is None:
                states[name] = "not loaded"
            elif not future.done():
                states[name] = "loading"
            elif future.exception() is not None:
                states[name] = "failed"
                errors.append(f"{name}: {future.exception()}")
            else:
                states[name] = "loaded"
        if errors:
            return {"status": "Error", "message": "; ".join(errors), "models": states}
        return {"status": "OK", "models": states}

    async def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def resolve_paths(config: SentenceTransformersConfig) -> dict[str, Path]:
    """Each configured model's directory; ConfigError (a clean start-up failure) if one is missing."""
    paths: dict[str, Path] = {}
    for name, source in config.models.items():
        packaged = packaged_model(source)
        if packaged is not None:
            try:
                paths[name] = packaged.path()
            except ImportError:
                raise ConfigError(
                    f"{PROVIDER_TYPE}: model '{name}' needs the package {packaged.package}: "
                    f"pip install {packaged.package}"
                ) from None
            continue
        path = Path(source).expanduser()
        if not path.is_dir():
            known = ", ".join(p.package for p in PACKAGED_MODELS)
            raise ConfigError(
                f"{PROVIDER_TYPE}: model '{name}': {source} is neither a directory nor a packaged model ({known})"
            )
        paths[name] = path.resolve()
    return paths


def _import_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401


async def create_provider(config: SentenceTransformersConfig, deps: dict[Api, Any]) -> SentenceTransformersInference:
    """The factory named in plugin.py. With ``preload``, torch and sentence-transformers are imported (on the
    provider's thread) before the server starts serving: importing them while request handling imports other modules
    intermittently failed with a RecursionError inside transformers' lazy modules. The model weights then load in the
    background."""
    provider = SentenceTransformersInference(config, resolve_paths(config))
    if config.preload:
        await asyncio.get_running_loop().run_in_executor(provider._executor, _import_libraries)
    provider.start()
    return provider
