"""The configuration file: CI node selectors, what is production, limits and suppressions.

Read from `--config FILE`, else `guardrails.toml` in the working directory, else
`[tool.guardrails]` of a `pyproject.toml` there. Every key is validated; a wrong one is named in a
one-line error.

    [[ci.nodes]]                 # nodes that are CI, whatever their names say
    name = "build-*"             # one of: id, name (glob), tag ("key=value" or "key")
    role = "runner"              # server | runner (default: from the CI words, else server)

    [ci]
    exclude = ["i-0abc"]         # ids or name globs that are never CI
    key_max_age_days = 90        # a CI identity's stored key older than this is high severity

    [[ci.issuers]]               # token issuers of CI platforms beyond the hosted ones
    url = "gitlab.example.com"   # the issuer URL (a self-managed GitLab, a GitHub Enterprise Server)
    platform = "gitlab"          # whose subjects its tokens carry: github, gitlab, terraform_cloud,
                                 # buildkite, circleci, bitbucket, azure_devops

    [[ci.identities]]            # identities that are a pipeline's, whatever their names say
    name = "deploy-bot"          # one of: id, name (glob), tag ("key=value" or "key")

    [production]
    accounts = ["111122223333"]  # account, project or subscription ids
    ids = []                     # node ids
    names = ["*-prod-*"]         # name globs
    tags = ["team=payments"]     # "key=value" pairs that mark production

    [runners]
    max_age_days = 7

    [[suppress]]
    check = "ci-imds-v1"         # a known check id, or "*"
    resource = "i-0abc"          # resource id or glob
    reason = "legacy, replaced in Q1"
    expires = "2027-01-31"       # optional; an expired suppression no longer applies, and
                                 # every report notes that it expired
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrails.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class CiSelector:
    kind: str  # "id" | "name" | "tag"
    value: str
    role: str | None = None

    def matches(self, node_id: str, name: str, tags: dict[str, str]) -> bool:
        if self.kind == "id":
            return node_id == self.value
        if self.kind == "name":
            return fnmatch.fnmatchcase(name.lower(), self.value.lower())
        key, _, value = self.value.partition("=")
        lowered = {k.lower(): v for k, v in tags.items()}
        if key.lower() not in lowered:
            return False
        return not value or lowered[key.lower()].lower() == value.lower()

    def describe(self) -> str:
        return f"configuration names it ({self.kind} {self.value!r})"


@dataclass(frozen=True)
class Suppression:
    check: str
    resource: str
    reason: str
    expires: str | None = None
    by: str | None = None  # who decided; the audit history records it with the decision

    def applies(self, check_id: str, resource_id: str, today: dt.date) -> bool:
        if self.expired(today):
            return False
        return (self.check in ("*", check_id)) and fnmatch.fnmatchcase(resource_id, self.resource)

    def expired(self, today: dt.date) -> bool:
        """Past its expiry date (it still holds on that day)."""
        return bool(self.expires) and dt.date.fromisoformat(self.expires) < today


@dataclass(frozen=True)
class Config:
    ci_nodes: tuple[CiSelector, ...] = ()
    ci_exclude: tuple[str, ...] = ()
    ci_identities: tuple[CiSelector, ...] = ()
    ci_issuers: tuple[tuple[str, str], ...] = ()  # (issuer URL, platform key)
    key_max_age_days: float = 90
    production_accounts: frozenset[str] = frozenset()
    production_ids: frozenset[str] = frozenset()
    production_names: tuple[str, ...] = ()
    production_tags: tuple[tuple[str, str], ...] = ()
    runner_max_age_days: float = 7
    suppressions: tuple[Suppression, ...] = ()
    path: str | None = None

    def excluded(self, node_id: str, name: str) -> bool:
        return any(node_id == p or fnmatch.fnmatchcase(name.lower(), p.lower()) for p in self.ci_exclude)


_SCHEMA: dict[str, dict[str, Any]] = {
    "ci": {"nodes": list, "exclude": list, "identities": list, "issuers": list, "key_max_age_days": (int, float)},
    "production": {"accounts": list, "ids": list, "names": list, "tags": list},
    "runners": {"max_age_days": (int, float)},
    "suppress": {},
}


def _fail(where: str, message: str) -> UserError:
    return UserError(f"{where}: {message}")


def parse(data: dict, where: str = "configuration") -> Config:
    for key in data:
        if key not in _SCHEMA:
            raise _fail(where, f"unknown key {key!r} (expected one of: {', '.join(_SCHEMA)})")
    kwargs: dict[str, Any] = {}
    for section in ("ci", "production", "runners"):
        value = data.get(section, {})
        if not isinstance(value, dict):
            raise _fail(where, f"{section!r} must be a table")
        for key, val in value.items():
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise _fail(where, f"unknown key '{section}.{key}' (expected one of: {', '.join(_SCHEMA[section])})")
            if not isinstance(val, expected) or isinstance(val, bool):
                raise _fail(where, f"'{section}.{key}' has the wrong type ({type(val).__name__})")
    ci = data.get("ci", {})
    selectors = []
    for n, entry in enumerate(ci.get("nodes", [])):
        key = f"ci.nodes[{n}]"
        if not isinstance(entry, dict):
            raise _fail(where, f"'{key}' must be a table with id, name or tag")
        unknown = set(entry) - {"id", "name", "tag", "role"}
        if unknown:
            raise _fail(where, f"unknown key '{key}.{sorted(unknown)[0]}' (expected id, name, tag, role)")
        given = [k for k in ("id", "name", "tag") if k in entry]
        if len(given) != 1:
            raise _fail(where, f"'{key}' needs exactly one of id, name, tag")
        role = entry.get("role")
        if role not in (None, "server", "runner"):
            raise _fail(where, f"'{key}.role' must be 'server' or 'runner', not {role!r}")
        value = entry[given[0]]
        if not isinstance(value, str) or not value:
            raise _fail(where, f"'{key}.{given[0]}' must be a non-empty string")
        selectors.append(CiSelector(given[0], value, role))
    kwargs["ci_nodes"] = tuple(selectors)
    kwargs["ci_identities"] = tuple(_identity_selectors(ci.get("identities", []), where))
    kwargs["ci_issuers"] = tuple(_issuers(ci.get("issuers", []), where))
    key_age = ci.get("key_max_age_days", 90)
    if key_age <= 0:
        raise _fail(where, "'ci.key_max_age_days' must be positive")
    kwargs["key_max_age_days"] = float(key_age)
    kwargs["ci_exclude"] = tuple(_strings(ci.get("exclude", []), where, "ci.exclude"))
    prod = data.get("production", {})
    kwargs["production_accounts"] = frozenset(_strings(prod.get("accounts", []), where, "production.accounts"))
    kwargs["production_ids"] = frozenset(_strings(prod.get("ids", []), where, "production.ids"))
    kwargs["production_names"] = tuple(_strings(prod.get("names", []), where, "production.names"))
    tags = []
    for text in _strings(prod.get("tags", []), where, "production.tags"):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise _fail(where, f"'production.tags' entries are \"key=value\", not {text!r}")
        tags.append((key, value))
    kwargs["production_tags"] = tuple(tags)
    age = data.get("runners", {}).get("max_age_days", 7)
    if age <= 0:
        raise _fail(where, "'runners.max_age_days' must be positive")
    kwargs["runner_max_age_days"] = float(age)
    kwargs["suppressions"] = tuple(_suppressions(data.get("suppress", []), where))
    return Config(**kwargs)


def _identity_selectors(entries: list, where: str) -> list[CiSelector]:
    out = []
    for n, entry in enumerate(entries):
        key = f"ci.identities[{n}]"
        if not isinstance(entry, dict):
            raise _fail(where, f"'{key}' must be a table with id, name or tag")
        unknown = set(entry) - {"id", "name", "tag"}
        if unknown:
            raise _fail(where, f"unknown key '{key}.{sorted(unknown)[0]}' (expected id, name, tag)")
        given = [k for k in ("id", "name", "tag") if k in entry]
        if len(given) != 1:
            raise _fail(where, f"'{key}' needs exactly one of id, name, tag")
        value = entry[given[0]]
        if not isinstance(value, str) or not value:
            raise _fail(where, f"'{key}.{given[0]}' must be a non-empty string")
        out.append(CiSelector(given[0], value))
    return out


def _issuers(entries: list, where: str) -> list[tuple[str, str]]:
    from guardrails.federation import PLATFORMS

    out = []
    for n, entry in enumerate(entries):
        key = f"ci.issuers[{n}]"
        if not isinstance(entry, dict):
            raise _fail(where, f"'{key}' must be a table with url and platform")
        unknown = set(entry) - {"url", "platform"}
        if unknown:
            raise _fail(where, f"unknown key '{key}.{sorted(unknown)[0]}' (expected url, platform)")
        url, platform = entry.get("url"), entry.get("platform")
        if not isinstance(url, str) or not url.strip():
            raise _fail(where, f"'{key}.url' is required (a non-empty string)")
        if platform not in PLATFORMS:
            raise _fail(where, f"'{key}.platform' must be one of {', '.join(PLATFORMS)}, not {platform!r}")
        out.append((url.strip(), platform))
    return out


def _strings(values: list, where: str, key: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise _fail(where, f"'{key}' must be a list of strings")
    return list(values)


def _suppressions(entries: Any, where: str) -> list[Suppression]:
    if not isinstance(entries, list):
        raise _fail(where, "'suppress' must be an array of tables ([[suppress]])")
    out = []
    for n, entry in enumerate(entries):
        key = f"suppress[{n}]"
        if not isinstance(entry, dict):
            raise _fail(where, f"'{key}' must be a table")
        unknown = set(entry) - {"check", "resource", "reason", "expires", "by"}
        if unknown:
            raise _fail(where, f"unknown key '{key}.{sorted(unknown)[0]}' (expected check, resource, reason, expires, "
                               f"by)")
        if "by" in entry and (not isinstance(entry["by"], str) or not entry["by"]):
            raise _fail(where, f"'{key}.by' must be a non-empty string (who decided)")
        for required in ("check", "resource", "reason"):
            if not isinstance(entry.get(required), str) or not entry[required]:
                raise _fail(where, f"'{key}.{required}' is required (a non-empty string)")
        expires = entry.get("expires")
        if isinstance(expires, dt.date):
            expires = expires.isoformat()
        if expires is not None:
            try:
                dt.date.fromisoformat(str(expires))
            except ValueError:
                raise _fail(where, f"'{key}.expires' must be a date like 2027-01-31, not {expires!r}") from None
        out.append(Suppression(entry["check"], entry["resource"], entry["reason"], str(expires) if expires else None,
                               entry.get("by")))
    return out


def check_suppressed_checks(config: Config, known: set[str]) -> None:
    """Refuse a suppression naming no known check (nor "*"): a misspelt id would suppress nothing,
    and say nothing about it. The caller names the known checks (the registry imports the analysis,
    which reads this module)."""
    where = config.path or "configuration"
    for n, suppression in enumerate(config.suppressions):
        if suppression.check not in known and suppression.check != "*":
            raise _fail(where, f"'suppress[{n}].check' names no known check: {suppression.check!r} "
                               f"(`guardrails checks` lists them; \"*\" means every check)")


# Notes about the configuration start with this, so that reports can show them apart from what
# was assumed about the estate.
CONFIGURATION_NOTE = "Configuration"


def expired_suppressions(config: Config, today: dt.date) -> list[str]:
    """A note for each suppression whose expiry date has passed: it no longer suppresses anything,
    and every report says so, so that the findings it used to hide are not taken for new ones."""
    where = f" {config.path}" if config.path else ""
    return [f"{CONFIGURATION_NOTE}{where}: suppress[{n}] ({s.check} on {s.resource}) expired on {s.expires} "
            f"and no longer applies (reason given: {s.reason})"
            for n, s in enumerate(config.suppressions) if s.expired(today)]


def load(path: str | Path | None = None, cwd: Path | None = None) -> Config:
    """The configuration from an explicit file, else guardrails.toml or pyproject.toml in cwd."""
    cwd = cwd or Path.cwd()
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise UserError(f"{file}: configuration file not found")
        data = _read(file)
        if file.name == "pyproject.toml":
            data = data.get("tool", {}).get("guardrails", {})
        return _with_path(parse(data, str(file)), file)
    default = cwd / "guardrails.toml"
    if default.is_file():
        return _with_path(parse(_read(default), str(default)), default)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        section = _read(pyproject).get("tool", {}).get("guardrails")
        if section is not None:
            return _with_path(parse(section, f"{pyproject} [tool.guardrails]"), pyproject)
    return Config()


def _read(file: Path) -> dict:
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{file}: not valid TOML ({exc})") from None
    except RecursionError:  # the parser recurses once per level: a nesting bomb
        raise UserError(f"{file}: not valid TOML (nested too deeply to read)") from None
    except OSError as exc:
        raise UserError(f"{file}: cannot read ({exc.strerror})") from None


def _with_path(config: Config, file: Path) -> Config:
    return Config(**{**config.__dict__, "path": str(file)})


__all__ = ["Config", "CiSelector", "Suppression", "expired_suppressions", "load", "parse", "field"]
