"""Reading Terraform plan and state JSON into one flat list of resource instances.

Three inputs are understood: `terraform show -json` of a saved plan, `terraform show -json` of a
state, and a raw `.tfstate` (version 4). Each becomes a `TfDocument` whose `resources` are the
objects that exist once the plan is applied (or exist now, for a state), with their values and,
for a plan, the mask of values Terraform only learns at apply time.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrails.errors import UserError

DEFAULT_MAX_MB = 150
MAX_MB_ENV = "GUARDRAILS_MAX_TERRAFORM_MB"
SUPPORTED_MAJOR_FORMATS = ("0", "1")
EXPECTED = (
    "a Terraform plan or state as JSON (`terraform show -json plan.out`, `terraform show -json`, "
    "or a terraform.tfstate of version 4)"
)
CANDIDATE_SUFFIXES = (".json", ".tfstate")


class TerraformInputError(UserError, ValueError):
    """The Terraform input cannot be read; the message is one line for the user."""


@dataclass
class TfResource:
    address: str
    module_address: str  # "" for the root module, else e.g. 'module.ci[0].module.net'
    mode: str  # "managed" or "data"
    type: str
    name: str
    index: Any  # None, an int (count) or a str (for_each)
    values: dict
    unknown: Any = field(default_factory=dict)  # after_unknown mask (plans only)
    action: str = "state"  # create, update, no-op, read, replace, state
    provider_config_key: str | None = None

    @property
    def config_address(self) -> str:
        """Module-relative address without instance key, as `configuration` names it."""
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass
class TfDocument:
    path: Path
    kind: str  # "plan", "state" or "tfstate"
    terraform_version: str | None
    resources: list[TfResource]
    configuration: dict | None
    variables: dict


def find_input_file(path: str | Path) -> Path:
    """The one plan or state file at PATH (a file, or a directory holding exactly one)."""
    p = Path(path)
    if not p.exists():
        raise TerraformInputError(f"{p}: no such file or directory")
    if p.is_file():
        return p
    candidates = sorted(
        c for c in p.iterdir()
        if c.is_file() and c.name.endswith(CANDIDATE_SUFFIXES) and not c.name.startswith(".")
        and c.name != "expected.json" and _looks_like_terraform(c)
    )
    if not candidates:
        raise TerraformInputError(f"{p}: no plan or state JSON found in this directory; expected {EXPECTED}")
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise TerraformInputError(f"{p}: several plan/state files found ({names}); name the one to scan")
    return candidates[0]


def _looks_like_terraform(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return any(k in head for k in (b'"format_version"', b'"terraform_version"', b'"resources"'))


def max_bytes() -> int:
    raw = os.environ.get(MAX_MB_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_MB * 1024 * 1024
    try:
        mb = float(raw)
    except ValueError:
        raise TerraformInputError(f"{MAX_MB_ENV}={raw!r} is not a number of megabytes") from None
    if mb <= 0:
        raise TerraformInputError(f"{MAX_MB_ENV}={raw!r} must be a positive number of megabytes")
    return int(mb * 1024 * 1024)


def read_document(path: str | Path) -> TfDocument:
    file = find_input_file(path)
    size = file.stat().st_size
    limit = max_bytes()
    if size > limit:
        raise TerraformInputError(
            f"{file}: {size / 1048576:.0f} MB is above the {limit / 1048576:.0f} MB limit for Terraform "
            f"input; set {MAX_MB_ENV} to a larger number of megabytes to read it anyway"
        )
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise TerraformInputError(f"{file}: not UTF-8 text; expected {EXPECTED}") from None
    except OSError as e:
        raise TerraformInputError(f"{file}: cannot read: {e.strerror or e}") from None
    try:
        data = json.loads(text)
    except RecursionError:  # the parser recurses once per level: a nesting bomb, not a plan
        raise TerraformInputError(f"{file}: JSON nested too deeply to read; expected {EXPECTED}") from None
    except json.JSONDecodeError as e:
        truncated = not text.strip() or e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated")
        what = "truncated or empty JSON" if truncated else "invalid JSON"
        raise TerraformInputError(
            f"{file}: {what} ({e.msg} at line {e.lineno} column {e.colno}); expected {EXPECTED}"
        ) from None
    return parse_document(data, file)


def parse_document(data: Any, file: Path) -> TfDocument:
    if not isinstance(data, dict):
        raise TerraformInputError(f"{file}: top-level JSON {type(data).__name__} found; expected {EXPECTED}")
    if "format_version" in data:
        _check_format_version(data["format_version"], file)
        if any(k in data for k in ("resource_changes", "planned_values", "configuration")) and "values" not in data:
            return _parse_plan(data, file)
        if "values" in data or set(data) <= {"format_version", "terraform_version"}:
            return _parse_state_json(data, file)
        raise TerraformInputError(f"{file}: JSON with format_version but neither plan nor state content; expected {EXPECTED}")
    if "version" in data and "resources" in data or data.get("version") is not None and "lineage" in data:
        version = data.get("version")
        if version != 4:
            raise TerraformInputError(
                f"{file}: raw state version {version!r} is not supported (Terraform 0.12+ writes version 4); "
                "run `terraform show -json` on it or upgrade it with a current Terraform"
            )
        return _parse_raw_state(data, file)
    raise TerraformInputError(f"{file}: not a Terraform plan or state; expected {EXPECTED}")


def _check_format_version(value: Any, file: Path) -> None:
    text = str(value)
    major = text.split(".", 1)[0]
    if not re.fullmatch(r"\d+(\.\d+)*", text) or major not in SUPPORTED_MAJOR_FORMATS:
        raise TerraformInputError(
            f"{file}: format_version {text!r} is not supported (this version reads JSON format 0.x and 1.x, "
            "Terraform 0.12 to 1.x)"
        )


def _action(actions: list[str]) -> str | None:
    """The state of the object after apply, or None when it does not exist afterwards."""
    acts = list(actions or [])
    if acts in (["delete"], ["forget"], ["delete", "forget"]):
        return None
    if "create" in acts and "delete" in acts:
        return "replace"
    if len(acts) == 1:
        return acts[0]
    return "update"


def _parse_plan(data: dict, file: Path) -> TfDocument:
    resources: list[TfResource] = []
    seen: set[str] = set()
    for rc in data.get("resource_changes") or []:
        if not isinstance(rc, dict) or rc.get("deposed"):
            continue
        change = rc.get("change") or {}
        action = _action(change.get("actions") or [])
        if action is None:
            continue
        after = change.get("after")
        if not isinstance(after, dict):
            continue
        unknown = change.get("after_unknown")
        resources.append(TfResource(
            address=rc["address"],
            module_address=rc.get("module_address") or "",
            mode=rc.get("mode", "managed"),
            type=rc["type"],
            name=rc["name"],
            index=rc.get("index"),
            values=after,
            unknown=unknown if isinstance(unknown, dict) else {},
            action=action,
        ))
        seen.add(rc["address"])
    # Objects read at plan time (data sources) and unchanged ones a plan may not list.
    prior = (data.get("prior_state") or {}).get("values") or {}
    deleted = {rc.get("address") for rc in data.get("resource_changes") or []
               if isinstance(rc, dict) and _action((rc.get("change") or {}).get("actions") or []) is None}
    for res in _walk_module_values(prior.get("root_module") or {}, ""):
        if res.address not in seen and res.address not in deleted:
            res.action = "no-op"
            resources.append(res)
            seen.add(res.address)
    return TfDocument(
        path=file, kind="plan", terraform_version=data.get("terraform_version"), resources=resources,
        configuration=data.get("configuration") if isinstance(data.get("configuration"), dict) else None,
        variables=data.get("variables") or {},
    )


def _parse_state_json(data: dict, file: Path) -> TfDocument:
    values = data.get("values") or {}
    resources = list(_walk_module_values(values.get("root_module") or {}, ""))
    return TfDocument(path=file, kind="state", terraform_version=data.get("terraform_version"),
                      resources=resources, configuration=None, variables={})


def _walk_module_values(module: dict, module_address: str):
    module_address = module.get("address") or module_address
    for r in module.get("resources") or []:
        if not isinstance(r, dict) or r.get("deposed_key"):
            continue
        address = r.get("address") or ""
        # Terraform 0.12 writes child module resources with module-relative addresses.
        if module_address and not address.startswith(module_address + "."):
            address = f"{module_address}.{address}"
        yield TfResource(
            address=address, module_address=module_address, mode=r.get("mode", "managed"),
            type=r.get("type", ""), name=r.get("name", ""), index=r.get("index"),
            values=r.get("values") if isinstance(r.get("values"), dict) else {},
        )
    for child in module.get("child_modules") or []:
        yield from _walk_module_values(child, child.get("address") or module_address)


def _parse_raw_state(data: dict, file: Path) -> TfDocument:
    resources = []
    for r in data.get("resources") or []:
        if not isinstance(r, dict):
            continue
        module = r.get("module") or ""
        mode = r.get("mode", "managed")
        base = f"{'data.' if mode == 'data' else ''}{r.get('type')}.{r.get('name')}"
        if module:
            base = f"{module}.{base}"
        for inst in r.get("instances") or []:
            if inst.get("deposed"):
                continue
            key = inst.get("index_key")
            resources.append(TfResource(
                address=base + format_index(key), module_address=module, mode=mode,
                type=r.get("type", ""), name=r.get("name", ""), index=key,
                values=inst.get("attributes") if isinstance(inst.get("attributes"), dict) else {},
            ))
    return TfDocument(path=file, kind="tfstate", terraform_version=data.get("terraform_version"),
                      resources=resources, configuration=None, variables={})


def format_index(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return "[" + json.dumps(key) + "]"
