"""One scan of a large estate in several processes, each building and analysing a shard of it.

What a check concludes about a CI node comes from the node itself, the networks joined to its own
(peering, transit gateways), what every shard builds whole (networks, firewalls, load balancers,
identities), and two facts from anywhere: the production instances an identity can act on, and
the instances that run as an identity (an identity that can take one over holds that identity's
power). So:

1. the provider's partitioner places the instances in shards by joined networks (AWS:
   providers/aws/partition.py),
   from the few fields read of each as the snapshot was read;
2. this process builds the estate graph but for the instances, then forks one process per other
   shard; each shard, this process the first, adds and decodes its own instances and classifies;
3. the shards trade their production instances and the instances that run as an identity, which
   each adds to its graph as bare nodes with their identities (no interfaces: nothing reaches them
   over the network from another shard);
4. each shard analyses and checks its CI nodes and hands back its part of the findings document;
5. this process assembles the document from the parts (findings.assemble).

tests/test_shards.py holds the assembled document to the one a single process makes. Shards are
forked, not spawned, to share what was read and built before them instead of each doing it again;
so splitting is for Linux, where forking a process that runs no other thread is sound.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
import time
import traceback
from typing import Any, Callable, NamedTuple

import orjson

from guardrails.errors import UserError
from guardrails.laps import Laps

# Below this many instances a scan takes well under a second, and forking and trading would be
# most of it.
MIN_INSTANCES = 20_000

_LENGTH = struct.Struct("<Q")


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def forking_platform() -> bool:
    """Whether this system forks processes the way a split scan needs (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def can_split() -> bool:
    """Whether this process may fork shards now: on a forking platform, running no other thread."""
    import threading

    # A thread holding a lock at the fork would leave the lock held for ever in the shard.
    return forking_platform() and threading.active_count() == 1


def split_scan(snapshots: list[dict], config, now, workers: int, timings: dict | None = None,
               min_instances: int | None = None, consume: bool = False) -> list[dict] | None:
    """The findings document's parts, one per shard, of the snapshots' estate scanned by `workers`
    processes; None when the estate is better scanned in this one (small, a single network group,
    one worker, or a system without fork). `timings` receives the seconds taken by the split
    (placing the instances, building all but them), by the shards from fork to their parts, and
    by the slowest shard in each phase. With `consume`, the snapshots are taken apart as the scan
    goes (pipeline.scan_snapshots); without, they are left as they were given."""
    min_instances = MIN_INSTANCES if min_instances is None else min_instances
    partitioner = _partitioner(snapshots)
    if workers < 2 or partitioner is None or not can_split() or partitioner.size(snapshots) < min_instances:
        return None
    started = time.perf_counter()
    plan = partitioner.plan(snapshots, workers)
    if plan is None:
        return None
    if not consume:
        snapshots = [_with_own_regions(snap) for snap in snapshots]  # each shard leaves in them its own instances
    parts = _run(plan, snapshots, config, now, started)
    if timings is not None:
        timings["workers"] = plan.shards
        for part in parts:
            for phase, seconds in part["timings"].items():
                timings[phase] = max(timings.get(phase, 0.0), seconds)
    for part in parts:
        del part["timings"]
    return parts


def _partitioner(snapshots: list[dict]):
    """The partitioner of the snapshots' one provider; None when they have none or several: a
    node that every shard built would be checked by every shard."""
    from guardrails.provider import providers_of

    providers = providers_of(snapshots)
    return providers[0].partitioner if len(providers) == 1 else None


def _with_own_regions(snap: dict) -> dict:
    regions = snap.get("regions")
    if not isinstance(regions, dict):
        return snap
    return {**snap, "regions": {region: dict(data) if isinstance(data, dict) else data for region, data in regions.items()}}


class _Shard:
    def __init__(self, number: int, pid: int, reader: int, writer: int) -> None:
        self.number, self.pid, self.reader, self.writer = number, pid, reader, writer
        self.status: int | None = None

    def receive(self, expected: str) -> Any:
        message = _read_message(self.reader)
        if message is None:
            _, self.status = os.waitpid(self.pid, 0)
            raise UserError(f"scan shard {self.number} ended without its result ({_describe(self.status)}); "
                            f"scan in one process with --workers 1")
        kind, payload = message
        if kind == "error":
            raise UserError(payload)
        if kind == "crash":
            raise RuntimeError(f"scan shard {self.number} failed:\n{payload}")
        assert kind == expected, (kind, expected)
        return payload

    def send(self, payload: Any) -> None:
        _write_message(self.writer, payload)

    def close(self) -> None:
        for fd in (self.reader, self.writer):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # only if it is still running, after a failure here
            except ProcessLookupError:
                pass
            _, self.status = os.waitpid(self.pid, 0)


def _run(plan, snapshots: list[dict], config, now, started: float) -> list[dict]:
    from guardrails.normalize import normalize_all_but_deferred

    graph, add_instances = normalize_all_but_deferred(snapshots, consume=True)  # of the shards' own lists
    forked = time.perf_counter()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or a shard would write the parent's buffered text again
    work = _Work(0, plan, snapshots, graph, add_instances, config, now)
    shards: list[_Shard] = []
    try:
        for number in range(1, plan.shards):
            up_read, up_write = os.pipe()
            down_read, down_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                for earlier in shards:
                    os.close(earlier.reader)
                    os.close(earlier.writer)
                os.close(up_read)
                os.close(down_write)
                _shard_process(work._replace(number=number), up_write, down_read)
            os.close(up_write)
            os.close(down_read)
            shards.append(_Shard(number, pid, up_read, down_write))

        def trade(mine: list) -> list:
            theirs = [shard.receive("production") for shard in shards]
            for n, shard in enumerate(shards):
                shard.send(mine + [item for m, other in enumerate(theirs) if m != n for item in other])
            return [item for other in theirs for item in other]

        own = _scan_shard(work, trade)
        parts = [own] + [shard.receive("parts") for shard in shards]
        for shard in shards:
            _, shard.status = os.waitpid(shard.pid, 0)
        own["timings"].update(split=forked - started, shards=time.perf_counter() - forked)
        return parts
    finally:
        for shard in shards:
            shard.close()


class _Work(NamedTuple):
    """What one shard is given: its number, the plan, and the estate built but for its instances."""

    number: int
    plan: Any
    snapshots: list[dict]
    graph: Any
    add_instances: Callable[[], None]
    config: Any
    now: Any


def _shard_process(work: _Work, up: int, down: int) -> None:
    """The body of a forked shard: it never returns to the caller's code."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # interrupted with the parent, quietly

    def trade(mine: list) -> list:
        _write_message(up, ["production", mine])
        theirs = _read_message(down)
        if theirs is None:
            raise UserError("the scan ended before its shards traded their production instances")
        return theirs

    try:
        _write_message(up, ["parts", _scan_shard(work, trade)])
    except UserError as exc:
        _write_message(up, ["error", str(exc)])
    except BaseException:
        _write_message(up, ["crash", traceback.format_exc()])
    finally:
        os._exit(0)


def _scan_shard(work: _Work, trade: Callable[[list], list]) -> dict:
    from guardrails.analysis.estate import analyse
    from guardrails.findings import document_parts, run_checks

    timings: dict[str, float] = {}
    lap = Laps(timings)
    number, plan, graph = work.number, work.plan, work.graph
    kept: list = []
    plan.take(work.snapshots, number, kept)
    common = (graph.count(), graph.counts_by_kind())
    work.add_instances()
    lap("normalize")
    # The first shard counts the whole graph it built; the others what their instances added to
    # what every shard built (an instance first known as a route's target moves it between kinds).
    if number == 0:
        counted: dict[str, Any] = {"resources": graph.count() - 1, "resources_by_kind": graph.counts_by_kind()}
    else:
        added = graph.counts_by_kind()
        for kind, count in common[1].items():
            added[kind] = added.get(kind, 0) - count
        counted = {"resources": graph.count() - common[0], "resources_by_kind": added}

    def classified(estate) -> None:
        for node_id in [n for n in estate.ci if plan.owner(n) not in (None, number)]:
            del estate.ci[node_id]  # a compute node every shard builds is reported by one
        own = [node for node in graph.nodes("compute") if plan.owner(node.id) is None]
        production = estate.production
        mine = []
        for n in own:
            roles = [[i.id, e.get("via")] for i, e in graph.out(n.id, "runs_as") if i.kind == "identity"]
            if n.id in production or roles:
                mine.append([n.id, n.get("provider"), n.name, n.get("account"), n.get("region"), production.get(n.id),
                             n.get("compute_type"), n.get("command_agent"), n.get("state"), roles])
        for node_id, provider, name, account, region, reason, kind, agent, state, roles in trade(mine):
            graph.add_node(node_id, "compute", provider=provider, name=name, account=account, region=region,
                           compute_type=kind, command_agent=agent, state=state)
            for identity, via in roles:  # every shard builds every identity
                if graph.has(identity):
                    graph.add_edge(node_id, identity, "runs_as", via=via)
            if reason is not None:
                production[node_id] = reason

    estate = analyse(graph, work.config, work.now, classified=classified)
    if number:  # every shard builds every identity: the first reports those of no CI node
        estate.ci_identities = {k: v for k, v in estate.ci_identities.items() if not v.hosted}
    lap("analyse")
    findings = run_checks(estate)
    lap("checks")
    parts = document_parts(estate, findings)
    parts.update(counted)
    lap("document")
    parts["timings"] = timings
    return parts


def _write_message(fd: int, payload: Any) -> None:
    data = orjson.dumps(payload)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_message(fd: int) -> Any:
    header = _read_exactly(fd, _LENGTH.size)
    if header is None:
        return None
    body = _read_exactly(fd, _LENGTH.unpack(header)[0])
    return None if body is None else orjson.loads(body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        killed = "; out of memory?" if signum == signal.SIGKILL else ""
        return f"killed by signal {signal.Signals(signum).name}{killed}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
