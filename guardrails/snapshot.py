"""Snapshots: what a provider collected, as plain JSON, savable and scannable later (docs/snapshot-format.md)."""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping

import orjson

from guardrails.errors import UserError
from guardrails.files import replaced
from guardrails.gc_pause import paused_gc

FORMAT = "pipeline-guardrails-snapshot"
VERSION = 1

# The line layout (docs/snapshot-format.md, "Layout") is still one JSON document, but every element
# of a resource list sits on a line of its own, so that a large snapshot is parsed one element at a
# time instead of holding the raw file and its parse in memory together. Its first line starts with
# this mark; a file without it is parsed whole.
LINES_MARK = b'{"layout":"lines",'
# The sections written line by line, with the number of object levels above their lists.
LINE_SECTIONS = {"regions": 2, "iam": 1, "subscriptions": 2}
GZIP_MAGIC = b"\x1f\x8b"
WRITE_BUFFER = 1 << 20


def save(snapshot: dict, path: str | Path) -> None:
    """Write the snapshot to `path` (gzip when its name ends in .gz), whole or not at all: a scan
    killed mid-write leaves the file that was there before (files.py)."""
    path = Path(path)
    with replaced(path, "snapshot", buffering=WRITE_BUFFER) as raw:
        if path.name.endswith(".gz"):
            # Buffered because a gzip file compresses on every write, and there is one per element.
            with gzip.GzipFile(filename=path.name, fileobj=raw, mode="wb", compresslevel=6) as gz, \
                    io.BufferedWriter(gz, WRITE_BUFFER) as fh:
                _write(snapshot, fh)
        else:
            _write(snapshot, raw)


def _write(snapshot: dict, fh: BinaryIO) -> None:
    sections = [(name, snapshot[name]) for name in LINE_SECTIONS if name in snapshot]
    if not sections or not all(_has_depth(value, LINE_SECTIONS[name]) for name, value in sections):
        # Nothing worth streaming, or a shape the layout has no lines for: one line, read back whole.
        fh.write(orjson.dumps(snapshot))
        return
    header = {"layout": "lines", **{k: v for k, v in snapshot.items() if k not in LINE_SECTIONS and k != "layout"}}
    fh.write(orjson.dumps(header)[:-1] + b",\n")
    for n, (name, value) in enumerate(sections, 1):
        _write_member(fh, name, value, last=n == len(sections))
    fh.write(b"}\n")


def _has_depth(value: object, depth: int) -> bool:
    if depth == 0:
        return isinstance(value, list)
    return isinstance(value, dict) and all(_has_depth(v, depth - 1) for v in value.values())


def _write_member(fh: BinaryIO, key: str, value: dict | list, last: bool) -> None:
    if isinstance(value, dict):
        fh.write(orjson.dumps(key) + b":{\n")
        for n, (inner_key, inner) in enumerate(value.items(), 1):
            _write_member(fh, inner_key, inner, last=n == len(value))
        fh.write(b"}\n" if last else b"},\n")
        return
    fh.write(orjson.dumps(key) + b":[\n")
    final = len(value) - 1
    for n, item in enumerate(value):
        fh.write(orjson.dumps(item) + (b"\n" if n == final else b",\n"))
    fh.write(b"]\n" if last else b"],\n")


def load(path: str | Path, project: bool = False) -> dict:
    """The snapshot saved at `path`, checked.

    With `project`, the elements of a line-layout snapshot's largest lists keep only the fields a
    scan reads (providers/aws/replies.py); the snapshot is then fit for scanning, not for saving again."""
    path = Path(path)
    data = _read(path, project)
    if isinstance(data, dict):
        data.pop("layout", None)  # it describes the file, not the estate
    return check(data, str(path))


def _read(path: Path, project: bool) -> object:
    with _read_errors(path), open(path, "rb") as raw:
        gzipped = raw.peek(len(GZIP_MAGIC))[:len(GZIP_MAGIC)] == GZIP_MAGIC
        fh = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        if fh.peek(len(LINES_MARK))[:len(LINES_MARK)] == LINES_MARK:
            # Deferred elements of a plain file are read again from it when decoded, instead of
            # being held in memory until then.
            source = _Source.of(path, raw) if project and not gzipped else None
            try:
                with paused_gc():
                    return _parse_lines(fh.readline, project, source)
            except _NotLineLayout:
                pass
            # Damaged, or edited by hand: the whole parse either reads it or says what is wrong.
            if not raw.seekable():
                raise UserError(f"{path}: cannot read snapshot (it breaks its line layout, and a pipe cannot be "
                                f"read a second time as plain JSON)")
            raw.seek(0)
            fh = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        return _parse_whole(path, fh.read())


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # only decompression raises these
        raise UserError(f"{path}: damaged gzip snapshot ({exc})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read snapshot ({exc.strerror or exc})") from None
    except RecursionError:  # a parser that recurses once per level met a nesting bomb
        raise UserError(f"{path}: not a snapshot (JSON nested too deeply to read)") from None


def _parse_whole(path: Path, raw: bytes) -> object:
    try:
        with paused_gc():
            return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: not a snapshot (invalid JSON: {exc})") from None


class Deferred:
    """A list element left as its JSON text by a projecting reader, until it is known which
    process needs it, if any (providers/aws/replies.py, DEFERRED); `decode()` gives the element
    then. `peek` holds the few fields read before that, or None. The text is held, or read again
    from the file when the element is in a plain file."""

    __slots__ = ("_text", "_decode", "peek", "_source", "_offset", "_length", "index")

    def __init__(self, text: bytes, decode: Callable[[bytes], object], peek: object = None):
        self._text, self._decode, self.peek = text, decode, peek
        self._source: _Source | None = None
        self._offset = self._length = 0
        self.index: int | None = None  # in its list as read, for errors about it once the list is split

    @property
    def text(self) -> bytes:
        if self._source is not None:
            return self._source.read(self._offset, self._length)
        return self._text

    def decode(self) -> object:
        return self._decode(self.text)

    def found(self, index: int, source: _Source | None, offset: int, length: int) -> None:
        """Where the element was read: its place in its list, and in a file it can be read again from."""
        self.index = index
        if source is not None:
            self._source, self._offset, self._length, self._text = source, offset, length, b""


class _Source:
    """A snapshot file kept open, for reading deferred elements again. It must not change while a
    scan reads it; if it does, the scan stops and says so."""

    def __init__(self, path: Path, fd: int, position: Callable[[], int]) -> None:
        self.path, self.fd, self.position = path, fd, position
        self.identity = self._identity()

    @classmethod
    def of(cls, path: Path, fh: BinaryIO) -> _Source | None:
        """The source of a plain file being read through `fh` (its position: where the next line starts)."""
        try:
            if not hasattr(os, "pread") or not fh.seekable() or not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            return cls(path, os.dup(fh.fileno()), fh.tell)
        except (OSError, ValueError):
            return None

    def _identity(self) -> tuple:
        st = os.fstat(self.fd)
        return st.st_ino, st.st_size, st.st_mtime_ns

    def read(self, offset: int, length: int) -> bytes:
        try:
            data = os.pread(self.fd, length, offset)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read snapshot again ({exc.strerror or exc})") from None
        if len(data) != length:
            self.check()
        return data

    def check(self) -> None:
        """Stop the scan if the file is no longer the one read (what was read again may be torn)."""
        try:
            changed = self._identity() != self.identity
        except OSError:
            changed = True
        if changed:
            raise UserError(f"{self.path}: the snapshot changed while it was being scanned; scan it again")

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except (OSError, AttributeError):
            pass


def decoded(item: object) -> object:
    return item.decode() if type(item) is Deferred else item


# Deferred elements read again from their file are read a window at a time: one system call for
# thousands of elements, and a shard's window holds the other shards' elements between its own.
READ_WINDOW = 1 << 23


def decode_in_place(items: list, key: str, id_field: str | None) -> list:
    """The list with its deferred elements decoded, each checked as `check_items` checks a decoded
    one; `key` names the list as the provider's validation does (regions.<region>.instances), and
    `id_field` is the field each element must have."""
    sources = set()
    n, count = 0, len(items)
    while n < count:
        item = items[n]
        if type(item) is not Deferred:
            n += 1
            continue
        source, start = item._source, item._offset
        if source is None:
            texts, end = [item._text], n + 1
        else:
            end, stop = n + 1, start + item._length
            while end < count:
                following = items[end]
                if (type(following) is not Deferred or following._source is not source or following._offset < stop
                        or following._offset + following._length - start > READ_WINDOW):
                    break
                stop = following._offset + following._length
                end += 1
            window = memoryview(source.read(start, stop - start))
            texts = [window[i._offset - start:i._offset - start + i._length] for i in items[n:end]]
            sources.add(source)
        for m, text in zip(range(n, end), texts):
            deferred = items[m]
            items[m] = item = deferred._decode(text)
            if type(item) is not dict or not item.get(id_field):
                _check_item(item, m if deferred.index is None else deferred.index, key, id_field, "snapshot")
        n = end
    for source in sources:
        source.check()
    return items


class _NotLineLayout(Exception):
    """The file departs from the line layout somewhere after its first line."""


Decoders = Mapping[str, Callable[[bytes], object]]


def _parse_lines(readline: Callable[[], bytes], project: bool, source: _Source | None = None) -> dict:
    header = readline()
    if not header.endswith(b",\n"):
        raise _NotLineLayout
    try:
        snapshot = orjson.loads(header[:-2] + b"}")
        decoders: Decoders = {}
        if project and isinstance(snapshot, dict):
            from guardrails.provider import REGISTRY, snapshot_provider

            if snapshot.get("provider") in REGISTRY:  # an unknown one is refused by `check`, with its name
                decoders = snapshot_provider(snapshot["provider"]).decoders()
        if _read_object(readline, snapshot, decoders, more=True, source=source) or readline() != b"":
            raise _NotLineLayout
    except orjson.JSONDecodeError:
        raise _NotLineLayout from None
    return snapshot


OBJECT_ENDS = (b"}\n", b"},\n")
LIST_ENDS = (b"]\n", b"],\n")


def _read_object(readline: Callable[[], bytes], into: dict, decoders: Decoders, more: bool | None,
                 source: _Source | None = None) -> bool:
    """Reads member lines into `into` up to the line closing it, and tells whether a comma follows.

    `more` is True when a member must come next (after a comma), False when the closing line must,
    None when either may (just after the opening brace)."""
    while True:
        line = readline()
        if more is not True and line in OBJECT_ENDS:
            return line == b"},\n"
        if more is False or line[-3:] not in (b":{\n", b":[\n"):
            raise _NotLineLayout
        key = orjson.loads(line[:-3])
        if not isinstance(key, str):
            raise _NotLineLayout
        if line[-2:-1] == b"{":
            into[key] = member = {}
            more = _read_object(readline, member, decoders, more=None, source=source)
        else:
            into[key], more = _read_list(readline, decoders.get(key, orjson.loads), source)


def _read_list(readline: Callable[[], bytes], decode: Callable[[bytes], object],
               source: _Source | None = None) -> tuple[list, bool]:
    """Reads element lines up to the line closing the list; the elements, and whether a comma follows.
    With a source, deferred elements are left to be read again from it."""
    items: list = []
    at = source.position() if source is not None else 0  # where the next line starts
    line = readline()
    if line not in LIST_ENDS:
        while line.endswith(b",\n"):
            item = decode(line[:-2])
            if type(item) is Deferred:
                item.found(len(items), source, at, len(line) - 2)
            items.append(item)
            at += len(line)
            line = readline()
        item = decode(line)  # the last element, without a comma
        if type(item) is Deferred:
            item.found(len(items), source, at, len(line))
        items.append(item)
        line = readline()
        if line not in LIST_ENDS:
            raise _NotLineLayout
    return items, line == b"],\n"


def check(data: object, where: str = "snapshot") -> dict:
    """The snapshot, checked: its format marker and version here, its contents by its provider."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{where}: not a pipeline-guardrails snapshot (expected a JSON object with "
                        f"\"format\": \"{FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int):
        raise UserError(f"{where}: snapshot has no format version")
    if version > VERSION:
        raise UserError(f"{where}: snapshot format version {version} is newer than this guardrails reads "
                        f"(up to {VERSION}); upgrade pipeline-guardrails")
    from guardrails.provider import snapshot_provider

    snapshot_provider(data.get("provider"), where).validate(data, where)
    return data


def check_items(items: object, key: str, id_field: str | None, where: str) -> None:
    """A list of API reply elements, each an object with its identifying field (when it has one)."""
    if not isinstance(items, list):
        raise UserError(f"{where}: {key} must be a list of API reply items, not {type(items).__name__}")
    for n, item in enumerate(items):
        if type(item) is not Deferred:  # a deferred one is checked when decoded, if it ever is
            _check_item(item, n, key, id_field, where)


def _check_item(item: object, n: int, key: str, id_field: str | None, where: str) -> None:
    if not isinstance(item, dict):
        raise UserError(f"{where}: {key}[{n}] must be an object, not {type(item).__name__}")
    if id_field and not item.get(id_field):
        raise UserError(f"{where}: {key}[{n}] has no {id_field}")
