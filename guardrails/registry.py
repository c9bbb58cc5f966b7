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


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    stride: tuple[str, ...]
    owasp_cicd: tuple[str, ...]
    remediation: str
    run: Callable[..., Iterator[Result]]


CHECKS_PACKAGE = "guardrails.checks"

_REGISTRY: dict[str, Check] = {}


def check(*, id: str, title: str, severity: Severity, stride: tuple[str, ...], owasp_cicd: tuple[str, ...],
          remediation: str) -> Callable:
    def register(func: Callable[..., Iterator[Result]]) -> Callable[..., Iterator[Result]]:
        if id in _REGISTRY and _REGISTRY[id].run is not func:
            raise ValueError(f"check id {id!r} registered twice")
        _REGISTRY[id] = Check(id, title, severity, tuple(stride), tuple(owasp_cicd), remediation, func)
        return func
    return register


def all_checks() -> list[Check]:
    """Every registered check, importing every module of guardrails.checks once."""
    # By name, as the provider registry imports providers: the core sits below the checks.
    package = importlib.import_module(CHECKS_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda c: (c.severity.rank, c.id))
