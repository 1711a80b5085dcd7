"""Plain-text tables for the CLI's listings: one header row, columns padded to their widest cell."""

from __future__ import annotations


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows)]
    for row in [headers, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
