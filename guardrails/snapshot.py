"""Snapshots: what a provider collected, as plain JSON, savable and scannable later (docs/snapshot-format.md)."""

from __future__ import annotations

import gzip
import io
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping

import orjson

from guardrails.errors import UserError
from guardrails.gc_pause import paused_gc

FORMAT = "pipeline-guardrails-snapshot"
VERSION = 1

# The line layout (docs/snapshot-format.md, "Layout") is still one JSON document, but every element
# of a resource list sits on a line of its own, so that a large snapshot is parsed one element at a
# time instead of holding the raw file and its parse in memory together. Its first line starts with
# this mark; a file without it is parsed whole.
LINES_MARK = b'{"layout":"lines",'
# The sections written line by line, with the number of object levels above their lists.
LINE_SECTIONS = {"regions": 2, "iam": 1}
GZIP_MAGIC = b"\x1f\x8b"
WRITE_BUFFER = 1 << 20


def save(snapshot: dict, path: str | Path) -> None:
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            # Buffered because a gzip file compresses on every write, and there is one per element.
            with gzip.open(path, "wb", compresslevel=6) as gz, io.BufferedWriter(gz, WRITE_BUFFER) as fh:
                _write(snapshot, fh)
        else:
            with open(path, "wb", buffering=WRITE_BUFFER) as fh:
                _write(snapshot, fh)
    except OSError as exc:
        raise UserError(f"{path}: cannot write snapshot ({exc.strerror or exc})") from None


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
    scan reads (providers/aws_replies.py); the snapshot is then fit for scanning, not for saving again."""
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
            try:
                with paused_gc():
                    return _parse_lines(fh.readline, project)
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


def _parse_whole(path: Path, raw: bytes) -> object:
    try:
        with paused_gc():
            return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: not a snapshot (invalid JSON: {exc})") from None


class Deferred:
    """A list element left as its JSON text by a projecting reader, because the scan seldom reads
    its list (providers/aws_replies.py, DEFERRED); `decode()` gives the element when it does."""

    __slots__ = ("text", "_decode")

    def __init__(self, text: bytes, decode: Callable[[bytes], object]):
        self.text, self._decode = text, decode

    def decode(self) -> object:
        return self._decode(self.text)


def decoded(item: object) -> object:
    return item.decode() if type(item) is Deferred else item


class _NotLineLayout(Exception):
    """The file departs from the line layout somewhere after its first line."""


Decoders = Mapping[str, Callable[[bytes], object]]


def _parse_lines(readline: Callable[[], bytes], project: bool) -> dict:
    header = readline()
    if not header.endswith(b",\n"):
        raise _NotLineLayout
    try:
        snapshot = orjson.loads(header[:-2] + b"}")
        decoders: Decoders = {}
        if project and isinstance(snapshot, dict) and snapshot.get("provider") == "aws":
            from guardrails.providers import aws_replies

            decoders = aws_replies.decoders()
        if _read_object(readline, snapshot, decoders, more=True) or readline() != b"":
            raise _NotLineLayout
    except orjson.JSONDecodeError:
        raise _NotLineLayout from None
    return snapshot


OBJECT_ENDS = (b"}\n", b"},\n")
LIST_ENDS = (b"]\n", b"],\n")


def _read_object(readline: Callable[[], bytes], into: dict, decoders: Decoders, more: bool | None) -> bool:
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
            more = _read_object(readline, member, decoders, more=None)
        else:
            into[key], more = _read_list(readline, decoders.get(key, orjson.loads))


def _read_list(readline: Callable[[], bytes], decode: Callable[[bytes], object]) -> tuple[list, bool]:
    """Reads element lines up to the line closing the list; the elements, and whether a comma follows."""
    items: list = []
    line = readline()
    if line not in LIST_ENDS:
        while line.endswith(b",\n"):
            items.append(decode(line[:-2]))
            line = readline()
        items.append(decode(line))  # the last element, without a comma
        line = readline()
        if line not in LIST_ENDS:
            raise _NotLineLayout
    return items, line == b"],\n"


def check(data: object, where: str = "snapshot") -> dict:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{where}: not a pipeline-guardrails snapshot (expected a JSON object with "
                        f"\"format\": \"{FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int):
        raise UserError(f"{where}: snapshot has no format version")
    if version > VERSION:
        raise UserError(f"{where}: snapshot format version {version} is newer than this guardrails reads "
                        f"(up to {VERSION}); upgrade pipeline-guardrails")
    if data.get("provider") != "aws":
        raise UserError(f"{where}: snapshots of provider {data.get('provider')!r} are not supported")
    if not isinstance(data.get("regions", {}), dict):
        raise UserError(f"{where}: snapshot 'regions' must be an object")
    for region, lists in (data.get("regions") or {}).items():
        if not isinstance(lists, dict):
            raise UserError(f"{where}: regions.{region} must be an object of resource lists")
        for key, items in lists.items():
            _check_items(items, f"regions.{region}.{key}", ID_FIELDS.get(key), where)
    iam = data.get("iam") or {}
    if not isinstance(iam, dict):
        raise UserError(f"{where}: 'iam' must be an object of resource lists")
    for key, items in iam.items():
        _check_items(items, f"iam.{key}", ID_FIELDS.get(f"iam.{key}"), where)
    return data


# The field that identifies each element: without it nothing can refer to the resource.
ID_FIELDS = {
    "vpcs": "VpcId", "subnets": "SubnetId", "route_tables": "RouteTableId",
    "internet_gateways": "InternetGatewayId", "egress_only_internet_gateways": "EgressOnlyInternetGatewayId",
    "nat_gateways": "NatGatewayId", "network_acls": "NetworkAclId", "security_groups": "GroupId",
    "managed_prefix_lists": "PrefixListId", "instances": "InstanceId", "load_balancers": "LoadBalancerArn",
    "target_groups": "TargetGroupArn", "classic_load_balancers": "LoadBalancerName",
    "vpc_peering_connections": "VpcPeeringConnectionId", "iam.roles": "Arn",
}


def _check_items(items: object, key: str, id_field: str | None, where: str) -> None:
    if not isinstance(items, list):
        raise UserError(f"{where}: {key} must be a list of API reply items, not {type(items).__name__}")
    for n, item in enumerate(items):
        if type(item) is Deferred:
            continue  # checked by its reader when decoded, if it ever is
        if not isinstance(item, dict):
            raise UserError(f"{where}: {key}[{n}] must be an object, not {type(item).__name__}")
        if id_field and not item.get(id_field):
            raise UserError(f"{where}: {key}[{n}] has no {id_field}")
