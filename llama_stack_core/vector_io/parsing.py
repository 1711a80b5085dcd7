"""Turning uploaded files into text: plain text, Markdown, HTML, PDF (pypdf) and JSON."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".log", ".py", ".yaml", ".yml", ".xml"}


class UnsupportedFileError(ValueError):
    """The file's type cannot be turned into text."""


class InvalidFileError(ValueError):
    """The file claims a type it does not have (e.g. a broken PDF)."""


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "head", "noscript", "template"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


def pdf_to_text(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency of the vector providers
        raise UnsupportedFileError("PDF support needs the pypdf package") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InvalidFileError(f"cannot read PDF: {exc}") from None


def json_to_text(data: bytes) -> str:
    """JSON as readable text: objects as ``key: value`` lines, arrays item by item, blank line between records."""
    try:
        value = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise InvalidFileError(f"invalid JSON: {exc}") from None

    def render(item: object, prefix: str = "") -> list[str]:
        if isinstance(item, dict):
            return [line for key, sub in item.items() for line in render(sub, f"{prefix}{key}.")]
        if isinstance(item, list) and item and all(isinstance(i, (dict, list)) for i in item):
            return [line for i, sub in enumerate(item) for line in render(sub, f"{prefix}{i}.")]
        return [f"{prefix.rstrip('.')}: {item}" if prefix else str(item)]

    if isinstance(value, list):
        return "\n\n".join("\n".join(render(item)) for item in value)
    return "\n".join(render(value))


def file_to_text(filename: str, data: bytes, content_type: str | None = None) -> str:
    """The text of a file, chosen by its extension (then content type); raises UnsupportedFileError."""
    suffix = PurePath(filename).suffix.lower()
    content_type = (content_type or "").split(";")[0].strip().lower()
    if suffix == ".pdf" or content_type == "application/pdf" or data[:5] == b"%PDF-":
        return pdf_to_text(data)
    if suffix in (".html", ".htm") or content_type == "text/html":
        return html_to_text(_decode(data))
    if suffix == ".json" or content_type == "application/json":
        return json_to_text(data)
    if suffix in TEXT_SUFFIXES or content_type.startswith("text/") or not suffix:
        if b"\x00" in data[:4096]:
            raise UnsupportedFileError(f"{filename} looks binary")
        return _decode(data)
    raise UnsupportedFileError(
        f"unsupported file type '{suffix}' ({filename}); supported: text, Markdown, HTML, PDF, JSON"
    )


def content_text(content: Any) -> str:
    """The text of Llama Stack interleaved content (a string, an item, or a list of items)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(content_text(item) for item in content)
    text = getattr(content, "text", None)
    if text is None and isinstance(content, dict):
        text = content.get("text")
    return text or ""
