"""The layering declared as import contracts in pyproject.toml ([tool.importlinter]), run by
lint-imports over the source laid out as it installs, and shown to fail when an import breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
CONTRACTS = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lay_out_as_installed(target: Path) -> Path:
    """Copy the source into `target` as setuptools installs it (providers/ as guardrails/providers,
    checks/ as guardrails/checks). lint-imports finds a package's modules by walking its folder, and an
    editable install keeps those two folders outside guardrails/: they would be missing from the graph."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package, folder in sorted(SETUPTOOLS["package-dir"].items(), key=lambda item: item[0].count(".")):
        shutil.copytree(ROOT / folder, target.joinpath(*package.split(".")), ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", target)  # where lint-imports looks for its contracts
    return target


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess:
    """lint-imports over `tree`, which comes first on the path, with the contracts of its pyproject.toml."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *selected],
                          capture_output=True, text=True, cwd=tree, env=env, timeout=120)


@pytest.fixture(scope="module")
def installed_tree(tmp_path_factory) -> Path:
    return lay_out_as_installed(tmp_path_factory.mktemp("installed"))


def test_every_contract_is_kept(installed_tree):
    result = lint_imports(installed_tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


# One import per contract that breaks it, added to a copy of the tree.
BREAKS = [
    ("core-imports-no-provider-or-check", "guardrails/pipeline.py", "from guardrails.providers.aws import normalize"),
    ("core-imports-no-provider-or-check", "guardrails/reports/sarif.py", "import guardrails.checks.exposure"),
    ("checks-import-no-provider", "guardrails/checks/hygiene.py", "from guardrails.providers.aws import replies"),
    ("providers-import-no-check", "guardrails/providers/terraform/load.py", "import guardrails.checks.privilege"),
    ("no-cycle-between-top-level-modules", "guardrails/severity.py", "import guardrails.commands"),
]


@pytest.mark.parametrize("contract, module, line", BREAKS, ids=[f"{c}:{m}" for c, m, _ in BREAKS])
def test_an_import_that_breaks_a_contract_fails(tmp_path, contract, module, line):
    tree = lay_out_as_installed(tmp_path)
    with (tree / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{line}\n")
    result = lint_imports(tree, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACTS[contract]['name']} BROKEN" in result.stdout


def _children(folder: Path) -> set[str]:
    """The importable modules and packages directly inside a folder."""
    return {p.stem for p in folder.iterdir()
            if p.suffix == ".py" and p.stem != "__init__" or (p / "__init__.py").is_file()}


def test_the_core_contract_names_every_core_module(installed_tree):
    core = _children(installed_tree / "guardrails") - {"providers", "checks"}
    declared = {name.removeprefix("guardrails.") for name in CONTRACTS["core-imports-no-provider-or-check"]["source_modules"]}
    assert declared == core, "list every top-level core module in the contract's source_modules in pyproject.toml"


def test_the_distribution_lists_every_package(installed_tree):
    packages = {".".join(init.parent.relative_to(installed_tree).parts) for init in installed_tree.rglob("__init__.py")}
    assert set(SETUPTOOLS["packages"]) == packages, "name every package in [tool.setuptools] packages in pyproject.toml"
