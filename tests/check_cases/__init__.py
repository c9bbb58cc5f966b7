"""Pass/fail tables of the checks: one file per check, named by its id (`ci-imds-v1.py`), holding
CASES, a list of Case. tests/test_check_cases.py runs every case through the real analysis and the
real check; tests/test_check_catalogue.py requires every check to have a case where it fires and
one where it stays silent."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from estate_builder import EstateBuilder

from guardrails.config import Config

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One row of a check's table: an estate, and the findings the check makes on it.

    `fires` maps each resource the check reports to the finding's severity; empty, the check stays
    silent on this estate."""

    name: str
    build: Callable[[], EstateBuilder]
    fires: dict[str, str] = field(default_factory=dict)
    config: Config | None = None


def cases_by_check() -> dict[str, list[Case]]:
    """Every table of the folder, by check id (the file's name)."""
    tables = {}
    for path in sorted(FOLDER.glob("ci-*.py")):
        spec = importlib.util.spec_from_file_location(f"check_cases.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tables[path.stem] = list(module.CASES)
    return tables
