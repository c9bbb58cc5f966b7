"""Who is a CI node, and who is production (spec/CHECKS.md), with the reason recorded for each."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from guardrails.config import Config

PRODUCT_WORDS = ("jenkins", "gitlab", "teamcity", "bamboo", "gocd", "concourse", "drone", "buildkite",
                 "circleci", "actions-runner", "github-runner", "azure-pipelines", "azdo-agent", "spinnaker",
                 "argocd", "tekton", "woodpecker", "buildbot")
# Short words that are also ordinary English: matched only as whole words, never inside another word.
WHOLE_WORD_PRODUCTS = frozenset({"drone", "bamboo", "gocd"})
GENERIC_WORDS = ("ci", "cicd", "build")
RUNNER_WORDS = ("runner", "agent", "worker", "executor", "build-node", "slave")
# Fleets are named in the plural (gitlab-runners, jenkins-agents, ci-workers).
RUNNER_FORMS = RUNNER_WORDS + tuple(w + "s" for w in RUNNER_WORDS)
ROLE_TAG_KEYS = ("ci-role", "guardrails:ci-role")
PRODUCTION_TAG_KEYS = ("env", "environment", "stage", "tier")
PRODUCTION_VALUES = ("prod", "production", "prd", "live")



@dataclass(frozen=True)
class CiVerdict:
    role: str  # "server" | "runner"
    reason: str


@lru_cache(maxsize=None)
def _whole_words(*words: str) -> re.Pattern:
    """Any of `words` (each possibly hyphenated) as a run of whole words: 'build' matches
    'build-server' and 'ci build', not 'rebuild'; 'build-node' also matches 'build_node'."""
    alternatives = ["[^a-z0-9]+".join(re.escape(part) for part in word.split("-")) for word in words]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")


def _contains_word(text: str, word: str) -> bool:
    return _whole_words(word).search(text.lower()) is not None


_PRODUCT_SUBSTRINGS = re.compile("|".join(
    re.escape(w).replace("\\-", "[-_]") for w in PRODUCT_WORDS if w not in WHOLE_WORD_PRODUCTS))


def _product_word(text: str) -> str | None:
    lowered = text.lower()
    found = [m.group(0).replace("_", "-") for m in _PRODUCT_SUBSTRINGS.finditer(lowered)]
    found += [m.group(0) for m in _whole_words(*sorted(WHOLE_WORD_PRODUCTS)).finditer(lowered)]
    # The catalogue's order decides between several words in one text.
    return min(found, key=PRODUCT_WORDS.index) if found else None


_ANY_WHOLE_WORD = _whole_words(*sorted(WHOLE_WORD_PRODUCTS), *GENERIC_WORDS)
_SUBSTRING_PRODUCTS = tuple(w for w in PRODUCT_WORDS if w not in WHOLE_WORD_PRODUCTS)
_WHOLE_WORDS = (*sorted(WHOLE_WORD_PRODUCTS), *GENERIC_WORDS)


def names_ci_word(lowered: str) -> bool:
    """Whether a lower-cased text holds a CI product word or a whole generic CI word: what
    _PRODUCT_SUBSTRINGS and _ANY_WHOLE_WORD find. Substring tests settle most texts before either
    pattern has to run."""
    hyphenated = lowered.replace("_", "-")  # product words match with - or _
    if any(word in hyphenated for word in _SUBSTRING_PRODUCTS):
        return True
    return any(word in lowered for word in _WHOLE_WORDS) and _ANY_WHOLE_WORD.search(lowered) is not None


def _has_runner_word(texts: Iterable[str]) -> bool:
    pattern = _whole_words(*RUNNER_FORMS)
    return any(pattern.search(t.lower()) for t in texts)


def classify_ci(node_id: str, name: str, tags: dict[str, str], *, image: str | None = None,
                autoscaling_group: str | None = None, managed_service: bool = False,
                in_network: bool = True, config: Config | None = None,
                network_tags: Iterable[str] = ()) -> CiVerdict | None:
    """The CI verdict for one compute node, or None; first matching rule wins.

    A managed build service is a runner when its words say CI, and by itself only when it runs in
    the customer's network (rule 4: a CodeBuild project with a VPC config)."""
    config = config or Config()
    if config.ci_exclude and config.excluded(node_id, name):
        return None
    # The image's own words count for the role only when the image is what says CI: a Jenkins
    # controller built from an image "with-cloudwatch-agent" is still a server.
    texts = [t for t in (name, autoscaling_group or "") if t]
    # Network tags (GCP) name what a node is to the firewall and routes: words like its name's.
    network_tags = list(network_tags)

    for selector in config.ci_nodes:
        if selector.matches(node_id, name, tags):
            role = selector.role or ("runner" if managed_service or _has_runner_word(texts + _tag_values(tags))
                                     else "server")
            return CiVerdict(role, selector.describe())

    every_text = "\n".join([name, autoscaling_group or "", image or "", *tags.keys(), *tags.values(),
                            *network_tags]).lower()
    if "ci-role" in every_text:  # every key of ROLE_TAG_KEYS holds it
        for key, value in tags.items():
            if key.lower() in ROLE_TAG_KEYS and value.strip().lower() in ("server", "runner"):
                return CiVerdict(value.strip().lower(), f"tag {key}={value}")

    # Most nodes are not CI: one pass over all their words settles those at once.
    if not names_ci_word(every_text):
        return CiVerdict("runner", "managed build service in a VPC") if managed_service and in_network else None

    tag_values = _tag_values(tags) + network_tags
    role = "runner" if managed_service or _has_runner_word(texts + tag_values) else "server"
    labelled = [("name", name), ("autoscaling group", autoscaling_group or ""), ("image", image or "")]
    labelled += [(f"tag {k}", v) for k, v in tags.items() if not k.lower().startswith("aws:")]
    labelled += [("tag key", k) for k in tags if not k.lower().startswith("aws:") and k.lower() not in ROLE_TAG_KEYS]
    labelled += [("network tag", t) for t in network_tags]
    for label, text in labelled:
        word = _product_word(text) if text else None
        if word:
            if label == "image" and _has_runner_word([text]):
                role = "runner"
            return CiVerdict(role, f"{label} {text!r} contains CI product word {word!r}")
    generic_sources = [("name", name), ("autoscaling group", autoscaling_group or "")]
    generic_sources += [(f"tag {k}", v) for k, v in tags.items() if not k.lower().startswith("aws:")]
    generic_sources += [("network tag", t) for t in network_tags]
    generic = _whole_words(*GENERIC_WORDS)
    for label, text in generic_sources:
        match = generic.search(text.lower()) if text else None
        if match:
            return CiVerdict(role, f"{label} {text!r} has the word {match.group(0)!r}")
    if managed_service and in_network:
        return CiVerdict("runner", "managed build service in a VPC")
    return None


def _tag_values(tags: dict[str, str]) -> list[str]:
    return [v for k, v in tags.items() if not k.lower().startswith("aws:") and v]


def production_reason(node_id: str, name: str, tags: dict[str, str], config: Config | None = None,
                      aliases: Iterable[str] = ()) -> str | None:
    """Why a node, account, project or subscription is production, or None."""
    config = config or Config()
    if node_id in config.production_ids or node_id in config.production_accounts:
        return "configuration names it"
    for pattern in config.production_names:
        if fnmatch.fnmatchcase(name.lower(), pattern.lower()):
            return f"configuration name pattern {pattern!r}"
    lowered = {k.lower(): v for k, v in tags.items()} if config.production_tags else {}
    for key, value in config.production_tags:
        if lowered.get(key.lower(), None) is not None and lowered[key.lower()].lower() == value.lower():
            return f"configuration tag {key}={value}"
    for key, value in tags.items():
        if key.lower() in PRODUCTION_TAG_KEYS and value.strip().lower() in PRODUCTION_VALUES:
            return f"tag {key}={value}"
    for alias in aliases:
        if _contains_word(alias, "prod"):
            return f"account alias {alias!r}"
    return None
