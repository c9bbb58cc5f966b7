"""Google Cloud: collection with the Google client libraries (collect.py), the snapshot's shape
(validate.py), normalization into the estate graph (normalize.py) and service accounts' power
(identity.py). Heavy modules are imported when used, not here: the CLI imports this package to
register its commands, and the Google libraries take seconds to import."""

from __future__ import annotations

from typing import Any, Callable, Mapping


class GcpProvider:
    """The GCP side of the provider seam (guardrails/provider.py)."""

    name = "gcp"

    def validate(self, snapshot: dict, where: str) -> None:
        from .validate import validate

        validate(snapshot, where)

    def decoders(self) -> Mapping[str, Callable[[bytes], object]]:
        return {}

    def normalize(self, snapshots: list[dict], graph: Any, consume: bool) -> Callable[[], None]:
        from guardrails.normalize import reply_shape_errors

        from .normalize import normalize_all

        with reply_shape_errors("Google Cloud API"):
            return normalize_all(snapshots, graph)

    def identity_power(self, graph: Any, production: Mapping[str, str], config: Any):
        from .identity import GcpIdentities

        return GcpIdentities(graph, production, config)

    @property
    def partitioner(self):
        return None

    @property
    def check_notes(self) -> Mapping[str, str]:
        """How each check applies to Google Cloud, or why it does not (`guardrails checks`)."""
        from .notes import CHECK_NOTES

        return CHECK_NOTES

    @property
    def remediation_texts(self) -> Mapping[str, str]:
        """Each check's remediation in Google Cloud's words, which its findings carry."""
        from .remediation import REMEDIATION

        return REMEDIATION


PROVIDER = GcpProvider()


def register_commands(app: Any, scan_app: Any) -> None:
    from .commands import register

    register(app, scan_app)
