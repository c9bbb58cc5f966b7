"""How an AWS estate splits between the processes of one scan (guardrails/shards.py).

Instances are placed by their networks. VPCs joined by a peering connection or a transit gateway
(whatever its state or route tables: joining more than needed costs balance, never a finding) go
together, as do the VPCs of one instance's interfaces and those of instances sharing a private
address that a load balancer targets by IP (normalization gives the address to the last of them).
Everything else a shard builds whole. Reading where an instance is costs a fraction of decoding
it, so the parent reads that much of every instance and each shard decodes its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import orjson

from guardrails.normalize import reply_shape_errors
from guardrails.providers.aws.normalize import build_project_id
from guardrails.providers.aws.replies import InstancePlace, InterfacePlace, place_of
from guardrails.snapshot import Deferred

UNPLACED = "(no network)"


def _place(item: object) -> InstancePlace:
    if type(item) is Deferred:
        if item.peek is not None:
            return item.peek
        item = orjson.loads(item.text)  # of another shape than the projection: read whole
    return place_of(item)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class Plan:
    """Which shard builds each instance, and which shard speaks for each compute node that is
    not an instance (every shard builds those)."""

    shards: int
    instance_shards: dict[tuple[int, str], bytearray] = field(default_factory=dict)  # (snapshot, region) -> shard per instance
    common_owner: dict[str, int] = field(default_factory=dict)
    weights: list[int] = field(default_factory=list)

    def owner(self, node_id: str) -> int | None:
        """The shard that reports on a compute node every shard builds; None for an instance."""
        return self.common_owner.get(node_id)

    def take(self, snapshots: list[dict], shard: int, keep: list) -> None:
        """Leaves in the snapshots only the instances of `shard`. The full lists go to `keep`, not
        freed: a forked shard would copy every page it touched to free them."""
        lists = [(snapshots[index]["regions"][region], placed) for (index, region), placed in self.instance_shards.items()]
        keep.extend(data["instances"] for data, _ in lists)
        taken = [[item for item, owner in zip(data["instances"], placed) if owner == shard] for data, placed in lists]
        for (data, _), items in zip(lists, taken):  # assigned after all are read: a snapshot given twice is one dict
            data["instances"] = items


class _Groups:
    """Union-find over network ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent
        root = parent.setdefault(key, key)
        while parent[root] != root:
            root = parent[root]
        while key != root:  # every key on the way now points at the root
            parent[key], key = root, parent[key]
        return root

    def join(self, keys: list[str]) -> str:
        root = self.find(keys[0])
        for key in keys[1:]:
            other = self.find(key)
            if other != root:
                self.parent[other] = root
        return root


def _regions(snapshots: list[dict]) -> Iterator[tuple[int, str, dict]]:
    for index, snap in enumerate(snapshots):
        if snap.get("provider", "aws") != "aws":
            continue
        for region, data in sorted((snap.get("regions") or {}).items()):
            if isinstance(data, dict):
                yield index, region, data


def size(snapshots: list[dict]) -> int:
    """How many instances the snapshots hold: what a split places."""
    return sum(len(data.get("instances") or ()) for _, _, data in _regions(snapshots))


def plan(snapshots: list[dict], shards: int) -> Plan | None:
    """A split of the instances into `shards` shards of joined networks, or None when the estate
    is one network group (or nearly): then one process does it all."""
    with reply_shape_errors("AWS API"):
        return _plan(snapshots, shards)


def _plan(snapshots: list[dict], shards: int) -> Plan | None:
    groups = _Groups()
    network_of_subnet: dict[str, str] = {}
    targeted_ips: set[str] = set()
    for _, _, data in _regions(snapshots):
        for subnet in data.get("subnets") or []:
            if _text(subnet.get("SubnetId")) and _text(subnet.get("VpcId")):
                network_of_subnet[subnet["SubnetId"]] = subnet["VpcId"]
        for pcx in data.get("vpc_peering_connections") or []:
            ends = [_text((pcx.get(side) or {}).get("VpcId")) for side in ("RequesterVpcInfo", "AccepterVpcInfo")]
            if all(ends):
                groups.join(ends)
        for att in data.get("transit_gateway_attachments") or []:
            tgw, resource = _text(att.get("TransitGatewayId")), _text(att.get("ResourceId"))
            if tgw and resource:
                # Keyed by the gateway, which may be attached in several regions and peered with another.
                groups.join([f"tgw:{tgw}", resource, f"tgw:{resource}"])
        for tg in data.get("target_groups") or []:
            if tg.get("TargetType", "instance") != "instance":  # normalization looks these up by address
                targeted_ips.update(_text((t.get("Target") or t).get("Id")) for t in tg.get("Targets") or [])

    def networks(where: InstancePlace) -> list[str]:
        found = []
        for source in [where, *(where.NetworkInterfaces or ())]:
            subnet = _text(source.SubnetId)
            vpc = _text(source.VpcId) or (network_of_subnet.get(subnet) if subnet else None)
            if vpc and vpc not in found:
                found.append(vpc)
        return found or [UNPLACED]

    def addresses(where: InstancePlace) -> Iterator[object]:
        yield where.PrivateIpAddress
        for iface in where.NetworkInterfaces or ():
            yield iface.PrivateIpAddress
            for addr in iface.PrivateIpAddresses or ():
                yield addr.PrivateIpAddress

    placed: dict[tuple[int, str], list[str]] = {}  # a network of each instance, by list
    holders: dict[str, list[str]] = {}
    key_of: dict[str, str] = {}  # by instance id: one instance replied twice (two snapshots) is built once
    without_interfaces: set[str] = set()
    for index, region, data in _regions(snapshots):
        keys = placed[(index, region)] = []
        for item in data.get("instances") or ():
            where = _place(item)
            vpc, interfaces = where.VpcId, where.NetworkInterfaces
            if type(vpc) is str and vpc and interfaces and len(interfaces) == 1 and interfaces[0].VpcId == vpc:
                key = vpc  # nearly every instance: one interface, in the instance's own network
            else:
                found = networks(where)
                key = found[0] if len(found) == 1 else groups.join(found)
            instance_id = where.InstanceId
            if type(instance_id) is str:
                first = key_of.setdefault(instance_id, key)
                if first != key:
                    groups.join([first, key])
                if not interfaces:
                    without_interfaces.add(instance_id)
            keys.append(key)
            if targeted_ips:
                for address in addresses(where):
                    if type(address) is str and address in targeted_ips:
                        holders.setdefault(address, []).append(key)
    if without_interfaces:
        _join_listed_interfaces(snapshots, groups, network_of_subnet, without_interfaces, key_of, targeted_ips, holders)
    for keys in holders.values():
        groups.join(keys)

    counts: dict[str, int] = {}
    for keys in placed.values():
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    weights: dict[str, int] = {}
    for key, count in counts.items():
        root = groups.find(key)
        weights[root] = weights.get(root, 0) + count
    if len(weights) < 2:
        return None
    shards = min(shards, len(weights))
    result = Plan(shards, weights=[0] * shards)
    shard_of: dict[str, int] = {}
    for root, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):  # largest first, to the lightest shard
        lightest = min(range(shards), key=lambda k: (result.weights[k], k))
        shard_of[root] = lightest
        result.weights[lightest] += weight
    if max(result.weights) > 0.9 * sum(result.weights):
        return None  # one group is nearly the whole estate: splitting would only add work
    shard_of_key = {key: shard_of[groups.find(key)] for key in counts}
    for where, keys in placed.items():
        result.instance_shards[where] = bytearray(map(shard_of_key.__getitem__, keys))
    for _, _, data in _regions(snapshots):
        for project in data.get("codebuild_projects") or []:
            vpc = project.get("vpcConfig") or {}
            found = networks(InstancePlace(VpcId=vpc.get("vpcId"),
                                           NetworkInterfaces=[InterfacePlace(SubnetId=s) for s in vpc.get("subnets") or []]))
            root = groups.find(found[0]) if found[0] != UNPLACED else None
            result.common_owner[build_project_id(project)] = shard_of.get(root, 0) if root else 0
    return result


def _join_listed_interfaces(snapshots: list[dict], groups: _Groups, network_of_subnet: dict[str, str],
                            instances: set[str], key_of: dict[str, str], targeted_ips: set[str],
                            holders: dict[str, list[str]]) -> None:
    """Instances replied without their interfaces get them, with their networks and addresses,
    from the region's interface list (as normalization does)."""
    for _, _, data in _regions(snapshots):
        for eni in data.get("network_interfaces") or ():
            eni = orjson.loads(eni.text) if type(eni) is Deferred else eni
            owner = (eni.get("Attachment") or {}).get("InstanceId") if isinstance(eni, dict) else None
            if owner not in instances:
                continue
            key = key_of[owner]
            subnet = _text(eni.get("SubnetId"))
            vpc = _text(eni.get("VpcId")) or (network_of_subnet.get(subnet) if subnet else None)
            if vpc:
                groups.join([key, vpc])
            addresses = [eni.get("PrivateIpAddress")] + [a.get("PrivateIpAddress") for a in eni.get("PrivateIpAddresses") or ()
                                                         if isinstance(a, dict)]
            for address in addresses:
                if type(address) is str and address in targeted_ips:
                    holders.setdefault(address, []).append(key)
