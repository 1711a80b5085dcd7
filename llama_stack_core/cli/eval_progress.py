"""The progress bar of ``stack eval run``, on stderr: rows done/total, rows/s, ETA and failed rows.

Hand-written rather than ``rich``: one line redrawn with ``\\r`` is all it needs, and the core stays light (rich
and its dependencies would load with every ``stack`` command that reports progress, for a few dozen lines saved).
On a terminal the line is redrawn in place at each update; otherwise (a log file, CI) a line is written every
``every`` seconds and once at the end, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    """``M:SS``, or ``H:MM:SS`` from an hour."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(done: int, total: int, failed: int, elapsed: float, status: str | None = None) -> str:
    """One line: ``rows 12/100 [##....]  12%  3.4 rows/s  ETA 0:26  failed 1``.

    The rate is rows done over ``elapsed`` seconds; the ETA the rows left at that rate. Before any row is done (or
    while the total is unknown) they read ``-``; a job not yet running shows its ``status`` instead of a rate.
    """
    if total > 0:
        fraction = min(1.0, done / total)
        filled = int(fraction * BAR_WIDTH)
        line = f"rows {done}/{total} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}%"
    else:
        line = f"rows {done}/?"
    if status == "scheduled":
        return f"{line}  scheduled"
    rate = done / elapsed if elapsed > 0 and done else 0.0
    line += f"  {rate:.1f} rows/s" if rate else "  - rows/s"
    if total > 0 and done < total:
        line += f"  ETA {format_duration((total - done) / rate)}" if rate else "  ETA -"
    return f"{line}  failed {failed}"


class ProgressBar:
    """Draws :func:`format_progress` lines on ``stream``; ``tty`` defaults to whether the stream is a terminal."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self._clock = clock
        self._start = clock()
        self._last_written: float | None = None
        self._line = ""
        self._drawn = ""  # what the terminal shows, or the last line written

    def update(self, done: int, total: int, failed: int, status: str | None = None) -> None:
        if status == "scheduled":  # the rate counts from when the job starts running
            self._start = self._clock()
        self._line = format_progress(done, total, failed, self._clock() - self._start, status)
        if self.tty:
            self._draw_in_place()
            return
        now = self._clock()
        if self._last_written is None or now - self._last_written >= self.every:
            self._write_line()

    def finish(self) -> None:
        """End the bar: the final state stays on screen (written once more if the last line shown was older)."""
        if self.tty:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = ""
        elif self._line and self._line != self._drawn:
            self._write_line()

    def _draw_in_place(self) -> None:
        padding = " " * max(0, len(self._drawn) - len(self._line))  # wipe what a longer line left
        self.stream.write(f"\r{self._line}{padding}")
        self.stream.flush()
        self._drawn = self._line

    def _write_line(self) -> None:
        self.stream.write(self._line + "\n")
        self.stream.flush()
        self._last_written = self._clock()
        self._drawn = self._line
