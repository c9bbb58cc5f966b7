"""The benchmark's modules (bench/ is scripts, not a package), loaded once for every test that uses them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):
    sys.path.insert(0, str(BENCH))  # run.py imports its sibling generate.py, as when run as a script
    try:
        spec = importlib.util.spec_from_file_location(f"guardrails_bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


generator = _load("generate")
bench = _load("run")
