"""`guardrails scan terraform`. Light at import: the CLI imports this module at every start."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from guardrails import commands as common
from guardrails.commands import (ALLOW_GAPS_OPT, CONFIG_OPT, FAIL_ON_OPT, FORMAT_OPT, OUTPUT_OPT, QUIET_OPT,
                                 VERBOSE_OPT, WORKERS_OPT, FailOn, Format)


def scan_terraform(
    path: Path = typer.Argument(..., help="A `terraform show -json` plan or state, a raw .tfstate, or a directory "
                                          "holding one."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
    allow_gaps: bool = ALLOW_GAPS_OPT, verbose: bool = VERBOSE_OPT,
) -> None:
    """Scan a Terraform plan or state before (or after) it is applied."""
    from . import load_terraform
    from .load import find_input_file

    config = common.load_config(config_path)
    common.check_files({"--output": output}, {"Terraform input": find_input_file(path)}, config)
    started = common.started()
    common.no_more_collections()
    snapshots = load_terraform(path)  # bad input raises a UserError naming the file
    common.scan_and_finish(snapshots, config, fmt, output, quiet, fail_on, workers, started, allow_gaps,
                           verbose=verbose)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("terraform")(scan_terraform)
