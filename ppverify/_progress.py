"""Progress of long work, on stderr, for every command: a bar on a terminal, lines elsewhere.

``Progress(label, unit)`` is called as ``progress(done, total)``. On a terminal it draws a rich
progress bar (removed at the end). Elsewhere (a CI log, a pipe) it stays silent for the first
``after`` seconds, then writes one line every ``every`` seconds: ``ppverify check: 1200 of
10000 cases, 35 s, about 4 min left``, so that a long run is never silent and a short one
never noisy. ``close()`` ends it.
"""

from __future__ import annotations

import contextlib
import sys
import time


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    def __init__(self, label: str, unit: str = "cases", *, stream=None, every: float = 30.0,
                 after: float = 10.0, terminal: bool | None = None):
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.every, self.after = every, after
        self.start = time.monotonic()
        self._next = self.start + after
        self._bar = None
        if terminal is None:
            terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        if terminal:
            try:
                import rich.progress as bars
            except ImportError:  # pragma: no cover
                terminal = False
            else:
                self._bar = bars.Progress(label, bars.BarColumn(), bars.MofNCompleteColumn(),
                                          bars.TimeElapsedColumn(), bars.TimeRemainingColumn(),
                                          transient=True)
                self._bar.start()
                self._task = self._bar.add_task(unit, total=None)

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        elapsed = now - self.start
        line = f"{self.label}: {done}" + (f" of {total}" if total else "") + \
            f" {self.unit}, {_duration(elapsed)}"
        if total and 0 < done < total:
            line += f", about {_duration(elapsed * (total - done) / done)} left"
        with contextlib.suppress(OSError, ValueError):
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
