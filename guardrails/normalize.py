"""Snapshots -> the estate graph, each snapshot by its own provider (guardrails/provider.py)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from guardrails.errors import UserError
from guardrails.graph import EstateGraph
from guardrails.provider import snapshot_provider
from guardrails.schema import SchemaError


def normalize(snapshots: Iterable[dict], consume: bool = False) -> EstateGraph:
    """The estate graph of these snapshots; with `consume`, their bulk is taken out of them as the
    graph is built (the caller owns them and will not read them again)."""
    graph, add_rest = normalize_all_but_deferred(snapshots, consume)
    add_rest()
    return graph


def normalize_all_but_deferred(snapshots: Iterable[dict], consume: bool = False) -> tuple[EstateGraph, Callable[[], None]]:
    """The estate graph of the snapshots but for what their providers defer to shards (AWS: the
    instances), and the function that adds what the snapshots hold of it when called (shards.py
    leaves each shard its own first). Snapshots of one provider are normalized together, so that
    references between their accounts and regions resolve."""
    graph = EstateGraph()
    by_provider: dict[str, list[dict]] = {}
    for snap in snapshots:
        by_provider.setdefault(snap.get("provider"), []).append(snap)
    finishers = [snapshot_provider(name).normalize(group, graph, consume) for name, group in by_provider.items()]

    def add_rest() -> None:
        for finish in finishers:
            finish()

    return graph, add_rest


@contextmanager
def reply_shape_errors(api: str) -> Iterator[None]:
    """A field of the wrong type deep inside a snapshot of `api`'s replies is told as such, in one
    line; a provider normalizes its snapshots within it."""
    try:
        yield
    except SchemaError:
        raise  # not the reply's shape: a node the provider built does not match the schema
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"the snapshot does not have the shape of {api} replies "
                        f"({type(exc).__name__}: {exc})") from None
