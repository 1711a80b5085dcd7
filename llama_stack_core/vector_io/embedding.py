"""Embeddings for the VectorIO engine, asked of the stack's inference API in batches; and chunks sized in the
embedding model's own tokens, so each chunk is embedded whole."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..apis.inference import EmbeddingsRequest, EmbeddingsResponse
from ..errors import NotConfiguredError
from ..provider_contracts import TokenizesText
from ..routing import ApiRouter
from .chunking import Span, TextChunk, chunk_sizes, chunk_spans, estimated_spans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelTokens:
    """A text's tokens as an embedding model counts them (``tokenizer`` "model") or as estimated ("estimate"), and
    how many tokens the model embeds whole, when known."""

    spans: list[Span]
    max_tokens: int | None
    tokenizer: str


@dataclass(frozen=True)
class ChunkPlan:
    """A text's chunks and the size and overlap they were cut with."""

    chunks: list[TextChunk]
    size: int
    overlap: int
    tokenizer: str
    capped: bool


class Embedder:
    def __init__(self, inference: ApiRouter | None, batch_size: int) -> None:
        self.inference = inference
        self.batch_size = batch_size
        self._tokenizes: dict[str, bool] = {}  # by provider id: does it satisfy TokenizesText?

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One embedding per text, in order, with at most ``batch_size`` texts per embeddings call."""
        if self.inference is None:
            raise NotConfiguredError("embedding needs the inference API, which this stack does not serve")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            answer = await self.inference.call_as(
                "openai_embeddings",
                EmbeddingsRequest(model=model, input=texts[start : start + self.batch_size]),
                EmbeddingsResponse,
            )
            vectors.extend(item.embedding for item in sorted(answer.data, key=lambda d: d.index))
        return vectors

    async def tokenize(self, model: str, text: str) -> ModelTokens:
        """The text's tokens by the model's own tokenizer when its provider has one (``TokenizesText``); else a
        conservative estimate, with the model's ``context_length`` metadata (if any) as its limit."""
        if self.inference is None:
            raise NotConfiguredError("embedding needs the inference API, which this stack does not serve")
        provider, provider_model, resource = await self.inference.resolve("model", model)
        tokenizes = self._tokenizes.get(provider.provider_id)
        if tokenizes is None:
            tokenizes = self._tokenizes[provider.provider_id] = isinstance(provider.impl, TokenizesText)
        if tokenizes:
            try:
                answer = await provider.impl.tokenize_text(provider_model, text)
                return ModelTokens([tuple(span) for span in answer.offsets], max(answer.max_tokens, 1), "model")
            except NotImplementedError as exc:
                log.info("%s cannot tokenize '%s' (%s); estimating its tokens", provider.provider_id, model, exc)
        limit = (resource.metadata or {}).get("context_length") if resource is not None else None
        known = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        return ModelTokens(estimated_spans(text), limit if known else None, "estimate")

    async def chunk(self, model: str, text: str, max_tokens: int, overlap_tokens: int) -> ChunkPlan:
        """The text's chunks for ``model``: at most ``max_tokens`` of its tokens (cut to what the model embeds whole),
        overlapping by about ``overlap_tokens`` (cut in the same proportion)."""
        tokens = await self.tokenize(model, text)
        size, overlap = chunk_sizes(max_tokens, overlap_tokens, tokens.max_tokens)
        chunks = [c for c in chunk_spans(text, tokens.spans, size, overlap) if c.text.strip()]
        return ChunkPlan(chunks, size, overlap, tokens.tokenizer, capped=size < max_tokens)
