"""AWS partitions in ARNs: `aws`, and the separate `aws-us-gov` (GovCloud), `aws-cn` (China) and
the isolated ones. An ARN the scanner builds for a resource, or an AWS-managed policy it
recognises, must be in the partition of the account it belongs to: IAM matches
`arn:aws-us-gov:ec2:...` and never `arn:aws:ec2:...` in a GovCloud account, and its AWS-managed
policies are `arn:aws-us-gov:iam::aws:policy/...`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

DEFAULT_PARTITION = "aws"

# `arn:PARTITION:iam::aws:policy/NAME`: AWS owns the policy (account "aws"), in any partition.
_AWS_MANAGED_POLICY = re.compile(r"^arn:(aws[a-z-]*):iam::aws:policy/")


def partition_of(arn: str) -> str:
    """The partition an ARN lives in; `aws` for what is not an ARN."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else DEFAULT_PARTITION


@lru_cache(maxsize=1)
def _partition_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    """Each partition's region pattern, from the partition data botocore ships (kept current as
    AWS adds partitions), read as a file: importing botocore's loaders costs a tenth of a second."""
    from importlib.resources import files

    try:
        data = json.loads((files("botocore") / "data" / "partitions.json").read_text())
        return tuple((p["id"], re.compile(p["regionRegex"])) for p in data["partitions"]
                     if p.get("id") and p.get("regionRegex"))
    except (OSError, ValueError, KeyError, TypeError, re.error, ModuleNotFoundError):
        return ()


@lru_cache(maxsize=256)
def partition_of_region(region: str | None) -> str:
    """The partition a region belongs to (`us-gov-west-1` -> `aws-us-gov`); `aws` when unknown."""
    if region:
        for partition, pattern in _partition_patterns():
            if pattern.match(region):
                return partition
    return DEFAULT_PARTITION


def aws_managed_policy_partition(arn: str | None) -> str | None:
    """The partition of an AWS-managed policy's ARN, or None when the ARN names no such policy."""
    match = _AWS_MANAGED_POLICY.match(arn or "")
    return match.group(1) if match else None


def in_partition(document, partition: str):
    """A copy of an AWS-managed policy document (written for `aws`) whose ARNs are in `partition`:
    AWS publishes the same policies in each partition with their ARNs there."""
    if partition == DEFAULT_PARTITION:
        return document
    if isinstance(document, dict):
        return {key: in_partition(value, partition) for key, value in document.items()}
    if isinstance(document, list):
        return [in_partition(value, partition) for value in document]
    if isinstance(document, str) and document.startswith("arn:aws:"):
        return f"arn:{partition}:{document[len('arn:aws:'):]}"
    return document
