"""The fields a scan reads of the AWS replies that make up most of a large snapshot.

A snapshot keeps the API's replies whole, and instances and their network interfaces are nearly
all of a large one. A scan reads a few fields of each, so `snapshot.load(..., project=True)`
decodes their elements through these types: msgspec skips every field not named here instead of
building it (at 100,000 resources the load takes 2.1 s instead of 3.0 s, and the scan's peak
memory is 1.0 GiB instead of 1.46 GiB). An element that does not fit these types (a hand-edited
snapshot with a list where an object belongs, say) is decoded whole, so the scan never sees less
than it would have read. Both lists are checked as JSON and left undecoded until read, but for a
snapshot's first instances (DECODED_FIRST).

tests/test_snapshot_projection.py records every field a whole scan reads of these lists and fails
when one is missing here. `Any` keeps a field's whole value, however it is shaped.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypedDict

import msgspec
import orjson

from guardrails.shards import MIN_INSTANCES


class _GroupRef(TypedDict, total=False):
    GroupId: Any


class _Association(TypedDict, total=False):
    PublicIp: Any
    IpOwnerId: Any


class _PrivateAddress(TypedDict, total=False):
    PrivateIpAddress: Any
    Association: Optional[_Association]


class _Ipv6Address(TypedDict, total=False):
    Ipv6Address: Any


class _Attachment(TypedDict, total=False):
    InstanceId: Any


class NetworkInterface(TypedDict, total=False):
    NetworkInterfaceId: Any
    SubnetId: Any
    VpcId: Any
    Groups: Optional[list[_GroupRef]]
    PrivateIpAddress: Any
    PrivateIpAddresses: Optional[list[_PrivateAddress]]
    Association: Optional[_Association]
    Ipv6Addresses: Optional[list[_Ipv6Address]]
    Attachment: Optional[_Attachment]


class _State(TypedDict, total=False):
    Name: Any


class _InstanceProfile(TypedDict, total=False):
    Arn: Any


class Instance(TypedDict, total=False):
    InstanceId: Any
    InstanceType: Any
    State: Optional[_State]
    SubnetId: Any
    VpcId: Any
    PrivateIpAddress: Any
    PublicIpAddress: Any
    Ipv6Address: Any
    NetworkInterfaces: Optional[list[NetworkInterface]]
    SecurityGroups: Optional[list[_GroupRef]]
    IamInstanceProfile: Optional[_InstanceProfile]
    MetadataOptions: Any
    ImageId: Any
    LaunchTime: Any
    Tags: Any
    UserData: Any
    # Added by the Terraform translation (docs/snapshot-format.md).
    _address: Any
    _unknown: Any
    _source: Any
    _source_location: Any
    _launched_by: Any


class _AddressPlace(msgspec.Struct, gc=False):
    PrivateIpAddress: Any = None


class InterfacePlace(msgspec.Struct, gc=False):
    VpcId: Any = None
    SubnetId: Any = None
    PrivateIpAddress: Any = None
    PrivateIpAddresses: Optional[list[_AddressPlace]] = None


class InstancePlace(msgspec.Struct, gc=False):
    """Where an instance is: what a split scan places it by (aws_partition.py). A struct, not a
    dict: reading it as the instance is checked costs a third of building these as dicts."""

    InstanceId: Any = None
    VpcId: Any = None
    SubnetId: Any = None
    PrivateIpAddress: Any = None
    NetworkInterfaces: Optional[list[InterfacePlace]] = None


def place_of(instance: object) -> InstancePlace:
    """The place of an instance decoded whole (not deferred, or of another shape than Instance)."""
    try:
        return msgspec.convert(instance, InstancePlace, strict=False)
    except msgspec.ValidationError:
        return InstancePlace()  # normalization will say what is wrong with it


# The lists decoded through a projection, by their key in a region's section of the snapshot.
PROJECTED = {"instances": Instance, "network_interfaces": NetworkInterface}
# Both are left undecoded until read (snapshot.Deferred). Normalization reads a region's network
# interfaces only for instances replied without their own, which DescribeInstances never does, and
# a region has at least as many interfaces as instances. The instances of a snapshot large enough
# to be scanned by several processes are decoded once it is known which process builds them
# (guardrails/shards.py): each shard decodes its own. A snapshot's first instances, all of those of
# a smaller one, are decoded as they are read, which costs less than decoding them later.
DEFERRED = ("network_interfaces", "instances")
# What is read of a deferred element as it is checked (Deferred.peek), by list.
PEEKED = {"instances": InstancePlace}
# Elements of each list decoded as read before the rest is deferred.
DECODED_FIRST = {"instances": MIN_INSTANCES}


def _decoder(shape: type) -> Callable[[bytes], object]:
    decode = msgspec.json.Decoder(shape).decode

    def decode_or_whole(element: bytes) -> object:
        try:
            return decode(element)
        except msgspec.DecodeError:
            # Not of the declared shape, or not JSON: the plain parser keeps it all, or says what is wrong.
            return orjson.loads(element)

    return decode_or_whole


def _deferring(decode: Callable[[bytes], object], peeked: type | None) -> Callable[[bytes], object]:
    from guardrails.snapshot import Deferred

    check = msgspec.json.Decoder(peeked or msgspec.Raw).decode  # validates the JSON, building only what is peeked

    def defer(element: bytes) -> object:
        try:
            peek = check(element)
        except msgspec.DecodeError:
            orjson.loads(element)  # says what is wrong, as the plain parser would
            peek = None  # JSON of another shape: read whole when needed
        return Deferred(element, decode, peek if peeked else None)

    return defer


def _decoded_first(count: int, decode: Callable[[bytes], object], defer: Callable[[bytes], object]) -> Callable[[bytes], object]:
    left = count

    def decode_or_defer(element: bytes) -> object:
        nonlocal left
        if left:
            left -= 1
            return decode(element)
        return defer(element)

    return decode_or_defer


def decoders() -> dict[str, Callable[[bytes], object]]:
    """The decoder of each projected list of one snapshot file."""
    out = {}
    for key, shape in PROJECTED.items():
        decode = _decoder(shape)
        if key in DEFERRED:
            defer = _deferring(decode, PEEKED.get(key))
            decode = _decoded_first(DECODED_FIRST[key], decode, defer) if key in DECODED_FIRST else defer
        out[key] = decode
    return out
