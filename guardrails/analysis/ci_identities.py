"""Who is a CI identity (spec/CHECKS.md), with the reasons each one is.

Besides the identities CI nodes run as, an identity is a pipeline's when:
1. a CI platform's tokens can become it: an `issuer` node whose URL is a CI platform's (or one the
   configuration adds) has a `federates` edge to it; the trust on that edge is judged here
   (guardrails/federation.py) into a level: any owner, any repository, any branch, pinned;
2. it is a user or service account whose name or tags say CI, by the words and tags that make a
   node CI (guardrails/analysis/classify.py, rule 3), or the configuration names it
   (`[[ci.identities]]`), or its provider knows a CI system is configured to use it
   (the identity's own `ci_reasons`).

The reasons are written back to each identity's `ci_reasons`, so every reader of the graph sees
them; the estate keeps the verdicts with the federations' levels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from guardrails.analysis.classify import ROLE_TAG_KEYS, classify_ci, names_ci_word
from guardrails.config import Config
from guardrails.federation import FederationVerdict, LEVEL_WORDS, assess, platform_of, resolve_claims
from guardrails.graph import EstateGraph

# Identities that stand for a person or a program holding a stored secret: the ones whose names
# and tags can make them CI. A role is a pipeline's by what can become it, not by its name.
NAMED_TYPES = ("user", "service_account")


@dataclass(frozen=True)
class CiIdentity:
    """A CI identity and why: `reasons` in words, `federations` the CI issuers that can become it,
    `nodes` the CI nodes that run as it."""

    id: str
    reasons: tuple[str, ...]
    federations: tuple[FederationVerdict, ...] = ()
    nodes: tuple[str, ...] = ()

    @property
    def hosted(self) -> bool:
        """Whether it is a pipeline's identity by itself, not only as a CI node's (whose checks
        report on the node). A CI platform that can become it makes it one; so does being CI by
        name, tags or configuration while no CI node runs as it. A service account named for the
        runner that runs as it is that runner's identity, reported once, on the runner."""
        return bool(self.federations) or not self.nodes


@dataclass
class _Found:
    reasons: list[str] = field(default_factory=list)
    federations: list[FederationVerdict] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)


def federation_reason(verdict: FederationVerdict) -> str:
    level = verdict.assessment
    return (f"{verdict.platform} tokens ({verdict.url}) can become it: {LEVEL_WORDS[level.level]}, "
            f"{level.who}")


def classify_identities(graph: EstateGraph, config: Config, ci_nodes: Iterable[str] = ()) -> dict[str, CiIdentity]:
    """Every CI identity of the estate, by id."""
    found: dict[str, _Found] = {}
    configured = dict(config.ci_issuers)
    for issuer in graph.nodes("issuer"):
        url = issuer.get("url") or issuer.name
        platform = platform_of(url, configured)
        if platform is None:
            continue  # tokens of a cluster, a cloud or an identity provider: not a pipeline's
        for identity, edge in graph.out(issuer.id, "federates"):
            if identity.kind != "identity":
                continue
            # A trust written on the token's claims is read with the platform's subject, which only
            # now, with the configuration's issuers, is known for every issuer.
            trust = resolve_claims(platform.platform, edge.get("trust") or ())
            level = assess(platform, trust, edge.get("unknown"))
            if level.level == "none":
                continue
            verdict = FederationVerdict(issuer.id, url, platform.platform.title + (" (configured issuer)"
                                                                                    if platform.configured else ""),
                                        level, edge.get("statement") or "", edge.get("via") or "")
            entry = found.setdefault(identity.id, _Found())
            entry.federations.append(verdict)
            entry.reasons.append(federation_reason(verdict))
    by_words = Config(ci_exclude=config.ci_exclude)
    for identity in graph.nodes("identity"):
        attrs = identity.attrs
        reasons = list(attrs.get("ci_reasons") or [])
        name, tags = identity.name, attrs.get("tags") or {}
        for selector in config.ci_identities:
            if selector.matches(identity.id, name, tags):
                reasons.append(selector.describe())
                break
        else:
            # An identity named by an email (a GCP service account) is named by its local part: the
            # domain says which project holds it, not what it is.
            own_name = name.split("@", 1)[0]
            if attrs.get("identity_type") in NAMED_TYPES and _may_name_ci(own_name, tags):
                verdict = classify_ci(identity.id, own_name, tags, config=by_words)
                if verdict is not None:
                    reasons.append(verdict.reason)
        if reasons:
            found.setdefault(identity.id, _Found()).reasons.extend(reasons)
    for node_id in ci_nodes:
        for identity, _ in graph.out(node_id, "runs_as"):
            if identity.get("kind") == "identity":
                entry = found.setdefault(identity.id, _Found())
                entry.nodes.append(node_id)
                entry.reasons.append(f"CI node {graph.node(node_id).name} runs as it")
                # The identity a limited one stands for is that node's too, reported on the node.
                account = identity.get("stands_for")
                if account and account in found:
                    found[account].nodes.append(node_id)
    out = {}
    for identity_id in sorted(found):
        entry = found[identity_id]
        reasons = tuple(dict.fromkeys(entry.reasons))
        out[identity_id] = CiIdentity(identity_id, reasons, tuple(entry.federations), tuple(entry.nodes))
        graph.node(identity_id).attrs["ci_reasons"] = list(reasons)
    return out


def _may_name_ci(name: str, tags: dict) -> bool:
    text = "\n".join([name, *tags.keys(), *tags.values()]).lower()
    return "ci-role" in text or names_ci_word(text) or any(k.lower() in ROLE_TAG_KEYS for k in tags)


def describe_statement(statement: str, limit: int = 600) -> str:
    """A trust statement for a message or a report: compact JSON, cut at `limit` characters."""
    try:
        text = json.dumps(json.loads(statement), separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        text = statement
    return text if len(text) <= limit else text[: limit - 1] + "…"
