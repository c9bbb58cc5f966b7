"""Wall time of each step of a run, by name: what the benchmark reports a scan's phases by."""

from __future__ import annotations

import time


class Laps:
    def __init__(self, into: dict[str, float]) -> None:
        self.times = into
        self.restart()

    def restart(self) -> None:
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        """The time since the last lap (or restart) is the named step's."""
        moment = time.perf_counter()
        self.times[name] = moment - self._clock
        self._clock = moment
