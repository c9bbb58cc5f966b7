"""The collection engine's local pool: bounds per group and in all, retries, then failure as an
outcome (the Dask side runs the same driver: tests/test_organization.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from guardrails import engine

_lock = threading.Lock()
_running: Counter = Counter()
_most: Counter = Counter()
_tries: Counter = Counter()


def _work(group: str, key: str, failures: int) -> str:
    with _lock:
        _tries[key] += 1
        _running[group] += 1
        _running["*"] += 1
        _most[group] = max(_most[group], _running[group])
        _most["*"] = max(_most["*"], _running["*"])
        tries = _tries[key]
    time.sleep(0.02)
    with _lock:
        _running[group] -= 1
        _running["*"] -= 1
    if tries <= failures:
        raise RuntimeError(f"{key} failed on try {tries}")
    return key


def test_bounds_retries_and_follow_ups():
    tasks = [engine.Task(f"{group}{n}", group, _work, (group, f"{group}{n}", 0)) for group in "abcd" for n in range(4)]
    tasks.append(engine.Task("flaky", "e", _work, ("e", "flaky", 2)))  # succeeds on its third try
    tasks.append(engine.Task("broken", "e", _work, ("e", "broken", 99)))

    def follow_up(outcome: engine.Outcome) -> list[engine.Task]:
        if outcome.task.key == "a0":
            return [engine.Task("a0-next", "a", _work, ("a", "a0-next", 0))]
        return []

    outcomes = engine.run_tasks(tasks, follow_up, bounds=engine.Bounds(concurrency=5, per_group=2, retries=2))
    by_key = {o.task.key: o for o in outcomes}
    assert len(outcomes) == len(tasks) + 1 and by_key["a0-next"].result == "a0-next"
    assert by_key["flaky"].result == "flaky" and by_key["flaky"].error is None and _tries["flaky"] == 3
    assert by_key["broken"].result is None and by_key["broken"].error == "RuntimeError: broken failed on try 3"
    assert _tries["broken"] == 3
    assert max(_most[g] for g in "abcde") == 2 and _most["*"] <= 5
    assert _most["*"] > 2  # several groups did run side by side
