"""The check registry: one decorated function per check, its metadata beside it."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from guardrails.analysis.reachability import Step
from guardrails.severity import Severity  # noqa: F401 - checks import it from here with `check`


@dataclass(frozen=True)
class Result:
    """What a check yields for one CI node; the registry adds the check's metadata."""

    resource: str
    message: str
    path: tuple[Step, ...] = ()
    ports: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # when the catalogue's severity depends on the node
    # What the verdict rests on that was not collected, or is known only after apply: a finding
    # with unknowns is possible, not confirmed (findings `confidence: unknown`).
    unknowns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    stride: tuple[str, ...]
    owasp_cicd: tuple[str, ...]
    remediation: str
    run: Callable[..., Iterator[Result]]
    # The facts the check's verdict on a CI node rests on (analysis.coverage.FACETS): where one
    # of them was not collected for a node the check is silent on, the finding is reported as
    # unknown instead of being left out. Checks that judge unknowns themselves name none.
    needs: tuple[str, ...] = ()
    # When a finding's severity differs from the catalogue's (`Result.severity`): in words, for
    # `guardrails checks` and the catalogue, e.g. "high when the node is reachable from the internet".
    severity_note: str = ""
    # Controls the check evidences where a benchmark names one: CIS Foundations Benchmark
    # recommendations ("AWS Foundations v3.0.0 5.2") and NIST SP 800-53 controls ("SP 800-53 SC-7").
    cis: tuple[str, ...] = ()
    nist: tuple[str, ...] = ()


CHECKS_PACKAGE = "guardrails.checks"

_REGISTRY: dict[str, Check] = {}


def check(*, id: str, title: str, severity: Severity, stride: tuple[str, ...], owasp_cicd: tuple[str, ...],
          remediation: str, needs: tuple[str, ...] = (), severity_note: str = "", cis: tuple[str, ...] = (),
          nist: tuple[str, ...] = ()) -> Callable:
    def register(func: Callable[..., Iterator[Result]]) -> Callable[..., Iterator[Result]]:
        if id in _REGISTRY and _REGISTRY[id].run is not func:
            raise ValueError(f"check id {id!r} registered twice")
        _REGISTRY[id] = Check(id, title, severity, tuple(stride), tuple(owasp_cicd), remediation, func, tuple(needs),
                              severity_note, tuple(cis), tuple(nist))
        return func
    return register


def all_checks() -> list[Check]:
    """Every registered check, importing every module of guardrails.checks once."""
    # By name, as the provider registry imports providers: the core sits below the checks.
    package = importlib.import_module(CHECKS_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda c: (c.severity.rank, c.id))
