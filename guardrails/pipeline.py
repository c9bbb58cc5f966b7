"""collect -> snapshot -> normalize -> graph -> analysis -> checks -> findings document, one plain function each."""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from guardrails.analysis.estate import Estate
from guardrails.analysis.estate import analyse as _analyse
from guardrails.config import Config, expired_suppressions
from guardrails.findings import add_notes, assemble, build_document
from guardrails.findings import run_checks as _run_checks
from guardrails.gc_pause import paused_gc
from guardrails.graph import EstateGraph
from guardrails.normalize import normalize, normalize_all_but_deferred  # noqa: F401 - part of the pipeline's API
from guardrails.laps import Laps
from guardrails.shards import split_scan


def analyse(graph: EstateGraph, config: Config | None = None, now: dt.datetime | None = None,
            classified: Callable[[Estate], None] | None = None) -> Estate:
    return _analyse(graph, config, now, classified)


def run_checks(estate: Estate) -> list[dict]:
    return _run_checks(estate)


def sources_of(snapshots: Iterable[dict]) -> list[dict]:
    out = []
    for snap in snapshots:
        source = {"provider": snap.get("source", snap.get("provider")), "scope": str(snap.get("scope", ""))}
        if snap.get("regions") and source["provider"] != "terraform":
            source["regions"] = sorted(snap["regions"])
        out.append(source)
    return out


def collection_time(snapshots: Iterable[dict]) -> dt.datetime | None:
    """When the newest snapshot was taken: the moment ages (of runners, say) are measured at, so
    that scanning a saved snapshot again gives the same findings."""
    times = []
    for snap in snapshots:
        try:
            moment = dt.datetime.fromisoformat(str(snap.get("collected_at", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        times.append(moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc))
    return max(times) if times else None


def scan_snapshots(snapshots: Iterable[dict], config: Config | None = None, sources: list[dict] | None = None,
                   now: dt.datetime | None = None, started_at: dt.datetime | None = None,
                   consume: bool = False, retain: list | None = None, workers: int = 1,
                   timings: dict | None = None, scan_id: str | None = None) -> dict:
    """The findings document of one or more snapshots, merged into one estate.

    With `consume`, the snapshots are taken apart as the estate graph is built and the given list
    is emptied: a large snapshot's replies then free their memory for the graph and the analysis
    instead of living on beside them. With `retain`, the analysed estate is appended to that list
    instead of being freed on return, for a caller that exits without freeing it (cli.py). With
    several `workers`, a large estate is scanned in that many processes (shards.py), to the same
    document. `timings` receives the seconds each phase took (bench/run.py). `scan_id` names the scan
    (an audit's run id); a new one is made otherwise."""
    given = snapshots
    snapshots = list(snapshots)
    started = started_at or dt.datetime.now(dt.timezone.utc)
    sources = sources if sources is not None else sources_of(snapshots)
    now = now or collection_time(snapshots) or started  # one moment for every shard
    config = config or Config()
    timings = {} if timings is None else timings
    lap = Laps(timings)
    with paused_gc():
        parts = split_scan(snapshots, config, now, workers, timings, consume=consume) if workers > 1 else None
        if parts is not None:
            if retain is not None:
                retain.append(snapshots)
            lap.restart()
            document = assemble(parts, sources, started, dt.datetime.now(dt.timezone.utc), scan_id)
            add_notes(document, expired_suppressions(config, now.date()))
            lap("document")
            return document
        graph = normalize(snapshots, consume=consume)
        lap("normalize")
        if consume and isinstance(given, list):
            given.clear()
            snapshots.clear()
        estate = analyse(graph, config, now)
        lap("analyse")
        findings = run_checks(estate)
        lap("checks")
        if retain is not None:
            retain.append(estate)
        document = build_document(estate, findings, sources, started, dt.datetime.now(dt.timezone.utc), scan_id)
        add_notes(document, expired_suppressions(config, now.date()))
        lap("document")
        return document
