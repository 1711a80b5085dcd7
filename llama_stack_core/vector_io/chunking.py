"""Token-aware chunking: split text into windows of at most N tokens overlapping by M tokens.

Tokens are words and punctuation marks (a regex split), which tracks sub-word tokenizers closely enough to size
chunks for embedding models (a word is 1-2 model tokens); no tokenizer download is needed. Chunks are slices of
the original text, so whitespace and layout survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    start: int
    end: int
    token_count: int


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def chunk_text(text: str, max_tokens: int, overlap_tokens: int) -> list[TextChunk]:
    """Windows of ``max_tokens`` tokens, each starting ``max_tokens - overlap_tokens`` tokens after the last."""
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    chunks: list[TextChunk] = []
    step = max_tokens - overlap_tokens
    for first in range(0, len(spans), step):
        window = spans[first : first + max_tokens]
        start, end = window[0][0], window[-1][1]
        chunks.append(TextChunk(text[start:end], start, end, len(window)))
        if first + max_tokens >= len(spans):
            break
    return chunks
