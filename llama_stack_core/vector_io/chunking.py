"""Chunking: split text into windows of at most N tokens overlapping by about M tokens.

Tokens are given as character spans, ideally the embedding model's own (see
:func:`~llama_stack_core.vector_io.embedding.model_tokens`), so a chunk holds no more tokens than the model embeds
whole. Without the model's tokenizer, :func:`estimated_spans` over-counts on purpose (a word of 7 letters is three
"tokens"). Windows end and start between words where they can, never inside one unless a single word is longer than a
window. Chunks are slices of the original text, so whitespace and layout survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

#: Characters per estimated token: fewer than English averages under sub-word tokenizers, so estimates run high.
ESTIMATE_CHARS_PER_TOKEN = 3

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    start: int
    end: int
    token_count: int


def tokens(text: str) -> list[str]:
    """Words and punctuation marks (a regex split)."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def word_spans(text: str) -> list[Span]:
    """The spans of :func:`tokens`."""
    return [m.span() for m in _TOKEN.finditer(text)]


def estimated_spans(text: str) -> list[Span]:
    """A conservative stand-in for a sub-word tokenizer: each word cut into pieces of at most
    :data:`ESTIMATE_CHARS_PER_TOKEN` characters, each punctuation mark one token."""
    step = ESTIMATE_CHARS_PER_TOKEN
    return [(i, min(i + step, end)) for start, end in word_spans(text) for i in range(start, end, step)]


def _word_boundaries(text: str, spans: list[Span]) -> list[bool]:
    """``b[i]``: may a window start at token ``i`` (and the previous one end at ``i - 1``) without cutting a word?
    True where whitespace separates the two tokens or either is punctuation; always true at both ends."""
    boundaries = [True] * (len(spans) + 1)
    for i in range(1, len(spans)):
        (_, prev_end), (start, end) = spans[i - 1], spans[i]
        joined = prev_end >= start
        boundaries[i] = not joined or not (text[prev_end - 1].isalnum() and text[start:end][:1].isalnum())
    return boundaries


def chunk_spans(text: str, spans: list[Span], max_tokens: int, overlap_tokens: int) -> list[TextChunk]:
    """Windows of at most ``max_tokens`` of the tokens ``spans``, each starting about ``overlap_tokens`` tokens before
    the previous one ended (moved forward to the next word's first token)."""
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens")
    boundary = _word_boundaries(text, spans)
    chunks: list[TextChunk] = []
    first, count = 0, len(spans)
    while first < count:
        end = min(first + max_tokens, count)
        cut = end
        while cut > first + 1 and not boundary[cut]:
            cut -= 1
        if boundary[cut]:  # else one word is longer than the window: cut inside it
            end = cut
        start, stop = spans[first][0], spans[end - 1][1]
        chunks.append(TextChunk(text[start:stop], start, stop, end - first))
        if end >= count:
            break
        following = max(end - overlap_tokens, first + 1)
        while following < end and not boundary[following]:
            following += 1
        first = following
    return chunks


def chunk_text(text: str, max_tokens: int, overlap_tokens: int) -> list[TextChunk]:
    """:func:`chunk_spans` over words and punctuation marks."""
    return chunk_spans(text, word_spans(text), max_tokens, overlap_tokens)


def chunk_sizes(max_tokens: int, overlap_tokens: int, model_limit: int | None) -> tuple[int, int]:
    """Chunk size and overlap within what the model embeds whole: a size above ``model_limit`` is cut to it, the
    overlap in the same proportion (and never past half the size)."""
    size = min(max_tokens, model_limit) if model_limit else max_tokens
    overlap = overlap_tokens * size // max_tokens
    return size, min(overlap, size // 2)
