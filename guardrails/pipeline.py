"""collect -> snapshot -> normalize -> graph -> analysis -> checks -> findings document, one plain function each."""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from guardrails.analysis.estate import Estate
from guardrails.analysis.estate import analyse as _analyse
from guardrails.config import Config
from guardrails.errors import UserError
from guardrails.findings import build_document
from guardrails.findings import run_checks as _run_checks
from guardrails.gc_pause import paused_gc
from guardrails.graph import EstateGraph


def normalize(snapshots: Iterable[dict], consume: bool = False) -> EstateGraph:
    """The estate graph of these snapshots; with `consume`, their bulk is taken out of them as the
    graph is built (the caller owns them and will not read them again)."""
    from guardrails.providers import aws

    graph = EstateGraph()
    snapshots = list(snapshots)
    try:
        aws.normalize([s for s in snapshots if s.get("provider", "aws") == "aws"], graph, consume=consume)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A field of the wrong type deep inside a reply: say so instead of failing obscurely.
        raise UserError(f"the snapshot does not have the shape of AWS API replies "
                        f"({type(exc).__name__}: {exc})") from None
    return graph


def analyse(graph: EstateGraph, config: Config | None = None, now: dt.datetime | None = None) -> Estate:
    return _analyse(graph, config, now)


def run_checks(estate: Estate) -> list[dict]:
    return _run_checks(estate)


def sources_of(snapshots: Iterable[dict]) -> list[dict]:
    out = []
    for snap in snapshots:
        source = {"provider": snap.get("source", snap.get("provider", "aws")), "scope": str(snap.get("scope", ""))}
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
                   consume: bool = False, retain: list | None = None) -> dict:
    """The findings document of one or more snapshots, merged into one estate.

    With `consume`, the snapshots are taken apart as the estate graph is built and the given list
    is emptied: a large snapshot's replies then free their memory for the graph and the analysis
    instead of living on beside them. With `retain`, the analysed estate is appended to that list
    instead of being freed on return, for a caller that exits without freeing it (cli.py)."""
    given = snapshots
    snapshots = list(snapshots)
    started = started_at or dt.datetime.now(dt.timezone.utc)
    sources = sources if sources is not None else sources_of(snapshots)
    now = now or collection_time(snapshots)
    with paused_gc():
        graph = normalize(snapshots, consume=consume)
        if consume and isinstance(given, list):
            given.clear()
            snapshots.clear()
        estate = analyse(graph, config, now)
        findings = run_checks(estate)
        if retain is not None:
            retain.append(estate)
        return build_document(estate, findings, sources, started, dt.datetime.now(dt.timezone.utc))
