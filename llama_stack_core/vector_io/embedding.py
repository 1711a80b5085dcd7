"""Embeddings for the VectorIO engine, asked of the stack's inference API in batches."""

from __future__ import annotations

from ..apis.inference import EmbeddingsRequest, EmbeddingsResponse
from ..errors import NotConfiguredError
from ..routing import ApiRouter


class Embedder:
    def __init__(self, inference: ApiRouter | None, batch_size: int) -> None:
        self.inference = inference
        self.batch_size = batch_size

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
