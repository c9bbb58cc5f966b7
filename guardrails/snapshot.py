"""Snapshots: what a provider collected, as plain JSON, savable and scannable later (docs/snapshot-format.md)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from guardrails.errors import UserError
from guardrails.gc_pause import paused_gc

FORMAT = "pipeline-guardrails-snapshot"
VERSION = 1


def save(snapshot: dict, path: str | Path) -> None:
    path = Path(path)
    data = orjson.dumps(snapshot)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "wb", compresslevel=6) as fh:
                fh.write(data)
        else:
            path.write_bytes(data)
    except OSError as exc:
        raise UserError(f"{path}: cannot write snapshot ({exc.strerror})") from None


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read snapshot ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path}: damaged gzip snapshot ({exc})") from None
    try:
        with paused_gc():
            data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: not a snapshot (invalid JSON: {exc})") from None
    del raw  # the parsed estate is what is kept; the bytes can go before analysis starts
    return check(data, str(path))


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
        if not isinstance(item, dict):
            raise UserError(f"{where}: {key}[{n}] must be an object, not {type(item).__name__}")
        if id_field and not item.get(id_field):
            raise UserError(f"{where}: {key}[{n}] has no {id_field}")
