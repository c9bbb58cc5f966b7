"""The Terraform source: a plan or state (`terraform show -json`, or a raw .tfstate) read
(load.py), its references linked (links.py), its resources translated per cloud into the snapshot
parts a live provider makes (aws.py, finish.py), with source locations from the HCL (hcl.py).

    snapshots = load_terraform("plan.json")      # list of snapshot dicts (source "terraform")

This package is imported at every start of the CLI, to register `scan terraform`: what it
re-exports is imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_terraform", "translate_document", "TerraformInputError", "ASSIGNED_AT_APPLY"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import source

        return getattr(source, name)
    raise AttributeError(name)


def register_commands(app, scan_app) -> None:
    from .commands import register

    register(app, scan_app)
