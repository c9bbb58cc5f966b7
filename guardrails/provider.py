"""The provider seam: what a cloud (or a source such as Terraform) offers the core, and the registry.

A provider is a package under `providers/` named in REGISTRY. The core never imports one by name:
it asks `snapshot_provider(name)` for the provider of a snapshot's `provider` field, and
`register_commands` lets every registered package add its own commands (`scan aws`, `scan
terraform`). Adding a cloud is a new package and one line in REGISTRY.

A registered module exposes either or both of:

- `PROVIDER`: an object satisfying `Provider`, for snapshots whose `provider` is its name;
- `register_commands(app, scan_app)`: adds its typer commands. Keep the module it imports for this
  light (typer only): it is imported whenever the CLI starts.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from guardrails.errors import UserError

if TYPE_CHECKING:
    from guardrails.identity_facts import IdentityEvaluator

# Name -> the module that implements it. The name is the snapshot's `provider` for clouds; a source
# that only translates into another provider's snapshots (Terraform) is listed for its commands.
REGISTRY: dict[str, str] = {
    "aws": "guardrails.providers.aws",
    "gcp": "guardrails.providers.gcp",
    "terraform": "guardrails.providers.terraform",
    "azure": "guardrails.providers.azure",
}


class Plan(Protocol):
    """How a partitioner splits an estate into shards (see guardrails/shards.py)."""

    shards: int

    def take(self, snapshots: list[dict], number: int, kept: list) -> None:
        """Leave in `snapshots` only the elements of shard `number` that are deferred to shards."""

    def owner(self, node_id: str) -> int | None:
        """The shard that checks this node, or None when every shard builds it."""


class Partitioner(Protocol):
    """Optional capability: split a large estate into shards of joined networks."""

    def size(self, snapshots: list[dict]) -> int:
        """How many of the elements that a split places the snapshots hold."""

    def plan(self, snapshots: list[dict], shards: int) -> Plan | None:
        """The placement of the snapshots' elements in at most `shards` shards, or None for no split."""


@runtime_checkable
class Provider(Protocol):
    """One cloud's side of the seam: its snapshots' checks, their translation into the graph, and
    the power of its identities.

    Collection is the provider's own command (`register_commands`), writing the same snapshot parts
    that `validate` accepts, so a saved snapshot scans like a live one."""

    name: str

    def validate(self, snapshot: dict, where: str) -> None:
        """Raise UserError naming `where` when the snapshot part is not one this provider reads."""

    def decoders(self) -> Mapping[str, Callable[[bytes], object]]:
        """Decoders by list name for a projecting snapshot reader: each reads only the fields a scan
        needs (or defers the element). Empty when the provider has none."""

    def normalize(self, snapshots: list[dict], graph: Any, consume: bool) -> Callable[[], None]:
        """Add the snapshots' estate to the graph but for what a partitioner defers to shards, and
        return the function that adds the rest. With `consume`, the snapshots may be taken apart."""

    def identity_power(self, graph: Any, production: Mapping[str, str], config: Any) -> IdentityEvaluator | None:
        """The evaluator of this provider's identities in the graph (guardrails/identity_facts.py),
        or None when it has none. `production` maps production node ids to the reason they are;
        the evaluator tells what of it each identity can change. It is made once per scan, and
        asked only about the identities the analysis needs (those CI nodes run as, and the roles
        they can assume), so that the many other identities of an estate cost nothing."""

    @property
    def partitioner(self) -> Partitioner | None:
        """The optional capability to split a large estate into processes; None when it has none."""

    # Optional: `check_notes`, a mapping of check id to how the check applies to this provider's
    # estates, or why it does not; `guardrails checks` shows them (see check_notes below).
    # Optional: `remediation_texts`, a mapping of check id to the check's remediation in this
    # provider's words (its firewalls, addresses, identities); its findings carry it instead of the
    # catalogue's (see remediation_texts below).


def _module(name: str):
    return importlib.import_module(REGISTRY[name])


def snapshot_provider(name: object, where: str = "snapshot") -> Provider:
    """The provider of snapshots whose `provider` field is `name`; UserError when there is none."""
    module = _module(name) if isinstance(name, str) and name in REGISTRY else None
    provider = getattr(module, "PROVIDER", None)
    if provider is None:
        known = ", ".join(sorted(n for n in REGISTRY if getattr(_module(n), "PROVIDER", None) is not None))
        raise UserError(f"{where}: snapshots of provider {name!r} are not supported (known: {known})")
    return provider


def providers_of(snapshots: Iterable[dict]) -> list[Provider]:
    """The providers of these snapshots, each once, in the order first met."""
    seen: dict[str, Provider] = {}
    for snap in snapshots:
        name = snap.get("provider")
        if name not in seen:
            seen[name] = snapshot_provider(name)
    return list(seen.values())


def check_notes() -> dict[str, Mapping[str, str]]:
    """Per provider, how a check applies to its estates where the catalogue's words need it, or
    why it does not apply (the optional `check_notes` mapping of a PROVIDER: check id -> text)."""
    found: dict[str, Mapping[str, str]] = {}
    for name in REGISTRY:
        notes = getattr(getattr(_module(name), "PROVIDER", None), "check_notes", None)
        if notes:
            found[name] = notes
    return found


@functools.cache
def remediation_texts(name: object) -> Mapping[str, str]:
    """The remediation of each check in the words of the provider named `name`, where it offers its
    own (the optional `remediation_texts` of its PROVIDER); empty otherwise."""
    if not isinstance(name, str) or name not in REGISTRY:
        return {}
    return getattr(getattr(_module(name), "PROVIDER", None), "remediation_texts", None) or {}


def register_commands(app: Any, scan_app: Any) -> None:
    """Let every registered package add its commands to the CLI."""
    for name in REGISTRY:
        register = getattr(_module(name), "register_commands", None)
        if register is not None:
            register(app, scan_app)
