"""Retrieval with chunks sized by a word count against chunks sized in the embedding model's own tokens.

An offline QA set: long documents of filler paragraphs, each with fact sentences planted at various depths, and one
question per fact. Each document is chunked three ways and every chunk embedded with the same model
(all-MiniLM-L6-v2, ``inline::sentence-transformers``, which embeds at most 256 tokens and truncates the rest):

- ``words``: the engine's former chunking, 512 words-and-punctuation per chunk, 64 overlapping (the starter's
  default); such a chunk is ~600-700 model tokens, so the model never sees most of it;
- ``estimate``: the engine's fallback for models it cannot tokenize, capped by ``context_length`` (256);
- ``model tokens``: windows of the model's own tokens, at most what it embeds whole (254), overlap cut alike; and
  the same with a smaller static size (128), for comparison.

A question is answered at rank r when the r-th nearest chunk (cosine) holds the whole fact sentence. Prints one
table; nothing is asserted.

    .venv/bin/python bench/bench_rag_chunking.py [--documents 6] [--facts 6] [--words 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass

import numpy as np
import orjson

from llama_stack_core.apis.inference import EmbeddingsRequest
from llama_stack_core.vector_io.chunking import TextChunk, chunk_sizes, chunk_spans, chunk_text, estimated_spans

MODEL = "all-MiniLM-L6-v2"

TOWNS = [
    "Port Elvin", "Marrowby", "Quillhaven", "Dunmere", "Ashcombe", "Velloria", "Brackenford", "Sollis Bay",
    "Orrinwick", "Thistledown", "Kelmarsh", "Ravenspire", "Calder Rock", "Wenbury", "Fairholm", "Istermoor",
]  # fmt: skip
PEOPLE = [
    "baker", "harbour master", "schoolteacher", "blacksmith", "pharmacist", "librarian", "ferry captain", "mayor",
    "beekeeper", "clockmaker", "night nurse", "postman", "organist", "tailor", "veterinarian", "lighthouse keeper",
]  # fmt: skip
HOBBIES = [
    ("breeds racing pigeons on the roof", "breeds racing pigeons"),
    ("restores steam locomotives in a barn", "restores steam locomotives"),
    ("writes crime novels under a pen name", "writes crime novels"),
    ("grows giant pumpkins for the autumn fair", "grows giant pumpkins"),
    ("collects antique sextants and compasses", "collects antique sextants"),
    ("builds violins from walnut wood", "builds violins"),
    ("trains falcons on the sea cliffs", "trains falcons"),
    ("brews cider from wild apples", "brews cider"),
    ("paints portraits of stray cats", "paints portraits of cats"),
    ("plays chess by post with a grandmaster", "plays chess by post"),
    ("keeps a telescope to hunt for comets", "hunts for comets"),
    ("knits sweaters for the lifeboat crew", "knits sweaters for the lifeboat crew"),
    ("carves chess sets out of driftwood", "carves driftwood chess sets"),
    ("swims across the bay every new year", "swims across the bay at new year"),
    ("teaches tango in the town hall", "teaches tango"),
    ("repairs vintage motorcycles", "repairs vintage motorcycles"),
    ("keeps a herd of alpacas", "keeps alpacas"),
    ("records the songs of nightingales", "records nightingale songs"),
    ("photographs thunderstorms from the church tower", "photographs thunderstorms"),
    ("bakes wedding cakes shaped like castles", "bakes castle-shaped wedding cakes"),
    ("restores stained glass windows", "restores stained glass"),
    ("grows orchids in a heated greenhouse", "grows orchids"),
    ("races sled dogs in the winter", "races sled dogs"),
    ("translates old sea shanties into Latin", "translates sea shanties into Latin"),
    ("forges medieval swords for museums", "forges medieval swords"),
    ("rescues injured hedgehogs", "rescues hedgehogs"),
    ("juggles flaming torches at the summer festival", "juggles flaming torches"),
    ("keeps bees on the roof of the station", "keeps bees on the station roof"),
    ("designs crossword puzzles for the newspaper", "designs crossword puzzles"),
    ("builds model ships inside bottles", "builds ships in bottles"),
    ("collects meteorites from the desert", "collects meteorites"),
    ("makes cheese from goat milk in a cave", "makes goat cheese"),
    ("rows across the lake before dawn", "rows across the lake before dawn"),
    ("writes letters to astronauts", "writes to astronauts"),
    ("grows bonsai trees older than the town", "grows bonsai trees"),
    ("restores church bells", "restores church bells"),
]
FILLER_SUBJECTS = [
    "The regional council", "The committee on infrastructure", "A later survey", "The quarterly bulletin",
    "The planning office", "An independent review", "The annual report", "The transport authority",
]  # fmt: skip
FILLER_VERBS = ["noted", "recorded", "observed", "summarised", "reiterated", "acknowledged", "documented"]
FILLER_OBJECTS = [
    "the maintenance schedule for municipal drainage culverts", "budgetary adjustments to road resurfacing",
    "procurement guidelines for office stationery", "revisions to the parking permit framework",
    "administrative procedures for archiving correspondence", "interdepartmental coordination of inspections",
    "the reclassification of secondary footpaths", "compliance reporting for streetlight replacement",
    "the harmonisation of waste collection timetables", "staffing arrangements at the records depository",
]  # fmt: skip
FILLER_TAILS = [
    "without substantive amendments", "pending further consultation", "in accordance with standing orders",
    "subject to ratification at a subsequent meeting", "notwithstanding minor typographical corrections",
    "as previously circulated to members", "following an interim assessment",
]  # fmt: skip


@dataclass
class Fact:
    document: int
    start: int
    end: int
    question: str


def filler_paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(
        f"{rng.choice(FILLER_SUBJECTS)} {rng.choice(FILLER_VERBS)} {rng.choice(FILLER_OBJECTS)} "
        f"{rng.choice(FILLER_TAILS)}."
        for _ in range(sentences)
    )


def build_documents(count: int, facts_per_document: int, words: int, seed: int = 7) -> tuple[list[str], list[Fact]]:
    """Documents of about ``words`` words of filler, with facts planted at evenly spread depths (jittered)."""
    rng = random.Random(seed)
    combos = [(t, p, h) for t in TOWNS for p in PEOPLE for h in HOBBIES]
    rng.shuffle(combos)
    used_towns_people: set[tuple[str, str]] = set()
    picked = []
    for town, person, hobby in combos:
        if (town, person) in used_towns_people or any(h == hobby for _, _, h in picked):
            continue
        used_towns_people.add((town, person))
        picked.append((town, person, hobby))
        if len(picked) == count * facts_per_document:
            break
    documents, facts = [], []
    paragraphs_per_document = max(words // 60, facts_per_document + 1)
    for d in range(count):
        mine = picked[d * facts_per_document : (d + 1) * facts_per_document]
        slots = sorted(
            rng.sample(range(paragraphs_per_document), facts_per_document)
        )  # depth of each fact, in paragraphs
        text = f"Minutes and notes, volume {d + 1}\n\n"
        for p in range(paragraphs_per_document):
            paragraph = filler_paragraph(rng, 4)
            if p in slots:
                town, person, (does, asked) = mine[slots.index(p)]
                sentence = f"In {town}, the {person} {does}."
                cut = paragraph.index(". ", len(paragraph) // 3) + 2  # inside the paragraph
                start = len(text) + cut
                paragraph = paragraph[:cut] + sentence + " " + paragraph[cut:]
                facts.append(Fact(d, start, start + len(sentence), f"Who in {town} {asked}?"))
            text += paragraph + "\n\n"
        documents.append(text)
    return documents, facts


async def embed(provider, texts: list[str]) -> np.ndarray:
    answer = orjson.loads(await provider.openai_embeddings(EmbeddingsRequest(model=MODEL, input=texts)))
    return np.array([row["embedding"] for row in sorted(answer["data"], key=lambda r: r["index"])], dtype=np.float32)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=6)
    parser.add_argument("--facts", type=int, default=6)
    parser.add_argument("--words", type=int, default=4000)
    args = parser.parse_args()

    from llama_stack_provider_sentence_transformers.config import SentenceTransformersConfig
    from llama_stack_provider_sentence_transformers.provider import create_provider

    provider = await create_provider(SentenceTransformersConfig(torch_threads=1, batch_size=32), {})
    documents, facts = build_documents(args.documents, args.facts, args.words)
    tokenizer = (await provider.loaded_model(MODEL)).model.tokenizer
    model_tokens = [await provider.tokenize_text(MODEL, text) for text in documents]
    limit = model_tokens[0].max_tokens
    token_size, token_overlap = chunk_sizes(512, 64, limit)
    estimate_size, estimate_overlap = chunk_sizes(512, 64, 256)
    schemes = {
        "words (512/64, before)": [chunk_text(text, 512, 64) for text in documents],
        f"estimate ({estimate_size}/{estimate_overlap})": [
            chunk_spans(text, estimated_spans(text), estimate_size, estimate_overlap) for text in documents
        ],
        f"model tokens ({token_size}/{token_overlap}, now)": [
            chunk_spans(text, tokens.offsets, token_size, token_overlap)
            for text, tokens in zip(documents, model_tokens, strict=True)
        ],
        "model tokens (128/16, static)": [
            chunk_spans(text, tokens.offsets, 128, 16) for text, tokens in zip(documents, model_tokens, strict=True)
        ],
    }
    questions = await embed(provider, [f.question for f in facts])
    words = sum(len(t.split()) for t in documents)
    tokens = sum(len(t.offsets) for t in model_tokens)
    print(
        f"{len(documents)} documents, {words} words ({tokens} {MODEL} tokens), {len(facts)} questions; "
        f"the model embeds {limit} tokens (+2 special) per input\n"
    )
    header = (
        f"{'chunking':<30} {'chunks':>6} {'model tok/chunk':>15} {'fact embedded':>13} {'recall@1':>8} "
        f"{'recall@5':>8} {'MRR':>6} {'embed s':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, per_document in schemes.items():
        chunks: list[tuple[int, TextChunk]] = [(d, c) for d, cs in enumerate(per_document) for c in cs]
        texts = [c.text for _, c in chunks]
        started = time.perf_counter()
        vectors = await embed(provider, texts)
        seconds = time.perf_counter() - started
        counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]]
        ranks, embedded = [], 0
        offsets = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)[
            "offset_mapping"
        ]
        seen = [o[min(limit, len(o)) - 1][1] for o in offsets]  # where the embedded part of each chunk ends
        scores = questions @ vectors.T
        for q, fact in enumerate(facts):
            holds = [
                d == fact.document and c.start <= fact.start and fact.end <= c.end for d, c in chunks
            ]  # the chunks that hold the whole fact
            # is the whole fact inside the part of some chunk holding it that the model embeds (its first tokens)?
            if any(h and fact.end - chunks[i][1].start <= seen[i] for i, h in enumerate(holds)):
                embedded += 1
            order = np.argsort(-scores[q])
            rank = next((r + 1 for r, i in enumerate(order) if holds[i]), None)
            ranks.append(rank)
        recall1 = sum(r == 1 for r in ranks) / len(ranks)
        recall5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
        mrr = sum(1 / r for r in ranks if r) / len(ranks)
        print(
            f"{name:<30} {len(chunks):>6} {np.mean(counts):>8.0f} (≤{max(counts):>4}) "
            f"{embedded:>6}/{len(facts):<6} {recall1:>8.2f} {recall5:>8.2f} {mrr:>6.3f} {seconds:>7.1f}"
        )
    await provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
