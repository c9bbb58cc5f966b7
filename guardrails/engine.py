"""Collection as tasks: many small, independent units of work (an account's global part, one
account-region), run on a local pool of threads in this process or on a Dask distributed cluster
(`--scheduler tcp://host:8786`), each writing its snapshot part to shared storage (a folder, or any
fsspec URL such as s3://bucket/prefix) and returning only where it wrote it.

Bounds: at most `concurrency` tasks run at once, and at most `per_group` of one group (an account:
cloud API limits are per account). The driver, this process, enforces both by submitting a task
only when a slot is free, the same way for both pools. A task that raises is tried again up to
`retries` times (by Dask itself on a cluster, where a worker that dies also gets its tasks
rescheduled) and then reported as failed, for the provider to turn into coverage gaps: one task's
failure never stops the others.

Tasks are plain data: a function importable by name on every worker (from this package), and
small picklable arguments. A worker on another machine needs the package and credentials, nothing
else.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

DEFAULT_CONCURRENCY = 8
DEFAULT_PER_GROUP = 2
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class Task:
    """One unit of work: `function(*args)`, counted against `group`'s bound."""

    key: str
    group: str
    function: Callable[..., Any]
    args: tuple = ()


@dataclass
class Outcome:
    task: Task
    result: Any = None
    error: str | None = None  # one line, when every try failed


@dataclass
class Bounds:
    concurrency: int = DEFAULT_CONCURRENCY
    per_group: int = DEFAULT_PER_GROUP
    retries: int = DEFAULT_RETRIES


FollowUp = Callable[[Outcome], Iterable[Task]]
Progress = Callable[[str], None]


@dataclass
class _Pool:
    """The calls both pools answer: submit a task, wait for some to finish."""

    submit: Callable[[Task], Any]
    wait: Callable[[set], tuple[set, set]]
    retry_here: bool  # True when the driver retries (local pool); Dask retries on its own
    close: Callable[[], None] = lambda: None


def _local_pool(bounds: Bounds) -> _Pool:
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=bounds.concurrency,
                                                     thread_name_prefix="guardrails-collect")
    return _Pool(submit=lambda task: executor.submit(task.function, *task.args),
                 wait=lambda futures: concurrent.futures.wait(futures, return_when="FIRST_COMPLETED"),
                 retry_here=True, close=lambda: executor.shutdown(wait=True, cancel_futures=True))


def _dask_pool(scheduler: str, bounds: Bounds) -> _Pool:
    try:
        from distributed import Client, wait
    except ModuleNotFoundError:
        from guardrails.errors import UserError

        raise UserError("--scheduler needs Dask distributed: install pipeline-guardrails[distributed]") from None
    try:
        client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as exc:
        from guardrails.errors import UserError

        raise UserError(f"--scheduler: cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    run = uuid.uuid4().hex[:8]

    def submit(task: Task):
        return client.submit(task.function, *task.args, key=f"guardrails-{run}-{task.key}", pure=False,
                             retries=bounds.retries)

    def wait_some(futures: set) -> tuple[set, set]:
        done = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done.done), set(done.not_done)

    return _Pool(submit=submit, wait=wait_some, retry_here=False, close=client.close)


def run_tasks(first: Iterable[Task], follow_up: FollowUp, *, scheduler: str | None = None,
              bounds: Bounds | None = None, progress: Progress | None = None) -> list[Outcome]:
    """Run `first` and the tasks `follow_up` makes of each finished one, within the bounds; every
    task's outcome, in the order they finished."""
    bounds = bounds or Bounds()
    progress = progress or (lambda _message: None)
    pool = _dask_pool(scheduler, bounds) if scheduler else _local_pool(bounds)
    waiting: deque[tuple[Task, int]] = deque((task, 0) for task in first)  # each with its tries so far
    running: dict[Any, tuple[Task, int]] = {}
    per_group: dict[str, int] = defaultdict(int)
    outcomes: list[Outcome] = []
    try:
        while waiting or running:
            _start_what_fits(pool, waiting, running, per_group, bounds)
            done, _ = pool.wait(set(running))
            for future in done:
                task, tries = running.pop(future)
                per_group[task.group] -= 1
                error = _error_of(future)
                if error is not None and pool.retry_here and tries < bounds.retries:
                    waiting.appendleft((task, tries + 1))  # again, ahead of the others
                    continue
                outcome = Outcome(task, None if error else future.result(), error)
                outcomes.append(outcome)
                waiting.extend((task, 0) for task in follow_up(outcome))
            progress(f"{len(outcomes)} tasks done, {len(running)} running, {len(waiting)} waiting")
    finally:
        pool.close()
    return outcomes


def _start_what_fits(pool: _Pool, waiting: deque, running: dict, per_group: dict, bounds: Bounds) -> None:
    held: deque = deque()
    while waiting and len(running) < bounds.concurrency:
        task, tries = waiting.popleft()
        if per_group[task.group] >= bounds.per_group:
            held.append((task, tries))
            continue
        per_group[task.group] += 1
        running[pool.submit(task)] = (task, tries)
    waiting.extendleft(reversed(held))


def _error_of(future) -> str | None:
    try:
        error = future.exception()
    except BaseException as exc:  # noqa: BLE001 - a cancelled task or a lost worker is a failure too
        error = exc
    if error is None:
        return None
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


# --- snapshot parts on shared storage --------------------------------------------------------


def join(base: str, *names: str) -> str:
    return "/".join([base.rstrip("/"), *names])


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


# The extra that brings the filesystem of each object store's URL scheme (fsspec names the library).
_STORE_EXTRAS = {"s3": "pipeline-guardrails[s3]", "s3a": "pipeline-guardrails[s3]"}


def _store_error(url: str, exc: BaseException) -> str:
    """One line that says why a part could not be stored at or read from `url`."""
    if isinstance(exc, ImportError):
        scheme = url.split("://", 1)[0]
        hint = f" install {_STORE_EXTRAS[scheme]}" if scheme in _STORE_EXTRAS else ""
        return f"no filesystem for {scheme}://: {' '.join(str(exc).split())}" + (f";{hint}" if hint else "")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def write_part(url: str, part: dict) -> str:
    """Write one snapshot part (gzipped JSON) to a local path or fsspec URL, whole or not at all
    where the storage allows (a local file is written beside and renamed; object stores publish
    an object only when its upload completes). A store that refuses is a UserError of one line."""
    import orjson

    data = orjson.dumps(part)
    if _is_local(url):
        import gzip

        from guardrails.files import write_bytes

        write_bytes(url.removeprefix("file://"), gzip.compress(data, compresslevel=5), "snapshot part")
        return url
    from guardrails.errors import UserError

    try:
        import fsspec

        with fsspec.open(url, "wb", compression="gzip") as fh:
            fh.write(data)
    except Exception as exc:  # noqa: BLE001 - each store raises its own errors (botocore's, aiohttp's, ...)
        raise UserError(f"{url}: cannot write snapshot part ({_store_error(url, exc)})") from None
    return url


def check_store(base: str) -> None:
    """Fail early, with one line, when the parts cannot be written under `base` (a bucket that is
    missing or refuses, no filesystem for the URL): otherwise every task would collect its part
    and then fail to store it. Writes a small marker object, `.guardrails-store-check`."""
    from guardrails import __version__

    write_part(join(base, ".guardrails-store-check"), {"written_by": f"guardrails {__version__}"})


def read_part(url: str) -> dict:
    """A part written by write_part, checked as a snapshot."""
    import orjson

    from guardrails.errors import UserError
    from guardrails.snapshot import check

    try:
        if _is_local(url):
            import gzip

            with open(url.removeprefix("file://"), "rb") as fh:
                raw = gzip.decompress(fh.read())
        else:
            import fsspec

            with fsspec.open(url, "rb", compression="gzip") as fh:
                raw = fh.read()
        data = orjson.loads(raw)
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        raise UserError(f"{url}: cannot read snapshot part ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a remote store's own errors
        raise UserError(f"{url}: cannot read snapshot part ({_store_error(url, exc)})") from None
    return check(data, url)
