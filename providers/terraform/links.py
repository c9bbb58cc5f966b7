"""Resolving what a Terraform resource attribute points at.

A value known in the plan (a literal id, an ARN, a name, an existing object's id in prior_state or a
data source's id) is looked up among the known values of the other resources. A value Terraform
only learns at apply time is followed through the configuration's references instead: into the
resource's own module instance, up through `var.*` to the module call's inputs, down through
`module.*.output` into a child module, pairing `count.index`/`each.*` instances by key.
What neither way resolves is reported as unresolved by the caller, never read as "no link".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .load import TfDocument, TfResource, format_index

_INDEX_RE = re.compile(r"\[(\d+|\"(?:[^\"\\]|\\.)*\")\]")
_MODULE_STEP_RE = re.compile(r'module\.([A-Za-z0-9_-]+)((?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])?)')
_MISSING = object()

# Attributes (of any type) whose value identifies the object, for the value pass.
_IDENTIFYING_ATTRS = ("id", "arn", "name", "unique_id", "owner_id_name")
_MAX_DEPTH = 12


def is_expression(node: Any) -> bool:
    return isinstance(node, dict) and set(node) <= {"constant_value", "references"}


@dataclass
class Resolved:
    """What a reference led to: resource instances (address and attribute steps) and constants."""

    targets: list[tuple[TfResource, tuple[str, ...]]] = field(default_factory=list)
    constants: list[Any] = field(default_factory=list)
    dead_ends: list[str] = field(default_factory=list)


def split_module_instances(module_address: str) -> list[tuple[str, str]]:
    """'module.a[0].module.b' -> [('a', '[0]'), ('b', '')]."""
    return [(m.group(1), m.group(2)) for m in _MODULE_STEP_RE.finditer(module_address or "")]


def parse_index(text: str) -> Any:
    if text.startswith('"'):
        import json

        return json.loads(text)
    return int(text)


class Linker:
    """Reference resolution over one Terraform document."""

    def __init__(self, doc: TfDocument):
        self.doc = doc
        self.by_address: dict[str, TfResource] = {r.address: r for r in doc.resources}
        # (module instance address, config address) -> instances
        self.instances: dict[tuple[str, str], list[TfResource]] = {}
        self.module_instances: set[str] = {""}
        for r in doc.resources:
            self.instances.setdefault((r.module_address, r.config_address), []).append(r)
            steps = split_module_instances(r.module_address)
            acc = ""
            for name, key in steps:
                acc = f"{acc}.module.{name}{key}" if acc else f"module.{name}{key}"
                self.module_instances.add(acc)
        self.config_modules: dict[tuple[str, ...], dict] = {}
        if doc.configuration:
            self._index_config(doc.configuration.get("root_module") or {}, ())
        self.values: dict[str, list[TfResource]] = {}
        for r in doc.resources:
            for attr in _IDENTIFYING_ATTRS:
                v = r.values.get(attr)
                if isinstance(v, str) and v and not _is_unknown(r.unknown, (attr,)):
                    bucket = self.values.setdefault(v, [])
                    if r not in bucket:
                        bucket.append(r)

    # ---- configuration -------------------------------------------------------------------
    def _index_config(self, module: dict, path: tuple[str, ...]) -> None:
        self.config_modules[path] = module
        for name, call in (module.get("module_calls") or {}).items():
            self._index_config(call.get("module") or {}, path + (name,))

    @staticmethod
    def config_path_of(module_address: str) -> tuple[str, ...]:
        return tuple(name for name, _ in split_module_instances(module_address))

    def config_of(self, res: TfResource) -> dict | None:
        module = self.config_modules.get(self.config_path_of(res.module_address))
        if not module:
            return None
        for c in module.get("resources") or []:
            if c.get("address") == res.config_address:
                return c
        return None

    def module_call(self, module_address: str) -> tuple[dict, str] | None:
        """The module call that created module instance `module_address`, and the parent's address."""
        steps = split_module_instances(module_address)
        if not steps:
            return None
        parent = self.config_modules.get(tuple(n for n, _ in steps[:-1]))
        if parent is None:
            return None
        call = (parent.get("module_calls") or {}).get(steps[-1][0])
        if call is None:
            return None
        parent_addr = ".".join(f"module.{n}{k}" for n, k in steps[:-1])
        return call, parent_addr

    def expression(self, res: TfResource, path: Iterable[Any]) -> dict | None:
        """The configuration expression for attribute `path` of `res`.

        Nested blocks are walked per block; attributes written as blocks (inline `ingress`, `route`)
        have one expression for all their blocks, which is returned for any path below them.
        """
        conf = self.config_of(res)
        if conf is None:
            return None
        node: Any = conf.get("expressions") or {}
        for step in path:
            if is_expression(node):
                return node
            if isinstance(node, list):
                if isinstance(step, int) and step < len(node):
                    node = node[step]
                elif isinstance(step, int):
                    return None
                elif len(node) == 1:
                    node = node[0]
                else:
                    return None
                if isinstance(step, int):
                    continue
            if isinstance(node, dict) and not isinstance(step, int):
                if step not in node:
                    return None
                node = node[step]
            elif isinstance(step, int):
                continue
            else:
                return None
        if isinstance(node, list) and len(node) == 1 and is_expression(node[0]):
            node = node[0]
        return node if is_expression(node) else None

    @property
    def omits_inline_blocks(self) -> bool:
        """Whether the plan's configuration leaves out the blocks written for a list-of-objects
        attribute (inline `route`, `ingress`, `egress`): Terraform before 1.1 did
        (hashicorp/terraform#29022), so their absence there says nothing."""
        if self.doc.kind != "plan":
            return False
        version = re.match(r"(\d+)\.(\d+)", str(self.doc.terraform_version or ""))
        return bool(version) and (int(version.group(1)), int(version.group(2))) < (1, 1)

    def inline_config(self, res: TfResource, attr: str) -> tuple[str, Any]:
        """What the configuration says about the inline blocks of `attr`, as (shape, content):

        ("constant", [block values]) when every block is constant (Terraform >= 1.1 writes one
        constant for all of them); ("blocks", [block expressions]) when each block has its own
        expressions (true nested blocks); ("references", expression) when one expression stands
        for all the blocks and names only what they refer to (Terraform >= 1.1, some block refers
        to another object); ("none", None) when the configuration writes no such block; and
        ("unknown", None) when it cannot say (no configuration, or a Terraform that omitted them).
        `dynamic` blocks are never in the configuration.
        """
        conf = self.config_of(res)
        if conf is None:
            return "unknown", None
        node = (conf.get("expressions") or {}).get(attr)
        if node is None:
            return ("unknown", None) if self.omits_inline_blocks else ("none", None)
        if is_expression(node):
            if isinstance(node.get("constant_value"), list):
                return "constant", [b for b in node["constant_value"] if isinstance(b, dict)]
            if node.get("constant_value", "absent") is None:
                return "none", None
            if node.get("references"):
                return "references", node
            return "unknown", None
        if isinstance(node, dict):
            node = [node]
        if isinstance(node, list) and all(isinstance(b, dict) and not is_expression(b) for b in node):
            return "blocks", node
        return "unknown", None

    def has_expression(self, res: TfResource, attr: str) -> bool | None:
        """Whether the configuration sets `attr` (None when there is no configuration to say)."""
        conf = self.config_of(res)
        if conf is None:
            return None
        return attr in (conf.get("expressions") or {})

    # ---- references -----------------------------------------------------------------------
    def resolve_expression(self, expr: dict | None, module_address: str, key: Any, depth: int = 0) -> Resolved:
        out = Resolved()
        if not expr or depth > _MAX_DEPTH:
            return out
        if "constant_value" in expr:
            out.constants.append(expr["constant_value"])
            return out
        refs = [r for r in expr.get("references") or [] if isinstance(r, str)]
        paired = any(r == "count.index" or r.startswith("each.") for r in refs)
        # Terraform >= 1.0.1 lists each step of a reference; keep only the longest of each chain.
        longest = [r for r in refs if not any(o != r and (o.startswith(r + ".") or o.startswith(r + "[")) for o in refs)]
        for ref in longest:
            self._resolve_ref(ref, module_address, key if paired else None, out, depth)
        return out

    def _resolve_ref(self, ref: str, module_address: str, key: Any, out: Resolved, depth: int) -> None:
        parts = ref.split(".")
        head = parts[0]
        if head in ("count", "each", "path", "terraform", "self"):
            return
        if head == "local":
            out.dead_ends.append(ref)
            return
        if head == "var" and len(parts) >= 2:
            self._resolve_var(_strip_index(parts[1]), module_address, out, depth)
            return
        if head == "module" and len(parts) >= 3:
            name, idx = _name_and_index(parts[1])
            self._resolve_output(name, idx, parts[2], module_address, key, out, depth)
            return
        if head == "data" and len(parts) >= 3:
            type_, (name, idx), rest = parts[1], _name_and_index(parts[2]), parts[3:]
            self._resolve_resource(f"data.{type_}.{name}", idx, rest, module_address, key, out)
            return
        if len(parts) >= 2:
            name, idx = _name_and_index(parts[1])
            self._resolve_resource(f"{head}.{name}", idx, parts[2:], module_address, key, out)

    def _resolve_resource(self, config_address: str, idx: Any, rest: list[str], module_address: str,
                          key: Any, out: Resolved) -> None:
        insts = self.instances.get((module_address, config_address), [])
        if idx is not _MISSING:
            insts = [i for i in insts if i.index == idx]
        elif key is not None and any(i.index == key for i in insts):
            insts = [i for i in insts if i.index == key]
        steps = tuple(_strip_index(p) for p in rest)
        if not insts:
            out.dead_ends.append(f"{module_address + '.' if module_address else ''}{config_address}")
        for inst in insts:
            out.targets.append((inst, steps))

    def _resolve_var(self, name: str, module_address: str, out: Resolved, depth: int) -> None:
        if not module_address:
            var = (self.doc.variables or {}).get(name)
            if isinstance(var, dict) and "value" in var:
                out.constants.append(var["value"])
            else:
                out.dead_ends.append(f"var.{name}")
            return
        found = self.module_call(module_address)
        if found is None:
            out.dead_ends.append(f"{module_address}.var.{name}")
            return
        call, parent = found
        expr = (call.get("expressions") or {}).get(name)
        if not is_expression(expr):
            out.dead_ends.append(f"{module_address}.var.{name}")
            return
        steps = split_module_instances(module_address)
        key = parse_index(steps[-1][1][1:-1]) if steps[-1][1] else None
        sub = self.resolve_expression(expr, parent, key, depth + 1)
        _merge(out, sub)

    def _resolve_output(self, name: str, idx: Any, output: str, module_address: str, key: Any,
                        out: Resolved, depth: int) -> None:
        call_path = self.config_path_of(module_address) + (name,)
        child = self.config_modules.get(call_path)
        if child is None:
            out.dead_ends.append(f"module.{name}.{output}")
            return
        expr = ((child.get("outputs") or {}).get(output) or {}).get("expression")
        prefix = f"{module_address}.module.{name}" if module_address else f"module.{name}"
        depth_of = len(split_module_instances(prefix))
        instances = sorted(m for m in self.module_instances if m == prefix or (
            m.startswith(prefix + "[") and len(split_module_instances(m)) == depth_of))
        if idx is not _MISSING:
            instances = [m for m in instances if m == prefix + format_index(idx)]
        elif key is not None and prefix + format_index(key) in instances:
            instances = [prefix + format_index(key)]
        if not instances or not is_expression(expr):
            out.dead_ends.append(f"module.{name}.{output}")
            return
        for inst in instances:
            _merge(out, self.resolve_expression(expr, inst, None, depth + 1))

    # ---- linking an attribute to objects of expected types --------------------------------
    def lookup_value(self, value: Any, types: tuple[str, ...]) -> TfResource | None:
        if not isinstance(value, str):
            return None
        hits = [r for r in self.values.get(value, []) if r.type in types]
        if len(hits) == 1:
            return hits[0]
        managed = [r for r in hits if r.mode == "managed"]
        return managed[0] if len(managed) == 1 else (hits[0] if hits else None)

    def targets_from_config(self, res: TfResource, path: tuple, types: tuple[str, ...],
                            depth: int = 0) -> tuple[list[TfResource], list[Any], bool]:
        """Objects of `types` that the expression for `path` refers to, literal constants found on
        the way, and whether some reference could not be followed."""
        expr = self.expression(res, path)
        if expr is None:
            return [], [], True
        return self.targets_of_expression(expr, res, types, depth)

    def targets_of_expression(self, expr: dict, res: TfResource, types: tuple[str, ...],
                              depth: int = 0) -> tuple[list[TfResource], list[Any], bool]:
        """Objects of `types` that expression `expr`, written in `res`, refers to; literal
        constants found on the way; and whether some reference could not be followed."""
        resolved = self.resolve_expression(expr, res.module_address, res.index)
        found: list[TfResource] = []
        constants: list[Any] = []
        broken = bool(resolved.dead_ends)
        for target, steps in resolved.targets:
            if target.type in types:
                found.append(target)
            elif steps and depth < _MAX_DEPTH:
                # `aws_instance.x.subnet_id`: follow the other resource's own attribute.
                got, known = self.link(target, (steps[0],), types, depth + 1)
                found.extend(g for g in got if isinstance(g, TfResource))
                constants.extend(g for g in got if not isinstance(g, TfResource))
                broken = broken or not known
        for c in resolved.constants:
            for v in c if isinstance(c, list) else [c]:
                hit = self.lookup_value(v, types)
                if hit is not None:
                    found.append(hit)
                elif isinstance(v, str) and v:
                    constants.append(v)
        return _dedup(found), constants, broken

    def link(self, res: TfResource, path: tuple, types: tuple[str, ...], depth: int = 0) -> tuple[list, bool]:
        """Targets of attribute `path`: TfResource objects, or literal ids for objects outside the
        document. The flag is False when some part stayed unknown."""
        value, unknown = get_value(res, path)
        if not unknown:
            items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
            out: list = []
            for v in items:
                hit = self.lookup_value(v, types)
                out.append(hit if hit is not None else v)
            return _dedup(out), True
        known_items: list = []
        if isinstance(value, list):
            mask = unknown_mask(res, path)
            for i, v in enumerate(value):
                if not (isinstance(mask, list) and i < len(mask) and mask[i] is True) and v not in (None, ""):
                    hit = self.lookup_value(v, types)
                    known_items.append(hit if hit is not None else v)
        found, constants, broken = self.targets_from_config(res, path, types, depth)
        if not found and not constants:
            return _dedup(known_items), False
        return _dedup(known_items + found + constants), not broken


def _merge(out: Resolved, sub: Resolved) -> None:
    out.targets.extend(sub.targets)
    out.constants.extend(sub.constants)
    out.dead_ends.extend(sub.dead_ends)


def _dedup(items: list) -> list:
    seen = set()
    out = []
    for i in items:
        k = ("r", i.address) if isinstance(i, TfResource) else ("v", repr(i))
        if k not in seen:
            seen.add(k)
            out.append(i)
    return out


def _strip_index(text: str) -> str:
    return text.split("[", 1)[0]


def _name_and_index(text: str) -> tuple[str, Any]:
    m = _INDEX_RE.search(text)
    name = text.split("[", 1)[0]
    if not m:
        return name, _MISSING
    return name, parse_index(m.group(1))


def unknown_mask(res: TfResource, path: tuple) -> Any:
    node: Any = res.unknown
    for step in path:
        if node is True:
            return True
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict):
            node = node.get(step, False)
        else:
            return False
    return node


def _is_unknown(mask: Any, path: tuple) -> bool:
    node = mask
    for step in path:
        if node is True:
            return True
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step, False)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return _contains_true(node)


def _contains_true(node: Any) -> bool:
    if node is True:
        return True
    if isinstance(node, dict):
        return any(_contains_true(v) for v in node.values())
    if isinstance(node, list):
        return any(_contains_true(v) for v in node)
    return False


def get_value(res: TfResource, path: tuple) -> tuple[Any, bool]:
    """The value at `path` and whether any part of it is unknown until apply."""
    node: Any = res.values
    for step in path:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict):
            node = node.get(step)
        else:
            node = None
            break
    return node, _is_unknown(res.unknown, path)
