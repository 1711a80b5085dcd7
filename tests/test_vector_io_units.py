"""The engine's pure parts: chunking, parsing, hybrid fusion, filters, pagination."""

from __future__ import annotations

import itertools
import json

import pytest

from llama_stack_core.apis.vector_io import ComparisonFilter, CompoundFilter
from llama_stack_core.errors import BadRequestError
from llama_stack_core.pagination import paginate
from llama_stack_core.testing.documents import minimal_pdf
from llama_stack_core.vector_io.chunking import (
    chunk_sizes,
    chunk_spans,
    chunk_text,
    count_tokens,
    estimated_spans,
    tokens,
)
from llama_stack_core.vector_io.index import ScoredChunk, StoredChunk, matches
from llama_stack_core.vector_io.parsing import InvalidFileError, UnsupportedFileError, file_to_text
from llama_stack_core.vector_io.search import fuse


def test_chunks_are_windows_of_the_original_text_with_overlap():
    text = "  ".join(f"word{i}, next" for i in range(100))  # 300 tokens: word, comma, next
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=10)
    assert all(c.token_count <= 50 and text[c.start : c.end] == c.text for c in chunks)
    assert [tokens(a.text)[-10:] == tokens(b.text)[:10] for a, b in itertools.pairwise(chunks)] == [True] * (
        len(chunks) - 1
    )
    assert tokens(chunks[-1].text)[-1] == "next" and chunks[0].start == 0
    assert len(chunks) == 8  # ceil((300 - 10) / 40)
    assert chunk_text("", 10, 2) == []
    assert [c.text for c in chunk_text("one two", 10, 2)] == ["one two"]
    with pytest.raises(ValueError):
        chunk_text("x", 10, 10)


def test_windows_end_and_start_between_words_when_tokens_are_pieces_of_words():
    text = "unbelievable outcomes everywhere, truly"
    spans = estimated_spans(text)  # unb eli eva ble | out com es | eve ryw her e | , | tru ly
    assert [text[a:b] for a, b in spans[:4]] == ["unb", "eli", "eva", "ble"] and len(spans) == 14
    chunks = chunk_spans(text, spans, max_tokens=9, overlap_tokens=3)
    # the overlap of 3 tokens would start inside "everywhere": it starts at the next word instead
    assert [c.text for c in chunks] == ["unbelievable outcomes", "outcomes everywhere,", ", truly"]
    assert [c.token_count for c in chunks] == [7, 8, 3]
    # one word longer than a window is cut inside it rather than never ending
    assert [c.text for c in chunk_spans("abcdefghijkl", estimated_spans("abcdefghijkl"), 2, 0)] == ["abcdef", "ghijkl"]


def test_estimates_count_more_tokens_than_words():
    text = "Internationalization requires careful consideration, they said."
    assert len(estimated_spans(text)) >= 2 * count_tokens(text)


def test_chunk_sizes_are_cut_to_what_the_model_embeds_whole():
    assert chunk_sizes(512, 64, 254) == (254, 31)  # overlap cut in the same proportion
    assert chunk_sizes(800, 400, 254) == (254, 127)
    assert chunk_sizes(100, 20, 254) == (100, 20)
    assert chunk_sizes(512, 64, None) == (512, 64)


def test_parsers_extract_text_per_type():
    assert file_to_text("a.md", b"# Title\n\nBody") == "# Title\n\nBody"
    html = b"<html><head><title>t</title><script>var x;</script></head><body><p>Hello &amp; bye</p></body></html>"
    assert file_to_text("page.html", html) == "Hello & bye"
    assert "Quarterly report" in file_to_text("r.pdf", minimal_pdf("Quarterly report (draft)"))
    records = json.dumps([{"name": "ada", "langs": ["en", "fr"]}, {"name": "bob"}]).encode()
    assert file_to_text("d.json", records) == "name: ada\nlangs: ['en', 'fr']\n\nname: bob"
    assert file_to_text("notes", "caf\xe9".encode("latin-1")) == "caf\xe9"
    with pytest.raises(UnsupportedFileError):
        file_to_text("x.png", b"\x89PNG\x00\x00")
    with pytest.raises(UnsupportedFileError):
        file_to_text("blob", b"\x00\x01\x02")
    with pytest.raises(InvalidFileError):
        file_to_text("bad.pdf", b"%PDF-1.4 garbage")
    with pytest.raises(InvalidFileError):
        file_to_text("bad.json", b"{nope")


def chunk(chunk_id: str, **attributes) -> StoredChunk:
    return StoredChunk(chunk_id, chunk_id, [0.0], attributes=attributes)


def test_reciprocal_rank_fusion_and_weighted_fusion():
    vector = [ScoredChunk(chunk("a"), 0.9), ScoredChunk(chunk("b"), 0.8), ScoredChunk(chunk("c"), 0.1)]
    keyword = [ScoredChunk(chunk("c"), 12.0), ScoredChunk(chunk("a"), 3.0)]
    assert [h.chunk.chunk_id for h in fuse(vector, keyword, 3)] == ["a", "c", "b"]
    assert fuse(vector, keyword, 1)[0].score == pytest.approx(1 / 61 + 1 / 62)
    weighted = fuse(vector, keyword, 3, ranker="weighted", alpha=0.2)
    assert [h.chunk.chunk_id for h in weighted] == ["c", "a", "b"]  # keyword-heavy weighting


def test_filter_evaluation():
    attrs = {"lang": "en", "year": 2021, "tags": "x"}
    assert matches(ComparisonFilter(key="year", type="gt", value=2020), attrs)
    assert not matches(ComparisonFilter(key="year", type="gt", value="2020"), attrs)  # no str/int comparison
    assert matches(ComparisonFilter(key="missing", type="ne", value=1), attrs)
    assert not matches(ComparisonFilter(key="missing", type="eq", value=1), attrs)
    assert matches(ComparisonFilter(key="lang", type="in", value=["en", "de"]), attrs)
    assert matches(
        CompoundFilter(
            type="or",
            filters=[
                ComparisonFilter(key="lang", type="eq", value="fr"),
                ComparisonFilter(key="tags", type="nin", value=["y"]),
            ],
        ),
        attrs,
    )
    assert not matches(
        CompoundFilter(
            type="and",
            filters=[
                ComparisonFilter(key="lang", type="eq", value="en"),
                ComparisonFilter(key="year", type="lte", value=2020),
            ],
        ),
        attrs,
    )


def test_cursor_pagination():
    items = [{"id": f"i{n}", "at": n} for n in range(5)]
    page = paginate(items, limit=2, sort_key=lambda i: i["at"], item_id=lambda i: i["id"])
    assert [i["id"] for i in page.data] == ["i4", "i3"] and page.has_more and page.last_id == "i3"
    rest = paginate(items, limit=10, after="i3", sort_key=lambda i: i["at"], item_id=lambda i: i["id"])
    assert [i["id"] for i in rest.data] == ["i2", "i1", "i0"] and not rest.has_more
    ascending = paginate(
        items, limit=10, order="asc", before="i2", sort_key=lambda i: i["at"], item_id=lambda i: i["id"]
    )
    assert [i["id"] for i in ascending.data] == ["i0", "i1"]
    with pytest.raises(BadRequestError):
        paginate(items, limit=1, after="nope", sort_key=lambda i: i["at"], item_id=lambda i: i["id"])


def test_token_counting():
    assert count_tokens("Hello, world!") == 4


def test_before_pages_backwards():
    items = [{"id": f"i{n}", "at": n} for n in range(6)]
    page = paginate(items, limit=2, order="asc", before="i4", sort_key=lambda i: i["at"], item_id=lambda i: i["id"])
    assert [i["id"] for i in page.data] == ["i2", "i3"] and page.has_more
