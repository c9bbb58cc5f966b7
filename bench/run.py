"""Benchmark of the collection-free scan: snapshot file -> findings document, on synthetic estates.

    python bench/run.py --sizes 1000,10000,50000,100000 [--repeat 1] [--seed 0] [--workdir DIR]
                        [--workers N] [--timeout SECONDS] [--profile 30] [--azure] [--gcp]

Sizes are resources (estate graph nodes, the internet excluded; see bench/generate.py for how
instances map to resources). For each size the snapshot is generated once in its own process and
cached in the work directory, then measured in a fresh process, so that one size's memory does not
pollute the next. In it the saved snapshot is scanned as `guardrails scan snapshot FILE --format
json` scans it: read for scanning (projected), consumed, with the cyclic collector off, split
between one process per usable CPU from 20,000 instances on (--workers to choose), rendered as
JSON; the analysed estate is freed only after the timed scan (the command exits without freeing
it). The scan time is its wall time; the phases beside it are those of the slowest shard when the
scan is split. The scan's peak memory is the process's ru_maxrss at that point, plus its shards'.
Then the same file is read with plain json.load (the floor any scan of that file pays), whose own
peak is reported beside it. With --repeat N the fastest of N runs is kept. Nothing is asserted:
the targets are printed beside the numbers. With --azure, a synthetic Azure subscription of each
size (bench/generate_azure.py) is measured the same way right after the AWS estate, and its scan
time is compared with the AWS scan of the same size; with --gcp, a synthetic Google Cloud project
(bench/generate_gcp.py) likewise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from generate import generate, instances_for  # noqa: E402
from generate_azure import azure_vms, generate_azure  # noqa: E402
from generate_gcp import generate_gcp, instances_for as gcp_instances_for  # noqa: E402

# Phases of a scan; when it is split between processes, "split" is placing the instances and building
# all but them, and normalize, analyse and checks are those of the slowest shard, run side by side.
PHASES = ("load", "split", "normalize", "analyse", "checks", "document", "render")
TARGET_SCAN_SECONDS_AT_100K = 10.0
TARGET_GROWTH_50K_TO_100K = 2.2
TARGET_PEAK_MIB_AT_100K = 2048
TARGET_SCAN_TO_JSON_LOAD = 4.0
TARGET_AZURE_TO_AWS = 1.5
TARGET_GCP_TO_AWS = 1.5


def snapshot_file(resources: int, seed: int, workdir: Path, provider: str = "aws") -> Path:
    """The saved snapshot of an estate of about `resources` resources, generated once per size and seed."""
    from guardrails import snapshot

    path = Path(workdir) / (f"estate-{resources}-seed{seed}.json" if provider == "aws"
                            else f"estate-{provider}-{resources}-seed{seed}.json")
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        estate = (generate(instances_for(resources), seed) if provider == "aws" else
                  generate_gcp(gcp_instances_for(resources), seed) if provider == "gcp" else
                  generate_azure(resources, seed))
        snapshot.save(estate, partial)
        partial.rename(path)
    return path


def scan_file(path: Path, workers: int | None = None) -> tuple[dict[str, float], dict, str]:
    """One scan of a snapshot file, as `guardrails scan snapshot FILE --format json` does it: the
    wall time of each step, and of the phases inside the scan (of its slowest shard, when split)."""
    from guardrails import pipeline, snapshot
    from guardrails.gc_pause import paused_gc
    from guardrails.reports import render
    from guardrails.shards import usable_cpus

    timings: dict[str, float] = {}
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    kept: list = []
    # The collector stays off for the whole scan, as the CLI turns it off (cli.py: _no_more_collections).
    with paused_gc():
        snap = snapshot.load(path, project=True)  # as `guardrails scan snapshot` reads it
        timings["load"] = time.perf_counter() - clock
        sources = pipeline.sources_of([snap])
        document = pipeline.scan_snapshots([snap], sources=sources, started_at=started, consume=True, retain=kept,
                                           workers=workers or usable_cpus(), timings=timings)
        del snap
        moment = time.perf_counter()
        text = render(document, "json")
        timings["render"] = time.perf_counter() - moment
        timings["scan"] = time.perf_counter() - clock
        # The CLI exits without freeing the estate (cli.py: _KEPT), so freeing it is not part of the scan.
        del kept
    return timings, document, text


def json_load_seconds(path: Path) -> float:
    start = time.perf_counter()
    with open(path, "rb") as fh:
        data = json.load(fh)
    elapsed = time.perf_counter() - start
    del data
    gc.collect()
    return elapsed


def _warm_up() -> None:
    """Import every module a scan imports lazily, so that the first size does not pay for imports."""
    from guardrails import pipeline
    from guardrails.reports import render

    render(pipeline.scan_snapshots([generate(20, seed=1)]), "json")
    render(pipeline.scan_snapshots([generate_azure(300, seed=1)]), "json")
    render(pipeline.scan_snapshots([generate_gcp(20, seed=1)]), "json")


def measure(path: Path, repeat: int = 1, workers: int | None = None) -> dict:
    """Timings of one snapshot file in this process: json.load, then the scan; the fastest of `repeat` runs."""
    path = Path(path)
    _warm_up()
    path.read_bytes()  # the file in the page cache for both measurements alike
    best: dict[str, float] | None = None
    counts: dict = {}
    for _ in range(repeat):
        phases, document, text = scan_file(path, workers)
        # Only counts are kept: a document alive during the next run would add to its peak.
        counts = {"resources": document["summary"]["resources"], "ci_nodes": document["summary"]["ci_nodes"],
                  "findings": len(document["findings"]), "report_bytes": len(text.encode())}
        if best is None or phases["scan"] < best["scan"]:
            best = phases
        del document, text
        gc.collect()
    assert best is not None
    # The peak is read before json.load runs: a plain parse of a large snapshot needs more memory
    # than the scan, and the process's peak would otherwise be json.load's.
    # A split scan's shards are forked: each one's peak counts the pages it shares with this process
    # again, so the sum overstates the memory taken.
    shards = int(best.get("workers", 1))
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                + (shards - 1) * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024  # KiB on Linux
    json_load = min(json_load_seconds(path) for _ in range(repeat))
    scan = best["scan"]
    return {
        **counts,
        "snapshot_bytes": path.stat().st_size,
        "json_load_s": json_load,
        "scan_s": scan,
        "phases_s": {p: best.get(p, 0.0) for p in PHASES},
        "workers": shards,
        "scan_to_json_load": scan / json_load if json_load else None,
        "peak_rss_mib": peak_mib,
        "json_load_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(args: list[str], timeout: float | None) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {' '.join(args)} failed:\n{proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_size(resources: int, seed: int = 0, workdir: Path | None = None, repeat: int = 1, *,
             fresh_process: bool = True, timeout: float | None = None, workers: int = 0, provider: str = "aws") -> dict:
    """Generate (or reuse) the estate of one size and measure its scan; in a fresh process unless told not to."""
    workdir = Path(workdir or tempfile.gettempdir())
    requested = {"size": resources, "provider": provider,
                 "instances": (instances_for(resources) if provider == "aws" else
                               gcp_instances_for(resources) if provider == "gcp" else azure_vms(resources))}
    if not fresh_process:
        return {**requested, **measure(snapshot_file(resources, seed, workdir, provider), repeat, workers or None)}
    path = _child(["--prepare", str(resources), "--seed", str(seed), "--workdir", str(workdir),
                   "--provider", provider], None)["path"]
    try:
        return {**requested, **_child(["--measure", path, "--repeat", str(repeat), "--workers", str(workers)], timeout)}
    except subprocess.TimeoutExpired:
        return {**requested, "timeout_s": timeout, "snapshot_bytes": Path(path).stat().st_size}


# -- report ----------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpu": model, "memory_mib": memory, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform()}


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f}"


def table(results: list[dict]) -> str:
    head = ["size", "resources", "instances", "snapshot MB", "json.load s", "scan s", "workers", *[f"{p} s" for p in PHASES],
            "scan peak MiB", "json.load peak MiB", "scan/json.load", "growth", "findings"]
    rows = []
    previous = None
    for r in results:
        if "timeout_s" in r:
            rows.append([str(r["size"]), "-", str(r["instances"]), _mb(r["snapshot_bytes"]), "-",
                         f">{r['timeout_s']:.0f} (timeout)", "-", *["-"] * len(PHASES), "-", "-", "-", "-", "-"])
            previous = None
            continue
        growth = "-"
        if previous:
            growth = f"{r['scan_s'] / previous['scan_s']:.2f}x (res {r['resources'] / previous['resources']:.2f}x)"
        rows.append([str(r["size"]), str(r["resources"]), str(r["instances"]), _mb(r["snapshot_bytes"]),
                     f"{r['json_load_s']:.2f}", f"{r['scan_s']:.2f}", str(r["workers"]),
                     *[f"{r['phases_s'][p]:.2f}" for p in PHASES],
                     f"{r['peak_rss_mib']:.0f}", f"{r.get('json_load_peak_rss_mib', 0):.0f}",
                     f"{r['scan_to_json_load']:.1f}", growth, str(r["findings"])])
        previous = r
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = [" | ".join(h.rjust(w) for h, w in zip(head, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def targets(results: list[dict]) -> list[str]:
    by_size = {r["size"]: r for r in results if "timeout_s" not in r}
    lines = []
    big = by_size.get(100_000)
    if big:
        lines.append(f"100k resources scanned in under {TARGET_SCAN_SECONDS_AT_100K:.0f} s: {big['scan_s']:.2f} s "
                     f"({'met' if big['scan_s'] < TARGET_SCAN_SECONDS_AT_100K else 'NOT met'})")
        lines.append(f"peak memory under {TARGET_PEAK_MIB_AT_100K} MiB at 100k: {big['peak_rss_mib']:.0f} MiB "
                     f"({'met' if big['peak_rss_mib'] < TARGET_PEAK_MIB_AT_100K else 'NOT met'})")
        if by_size.get(50_000):
            growth = big["scan_s"] / by_size[50_000]["scan_s"]
            lines.append(f"scan time growth 50k -> 100k at most {TARGET_GROWTH_50K_TO_100K}x: {growth:.2f}x "
                         f"({'met' if growth <= TARGET_GROWTH_50K_TO_100K else 'NOT met'})")
    elif any(r["size"] == 100_000 for r in results):
        lines.append(f"100k resources: did not finish within the {results[-1].get('timeout_s')} s limit (NOT met)")
    for r in results:
        if "timeout_s" not in r:
            ok = r["scan_to_json_load"] <= TARGET_SCAN_TO_JSON_LOAD
            lines.append(f"scan within {TARGET_SCAN_TO_JSON_LOAD:.0f}x of json.load at {r['size']}: "
                         f"{r['scan_to_json_load']:.1f}x ({'met' if ok else 'NOT met'})")
    return lines


def profile(path: Path, top: int) -> str:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    scan_file(path, workers=1)  # the profiler sees this process only
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated resource counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where snapshots are cached (default: a temporary "
                                                                   "directory removed at the end)")
    parser.add_argument("--timeout", type=float, default=None, help="give up measuring a size after this many seconds")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the table, profile one scan of the largest size and print the top N functions")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="processes per scan, as `guardrails scan snapshot --workers` (default: one per usable CPU)")
    parser.add_argument("--azure", action="store_true",
                        help="also measure a synthetic Azure subscription of each size, against the AWS scan")
    parser.add_argument("--gcp", action="store_true",
                        help="also measure a synthetic Google Cloud project of each size, against the AWS scan")
    parser.add_argument("--provider", default="aws", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare is not None:
        print(json.dumps({"path": str(snapshot_file(args.prepare, args.seed, args.workdir, args.provider))}))
        return
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.repeat, args.workers or None)))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="guardrails-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        info = machine()
        print(f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['cpu']}, "
              f"{info['memory_mib']} MiB RAM; {info['implementation']} {info['python']} on {info['platform']}")
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; repeat {args.repeat}, "
              f"seed {args.seed}", flush=True)
        results: list[dict] = []
        others: dict[str, list[dict]] = {name: [] for name, wanted in (("azure", args.azure), ("gcp", args.gcp))
                                         if wanted}
        for size in sizes:
            for provider in ("aws", *others):
                result = run_size(size, args.seed, workdir, args.repeat, timeout=args.timeout, workers=args.workers,
                                  provider=provider)
                (results if provider == "aws" else others[provider]).append(result)
                took = f"timed out after {args.timeout:.0f} s" if "timeout_s" in result else f"scan {result['scan_s']:.2f} s"
                print(f"  size {size} ({provider}): {took} (load average {os.getloadavg()[0]:.2f})", file=sys.stderr,
                      flush=True)
        print()
        print(table(results))
        for provider, measured in others.items():
            print()
            print(f"{'Azure' if provider == 'azure' else 'Google Cloud'}:")
            print(table(measured))
        print()
        print("targets (reported, not asserted):")
        for line in targets(results):
            print(f"  {line}")
        for provider, measured in others.items():
            label, target = ("Azure", TARGET_AZURE_TO_AWS) if provider == "azure" else ("GCP", TARGET_GCP_TO_AWS)
            for aws_result, other in zip(results, measured):
                if "timeout_s" not in aws_result and "timeout_s" not in other:
                    ratio = other["scan_s"] / aws_result["scan_s"]
                    print(f"  {label} scan within {target}x of the AWS scan at {aws_result['size']}: "
                          f"{ratio:.2f}x ({'met' if ratio <= target else 'NOT met'})")
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.profile:
            print()
            print(profile(snapshot_file(sizes[-1], args.seed, workdir), args.profile))


if __name__ == "__main__":
    main()
