"""AWS: collection with boto3 (collect.py), the snapshot's reply shapes (validate.py, replies.py),
normalization into the estate graph (normalize.py), identity power (identity.py, over IAM's
semantics in iam_*.py) and the split of a large estate into shards (partition.py). Heavy modules
are imported when used, not here: the CLI imports this package to register its commands."""

from __future__ import annotations

from typing import Any, Callable, Mapping


class AwsProvider:
    """The AWS side of the provider seam (guardrails/provider.py)."""

    name = "aws"

    def validate(self, snapshot: dict, where: str) -> None:
        from .validate import validate

        validate(snapshot, where)

    def decoders(self) -> Mapping[str, Callable[[bytes], object]]:
        from .replies import decoders

        return decoders()

    def normalize(self, snapshots: list[dict], graph: Any, consume: bool) -> Callable[[], None]:
        from guardrails.normalize import reply_shape_errors

        from .normalize import normalize_all_but_instances

        with reply_shape_errors("AWS API"):
            add = normalize_all_but_instances(snapshots, graph, consume=consume)

        def add_instances() -> None:
            with reply_shape_errors("AWS API"):
                add()

        return add_instances

    def identity_power(self, graph: Any, production: Mapping[str, str], config: Any):
        from .identity import AwsIdentities

        return AwsIdentities(graph, production, config)

    @property
    def partitioner(self):
        from . import partition

        return partition


PROVIDER = AwsProvider()


def register_commands(app: Any, scan_app: Any) -> None:
    from .commands import register

    register(app, scan_app)
