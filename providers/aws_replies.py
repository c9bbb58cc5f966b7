"""The fields a scan reads of the AWS replies that make up most of a large snapshot.

A snapshot keeps the API's replies whole, and instances and their network interfaces are nearly
all of a large one. A scan reads a few fields of each, so `snapshot.load(..., project=True)`
decodes their elements through these types: msgspec skips every field not named here instead of
building it (at 100,000 resources the load takes 2.1 s instead of 3.0 s, and the scan's peak
memory is 1.0 GiB instead of 1.46 GiB). An element that does not fit these types (a hand-edited
snapshot with a list where an object belongs, say) is decoded whole, so the scan never sees less
than it would have read. Network interfaces are checked as JSON but left undecoded until read.

tests/test_snapshot_projection.py records every field a whole scan reads of these lists and fails
when one is missing here. `Any` keeps a field's whole value, however it is shaped.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypedDict

import msgspec
import orjson


class _GroupRef(TypedDict, total=False):
    GroupId: Any


class _Association(TypedDict, total=False):
    PublicIp: Any


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


# The lists decoded through a projection, by their key in a region's section of the snapshot.
PROJECTED = {"instances": Instance, "network_interfaces": NetworkInterface}
# Of those, the lists left undecoded until read (snapshot.Deferred): normalization reads a
# region's network interfaces only for instances replied without their own, which DescribeInstances
# never does, and a region has at least as many interfaces as instances.
DEFERRED = ("network_interfaces",)


def _decoder(shape: type) -> Callable[[bytes], object]:
    decode = msgspec.json.Decoder(shape).decode

    def decode_or_whole(element: bytes) -> object:
        try:
            return decode(element)
        except msgspec.DecodeError:
            # Not of the declared shape, or not JSON: the plain parser keeps it all, or says what is wrong.
            return orjson.loads(element)

    return decode_or_whole


def _deferring(decode: Callable[[bytes], object]) -> Callable[[bytes], object]:
    from guardrails.snapshot import Deferred

    check = msgspec.json.Decoder(msgspec.Raw).decode  # validates the JSON without building it

    def defer(element: bytes) -> object:
        try:
            check(element)
        except msgspec.DecodeError:
            orjson.loads(element)  # says what is wrong, as the plain parser would
        return Deferred(element, decode)

    return defer


def decoders() -> dict[str, Callable[[bytes], object]]:
    return {key: _deferring(_decoder(shape)) if key in DEFERRED else _decoder(shape)
            for key, shape in PROJECTED.items()}
