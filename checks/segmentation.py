"""Runners are segmented: a build cannot open connections into production.

Which production nodes each CI node reaches, through which routes and rules, is an analysis fact
(`guardrails/analysis/segmentation.py`); this check only says it."""

from __future__ import annotations

from typing import Iterator, NamedTuple

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import Step, step
from guardrails.analysis.segmentation import ProductionReach, ReachedTarget
from guardrails.registry import Result, Severity, check

MAX_LISTED = 20  # production nodes listed in a finding's details; the total is always given


class _Summary(NamedTuple):
    """What a finding says about the production nodes reached: one per answer, shared by a fleet."""

    listed: list[dict]
    steps: tuple[Step, ...]  # from the first target's subnet to the first target
    names: str


@check(
    id="ci-reaches-production",
    title="CI node can connect to production",
    severity=Severity.HIGH,
    stride=("tampering", "information_disclosure", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7",),
    cis=("AWS Foundations v3.0.0 5.5",),
    nist=("SP 800-53 SC-7", "SP 800-53 AC-4"),
    remediation="Segment build runners from production: put them in their own network without peering or transit "
                "routes to production, and remove production security-group rules that admit the runners' security "
                "group or CIDR; deploy through a controlled deployment service instead.",
    needs=("routes", "acls", "firewalls", "joins", "production"),
)
def reaches_production(estate: Estate) -> Iterator[Result]:
    """A hostile build step can open connections to production systems."""
    summaries: dict[tuple, _Summary] = {}  # by answer: a runner fleet's members share theirs
    for node, verdict in estate.ci_nodes():
        reach = estate.production_reach.get(node.id)
        if reach is None:
            continue
        summary = summaries.get(reach.answer)
        if summary is None:
            summary = summaries[reach.answer] = _summarise(estate, reach)
        total = len(reach.targets)
        yield Result(node.id, f"{describe(node, verdict)} can open connections to {total} production "
                              f"{'node' if total == 1 else 'nodes'}: "
                              f"{summary.names}.",
                     path=(step(node, ""), *summary.steps), ports=tuple(summary.listed[0]["ports"]),
                     details={"production_nodes": summary.listed, "production_nodes_total": total})


def _entry(estate: Estate, reached: ReachedTarget) -> dict:
    """One production node as the finding's details list it."""
    return {"target": reached.target, "name": estate.graph.node(reached.target).name,
            "ports": list(reached.port_labels), "production": estate.production[reached.target],
            "path": list(reached.path), "rules": [rule.describe() for rule in reached.rules]}


def _summarise(estate: Estate, reach: ProductionReach) -> _Summary:
    """The first few production nodes named, the first one's path through its firewalls shown."""
    graph = estate.graph
    listed = [_entry(estate, item) for item in reach.targets[:MAX_LISTED]]
    first = reach.targets[0]
    steps = [step(graph.node(first.subnet), "; ".join(first.path))]
    for group in first.groups:
        texts = first.rules_of(group)
        if texts:
            steps.append(step(graph.node(group), "; ".join(texts)))
    steps.append(step(graph.node(first.target), f"production: {listed[0]['production']}"))
    names = [f"{entry['name']} ({', '.join(entry['ports'])})" for entry in listed[:5]]
    more = len(reach.targets) - len(names)
    return _Summary(listed, tuple(steps), "; ".join(names) + (f" (+{more} more)" if more > 0 else ""))
