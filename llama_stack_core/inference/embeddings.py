"""Embedding helpers shared by inference providers."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence


def encode_base64(vector: Sequence[float]) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32 values, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def decode_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def floats_to_base64(answer: bytes) -> bytes:
    """An OpenAI embeddings answer (JSON bytes) with its float vectors re-encoded as base64, for vendors that only
    return floats."""
    import orjson

    data = orjson.loads(answer)
    for item in data.get("data", ()):
        if isinstance(item.get("embedding"), list):
            item["embedding"] = encode_base64(item["embedding"])
    return orjson.dumps(data)
