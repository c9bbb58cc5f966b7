"""Where a Terraform resource is written: file and line range of its block in the .tf sources.

Best effort without an HCL parser: find `resource "TYPE" "NAME" {` (or `data`) in the *.tf files of
the module's directory, then match braces while skipping strings, template interpolations,
heredocs and comments.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_HEREDOC = re.compile(r"<<-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


def block_end(text: str, open_brace: int) -> int | None:
    """Index of the brace closing the block opened at `open_brace`, or None."""
    i, n = open_brace + 1, len(text)
    stack = ["code"]  # code | string | interp; the depth of each code level in `depths`
    depths = [1]
    while i < n:
        c = text[i]
        mode = stack[-1]
        if mode == "string":
            if c == "\\":
                i += 2
                continue
            if c == '"':
                stack.pop()
                depths.pop()
            elif c in "$%" and text.startswith("{", i + 1) and not text.startswith(c * 2, i - 1):
                stack.append("interp")
                depths.append(1)
                i += 1
            i += 1
            continue
        if c == '"':
            stack.append("string")
            depths.append(0)
        elif c == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif text.startswith("<<", i):
            nl = text.find("\n", i)
            m = _HEREDOC.match(text[i:nl if nl >= 0 else n])
            if m:
                marker = m.group(1)
                j = nl + 1
                while 0 < j < n:
                    line_end = text.find("\n", j)
                    line = text[j:line_end if line_end >= 0 else n]
                    if line.strip() == marker:
                        i = line_end if line_end >= 0 else n
                        break
                    j = line_end + 1 if line_end >= 0 else n
                else:
                    return None
                continue
        elif c == "{":
            depths[-1] += 1
        elif c == "}":
            depths[-1] -= 1
            if depths[-1] == 0:
                if len(stack) == 1:
                    return i
                stack.pop()
                depths.pop()
        i += 1
    return None


def find_block(directory: Path, mode: str, type_: str, name: str, base: Path) -> dict | None:
    """Where the block of the resource is: {"uri", "start_line", "end_line"}, or None."""
    found = _find_block(directory, mode, type_, name, base)
    return found[0] if found else None


def _find_block(directory: Path, mode: str, type_: str, name: str, base: Path) -> tuple[dict, str] | None:
    keyword = "data" if mode == "data" else "resource"
    pattern = re.compile(
        rf'^[ \t]*{keyword}[ \t]+"?{re.escape(type_)}"?[ \t]+"?{re.escape(name)}"?[ \t]*\{{', re.MULTILINE)
    try:
        files = sorted(directory.glob("*.tf"))
    except OSError:
        return None
    for f in files:
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        m = pattern.search(text)
        if not m:
            continue
        end = block_end(text, m.end() - 1)
        start_line = text.count("\n", 0, m.start()) + 1
        end_line = text.count("\n", 0, end) + 1 if end is not None else start_line
        try:
            uri = f.relative_to(base).as_posix()
        except ValueError:
            uri = f.as_posix()
        return {"uri": uri, "start_line": start_line, "end_line": end_line}, text[m.start():(end or m.end()) + 1]
    return None


class SourceLocator:
    """Maps module paths (call names) to directories, starting from the plan's directory."""

    def __init__(self, root: Path, configuration: dict | None):
        self.root = root
        self.dirs: dict[tuple[str, ...], Path] = {(): root}
        installed = self._installed_modules(root)
        if configuration:
            self._walk(configuration.get("root_module") or {}, (), root, installed)
        self.cache: dict[tuple, tuple[dict, str] | None] = {}

    @staticmethod
    def _installed_modules(root: Path) -> dict[str, Path]:
        manifest = root / ".terraform" / "modules" / "modules.json"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        out = {}
        for m in data.get("Modules") or []:
            if isinstance(m, dict) and m.get("Key") and m.get("Dir"):
                out[m["Key"]] = root / m["Dir"]
        return out

    def _walk(self, module: dict, path: tuple[str, ...], directory: Path, installed: dict) -> None:
        for name, call in (module.get("module_calls") or {}).items():
            child = path + (name,)
            source = call.get("source") or ""
            if child and ".".join(child) in installed:
                d = installed[".".join(child)]
            elif source.startswith(("./", "../")):
                d = (directory / source).resolve()
            else:
                continue
            self.dirs[child] = d
            self._walk(call.get("module") or {}, child, d, installed)

    def locate(self, module_path: tuple[str, ...], mode: str, type_: str, name: str) -> dict | None:
        found = self._block(module_path, mode, type_, name)
        return found[0] if found else None

    def has_dynamic_block(self, module_path: tuple[str, ...], mode: str, type_: str, name: str,
                          block_type: str) -> bool | None:
        """Whether the resource's source writes a `dynamic "BLOCK_TYPE"` block (None when its
        source is not found): the plan's configuration never holds those."""
        found = self._block(module_path, mode, type_, name)
        if not found:
            return None
        return re.search(rf'^[ \t]*dynamic[ \t]+"?{re.escape(block_type)}"?[ \t]*\{{', found[1], re.MULTILINE) is not None

    def _block(self, module_path: tuple[str, ...], mode: str, type_: str, name: str) -> tuple[dict, str] | None:
        key = (module_path, mode, type_, name)
        if key not in self.cache:
            d = self.dirs.get(module_path)
            self.cache[key] = _find_block(d, mode, type_, name, self.root) if d and d.is_dir() else None
        return self.cache[key]
