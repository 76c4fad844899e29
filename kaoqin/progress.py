"""A plain-text progress bar on stderr for long commands: redrawn in place on a terminal, one line
at the first step and at each tenth when stderr is a file or a pipe, so logs stay short."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class TextProgress:
    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_tenth = -1
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        done = min(max(done, 0), total)
        filled = WIDTH * done // total
        line = f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"
        if self.interactive:
            self.stream.write("\r" + line)
            self._open = done < total
            if done == total:
                self.stream.write("\n")
        else:
            tenth = 10 * done // total
            if tenth == self._last_tenth and done < total:
                return
            self._last_tenth = tenth
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End an interrupted bar's line so the next message starts on its own."""
        if self._open:
            self.stream.write("\n")
            self._open = False
