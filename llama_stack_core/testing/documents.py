"""Small documents of every supported type, for ingestion tests: a topical corpus and a minimal PDF writer."""

from __future__ import annotations

import json


#: Topic -> (filename, content bytes). Each is about one clearly different subject.
def corpus() -> dict[str, tuple[str, bytes]]:
    return {
        "astronomy": (
            "astronomy.md",
            b"# The night sky\n\nTelescopes reveal distant galaxies, nebulae and the rings "
            b"of Saturn. Astronomers measure the light of stars to learn how far away they are and how "
            b"planets orbit them.\n",
        ),
        "cooking": (
            "cooking.html",
            b"<html><head><style>p{}</style></head><body><h1>Baking bread</h1><p>Knead the "
            b"dough with flour, water, yeast and salt, let it rise, then bake the loaf in a hot oven until "
            b"the crust is golden.</p><script>ignored()</script></body></html>",
        ),
        "finance": (
            "finance.pdf",
            minimal_pdf(
                "Quarterly earnings report. Revenue grew and the company paid "
                "dividends to shareholders; interest rates and stock prices moved."
            ),
        ),
        "gardening": (
            "gardening.json",
            json.dumps(
                [
                    {
                        "topic": "gardening",
                        "text": "Water tomato plants in the morning, prune the roses and add compost to "
                        "the soil so the vegetables grow.",
                    },
                    {"topic": "gardening", "text": "Seeds sprout in spring when the garden soil warms."},
                ]
            ).encode(),
        ),
        "identifier": (
            "parts.txt",
            b"Replacement part catalogue. The valve assembly is listed under code "
            b"QZX-7731-KV and ships in a blue box.\n",
        ),
    }


TOPICAL_QUESTIONS = {
    "astronomy": "How do scientists study stars and planets?",
    "cooking": "How do I make a loaf of bread?",
    "finance": "What happened to the company's revenue and dividends?",
    "gardening": "When should I water my tomatoes?",
}


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF 1.4 showing ``text`` in Helvetica (enough for pypdf's text extraction)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    words, lines, line = escaped.split(), [], ""
    for word in words:
        if len(line) + len(word) > 70:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    lines.append(line)
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out
