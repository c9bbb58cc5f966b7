"""GCP workload identity federation: which CI platforms' tokens can become which service accounts.

A workload identity pool's OIDC provider accepts the tokens of one issuer, maps their claims to
attributes (`attributeMapping`: `google.subject = assertion.sub`, `attribute.repository =
assertion.repository`) and admits only those its `attributeCondition` (CEL) allows. A service
account's IAM policy then lets principals of the pool act as it: `roles/iam.workloadIdentityUser`
(or Token Creator) granted to `principalSet://iam.googleapis.com/projects/N/locations/global/
workloadIdentityPools/POOL/*` (every identity of the pool), `.../attribute.NAME/VALUE` (those whose
attribute has that value) or `principal://.../subject/SUBJECT` (one subject).

Both are read here into the neutral trust of guardrails/federation.py: each way the condition and
the binding's principal can hold together is one allow clause, each claim they test a condition on
that claim, which guardrails.federation.resolve_claims places in the subject of the issuer's CI
platform (here when the platform is a known one, in the analysis when the configuration adds the
issuer: a self-managed GitLab, GitHub Enterprise Server). The CEL forms pipelines
are scoped with are understood: `==`, `!=`, `in [...]`, `.startsWith(...)`, `&&`, `||`, `!` and
parentheses, over `assertion.*`, `attribute.*` and `google.subject`. Anything else is a condition
that could not be evaluated: the clause says so and its verdict is unknown, never "scoped".
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

from guardrails.federation import AUDIENCE_CLAIMS, MAX_CLAUSES, issuer_url, platform_of, resolve_claims

FEDERATION_ROLES = ("roles/iam.workloadIdentityUser", "roles/iam.serviceAccountTokenCreator")
_POOL = re.compile(r"^principal(?P<set>Set)?://iam\.googleapis\.com/(?P<pool>projects/[^/]+/locations/[^/]+/"
                   r"workloadIdentityPools/[^/]+)/(?P<rest>.+)$")


class CelError(ValueError):
    """An attribute condition this reader does not parse."""


# -- CEL, the forms trusts are written in ------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>==|!=|&&|\|\||[!()\[\],])|"""
                    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))""")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise CelError(f"cannot read {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@dataclass(frozen=True)
class Test:
    """One test of a claim: `ref` equal to one of `values`, or starting with one when `prefix`."""

    ref: str  # assertion.X, attribute.Y, google.subject
    values: tuple[str, ...]
    prefix: bool = False


class _Parser:
    """A recursive-descent reader of the CEL subset, into ("or"|"and", [...]), ("not", x),
    ("test", Test), ("const", bool) and ("unknown", text)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def parse(self):
        node = self._or()
        if self.pos != len(self.tokens):
            raise CelError(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def _peek(self, value: str | None = None) -> bool:
        return self.pos < len(self.tokens) and (value is None or self.tokens[self.pos][1] == value
                                                and self.tokens[self.pos][0] != "string")

    def _take(self, value: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens) or (value is not None and not self._peek(value)):
            raise CelError(f"expected {value or 'more'}")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _or(self):
        items = [self._and()]
        while self._peek("||"):
            self._take()
            items.append(self._and())
        return items[0] if len(items) == 1 else ("or", items)

    def _and(self):
        items = [self._unary()]
        while self._peek("&&"):
            self._take()
            items.append(self._unary())
        return items[0] if len(items) == 1 else ("and", items)

    def _unary(self):
        if self._peek("!"):
            self._take()
            return ("not", self._unary())
        if self._peek("("):
            self._take()
            node = self._or()
            self._take(")")
            return node
        return self._comparison()

    def _operand(self) -> tuple[str, Any]:
        kind, value = self._take()
        if kind == "string":
            return "string", value
        if kind == "name":
            if value in ("true", "false"):
                return "const", value == "true"
            if self._peek("("):  # a method call: ref.method(args)
                ref, _, method = value.rpartition(".")
                self._take("(")
                args = []
                while not self._peek(")"):
                    args.append(self._operand())
                    if self._peek(","):
                        self._take()
                self._take(")")
                return "call", (ref, method, args)
            return "ref", value
        if value == "[":
            items = []
            while not self._peek("]"):
                items.append(self._operand())
                if self._peek(","):
                    self._take()
            self._take("]")
            return "list", items
        raise CelError(f"unexpected {value!r}")

    def _comparison(self):
        start = self.pos
        left = self._operand()
        if self._peek("==") or self._peek("!=") or self._peek("in"):
            op = self._take()[1]
            right = self._operand()
            text = " ".join(t[1] if t[0] != "string" else repr(t[1]) for t in self.tokens[start:self.pos])
            return _compare(left, op, right, text)
        if left[0] == "const":
            return ("const", left[1])
        if left[0] == "call":
            ref, method, args = left[1]
            if method == "startsWith" and len(args) == 1 and args[0][0] == "string" and _is_ref(ref):
                return ("test", Test(ref, (args[0][1],), prefix=True))
        text = " ".join(t[1] if t[0] != "string" else repr(t[1]) for t in self.tokens[start:self.pos])
        return ("unknown", text)


def _is_ref(ref: str) -> bool:
    return ref.startswith(("assertion.", "attribute.")) or ref == "google.subject"


def _compare(left, op: str, right, text: str):
    if op == "in":
        if left[0] == "ref" and _is_ref(left[1]) and right[0] == "list" and all(i[0] == "string" for i in right[1]):
            return ("test", Test(left[1], tuple(i[1] for i in right[1])))
        return ("unknown", text)
    if right[0] == "ref" and left[0] == "string":
        left, right = right, left
    if left[0] == "ref" and _is_ref(left[1]) and right[0] == "string":
        test = ("test", Test(left[1], (right[1],)))
        return test if op == "==" else ("not", test)
    return ("unknown", text)


def parse_condition(text: str):
    """The attribute condition as a tree (see _Parser); CelError when it cannot be read."""
    return _Parser(text).parse()


def disjunction(node, negate: bool = False) -> list[list[tuple[str, Any, bool]]]:
    """The condition as ways it can hold (ORed), each a list of (kind, test or text, negated)
    literals that hold together (ANDed)."""
    kind = node[0]
    if kind == "not":
        return disjunction(node[1], not negate)
    if kind == "const":
        return [[]] if node[1] != negate else []
    if kind in ("test", "unknown"):
        return [[(kind, node[1], negate)]]
    parts = [disjunction(child, negate) for child in node[1]]
    if (kind == "or") != negate:
        return [way for part in parts for way in part]
    ways: list[list] = [[]]
    for part in parts:
        ways = [a + b for a, b in itertools.product(ways, part)]
        if len(ways) > MAX_CLAUSES:
            raise CelError(f"more than {MAX_CLAUSES} ways for the condition to hold")
    return ways


# -- into the neutral trust -------------------------------------------------------------------


def _claim_of(ref: str, mapping: dict) -> str | None:
    """The token claim an attribute stands for (`attribute.repository` -> `repository` when mapped
    from `assertion.repository`), or None when it is mapped from anything else."""
    if ref.startswith("assertion."):
        return ref.split(".", 1)[1]
    source = str(mapping.get(ref) or "").strip()
    match = re.fullmatch(r"assertion\.([A-Za-z_][A-Za-z0-9_]*)", source)
    return match.group(1) if match else None


def trust_clauses(literals: list[tuple[str, Any, bool]], platform, mapping: dict, statement: str,
                  extra_unknown: tuple[str, ...] = ()) -> list[dict]:
    """The allow clauses of one way the condition and the binding hold together. The tests are
    conditions on the token's claims (SubjectCondition `claim`); with the issuer's platform known
    they are placed in its subject (guardrails.federation.resolve_claims: one clause per choice of
    the values an `in` test lists), else left on the claims for the analysis to place once the
    configuration says which platform's tokens the issuer signs (a self-managed GitLab)."""
    unknown, conditions = list(extra_unknown), []
    for kind, value, negated in literals:
        if kind == "unknown":
            unknown.append(value if "known only after apply" in value else f"condition {value}")
            continue
        claim = _claim_of(value.ref, mapping)
        if claim in AUDIENCE_CLAIMS:
            continue
        mapped = f" (mapped from {mapping.get(value.ref)})" if value.ref in mapping else ""
        if claim is None:
            unknown.append(f"condition on {value.ref}{mapped}, which the "
                           f"{platform.title if platform else 'issuer'}'s subject does not carry")
            continue
        conditions.append({"claim": claim, "about": value.ref + mapped, "negated": negated,
                           "operator": "like" if value.prefix else "equals",
                           "values": [v + "*" if value.prefix else v for v in value.values]})
    clause = {"effect": "allow", "conditions": conditions, "unknown": unknown, "statement": statement}
    return resolve_claims(platform, [clause]) if platform else [clause]


def principal_tests(member: str) -> tuple[str, list[tuple[str, Any, bool]]] | None:
    """The pool a `principal://` or `principalSet://` member names, and what it admits of it."""
    match = _POOL.match(member)
    if not match:
        return None
    pool, rest = match.group("pool"), match.group("rest")
    if "known after apply" in rest:
        return pool, [("unknown", "which principals of the pool (known only after apply)", False)]
    if match.group("set"):
        if rest == "*":
            return pool, []
        name, _, value = rest.partition("/")
        if name.startswith("attribute.") and value:
            return pool, [("test", Test(name, (value,)), False)]
        if name == "group" and value:
            return pool, [("unknown", f"group {value} (google.groups)", False)]
        return pool, [("unknown", rest, False)]
    if rest.startswith("subject/"):
        return pool, [("test", Test("google.subject", (rest.split("/", 1)[1],)), False)]
    return pool, [("unknown", rest, False)]


def pool_key(name: str, numbers: dict[str, str]) -> str:
    """A pool's name with its project as its number (bindings name pools by project number)."""
    parts = name.split("/")
    if len(parts) > 1 and parts[0] == "projects":
        parts[1] = numbers.get(parts[1], parts[1])
    return "/".join(parts)


def add_federations(contexts: list) -> None:
    """Issuer nodes for the pools' providers, and a `federates` edge from each to every service
    account that principals of its pool may act as."""
    if not contexts:
        return
    graph = contexts[0].graph
    numbers: dict[str, str] = {}
    for ctx in contexts:
        number = str((ctx.snap.get("project") or {}).get("name") or "").rpartition("/")[2]
        if number:
            numbers[ctx.project] = number
    providers_of: dict[str, list[dict]] = {}
    for ctx in contexts:
        iam = ctx.snap.get("iam") or {}
        for pool in iam.get("workloadIdentityPools") or []:
            key = pool_key(str(pool.get("name") or ""), numbers)
            providers_of.setdefault(key, [])
            if pool.get("disabled") or pool.get("state") == "DELETED":
                continue  # a disabled pool exchanges no token
            for provider in pool.get("providers") or []:
                issuer = (provider.get("oidc") or {}).get("issuerUri")
                name = provider.get("name")
                if not name or not issuer or provider.get("disabled") or provider.get("state") == "DELETED":
                    continue
                url = issuer_url(issuer)
                if not graph.has(name):
                    graph.add_node(name, "issuer", name=url, url=url,
                                   audiences=list((provider.get("oidc") or {}).get("allowedAudiences") or []),
                                   raw={"pool": pool.get("name"), "attributeMapping": provider.get("attributeMapping"),
                                        "attributeCondition": provider.get("attributeCondition")},
                                   **ctx.base(provider))
                providers_of[key].append(provider)
    pools_listed = {ctx.project for ctx in contexts if "workloadIdentityPools" in (ctx.snap.get("iam") or {})}
    pending: dict[tuple[str, str], dict] = {}  # (provider, account) -> its edge's attributes
    for ctx in contexts:
        iam = ctx.snap.get("iam") or {}
        for entry in iam.get("serviceAccountPolicies") or []:
            account = str(entry.get("resource") or "").rsplit("/", 1)[-1]
            if not graph.has(account):
                continue
            for binding in (entry.get("policy") or {}).get("bindings") or []:
                if binding.get("role") not in FEDERATION_ROLES:
                    continue
                for member in binding.get("members") or []:
                    found = principal_tests(str(member))
                    if found is None:
                        continue
                    pool, tests = found
                    key = pool_key(pool, numbers)
                    if key not in providers_of:
                        project = pool.split("/")[1]
                        listed = pools_listed | {numbers.get(p, p) for p in pools_listed}
                        why = ("it was not found among its project's pools" if project in listed
                               else "its project's pools were not listed")
                        ctx.gap(f"workload identity pool {pool} of service account {account}",
                                f"{binding.get('role')} is granted to {member}, but the pool was not collected "
                                f"({why}): which CI platforms can become the account is unknown")
                        continue
                    for provider in providers_of[key]:
                        _federate(ctx, provider, account, binding, str(member), tests, pending)
    for (name, account), attrs in pending.items():
        attrs["statement"] = attrs["statement"] if attrs.get("unknown") else json.dumps(
            json.loads(attrs["statement"]) | {"bindings": attrs.pop("bindings")}, separators=(",", ":"), sort_keys=True)
        attrs.pop("bindings", None)
        graph.add_edge(name, account, "federates", **attrs)


def _federate(ctx, provider: dict, account: str, binding: dict, member: str, tests: list, pending: dict) -> None:
    name = provider["name"]
    url = ctx.graph.node(name).get("url")
    # An issuer the configuration adds (a self-managed GitLab) is not known here: its trust stays on
    # the claims, placed in the subject by the analysis, which reads the configuration.
    found = platform_of(url)
    platform = found.platform if found else None
    mapping = dict(provider.get("attributeMapping") or {})
    condition = provider.get("attributeCondition")
    granted = {"role": binding.get("role"), "member": member,
               **({"condition": binding["condition"]} if binding.get("condition") else {})}
    statement = json.dumps({"provider": name, "issuer": url, "attributeCondition": condition,
                            "attributeMapping": mapping}, separators=(",", ":"), sort_keys=True)
    entry = pending.setdefault((name, account), {
        "trust": [], "statement": statement, "bindings": [],
        "via": f"workload identity provider {name.rsplit('/', 1)[-1]}: {binding.get('role')} on {account} to {member}"})
    entry["bindings"].append(granted)
    if entry.get("unknown"):
        return
    if provider.get("_unknown"):
        entry["unknown"] = f"the provider's {', '.join(provider['_unknown'])} known only after apply"
        entry["trust"] = []
        return
    extra = ()
    if binding.get("condition"):
        cond = binding["condition"]
        extra = (f"IAM condition {cond.get('title') or cond.get('expression')} on the binding",)
    try:
        ways = disjunction(parse_condition(condition)) if condition else [[]]
    except CelError as exc:
        if found:
            ctx.gap(f"attribute condition of workload identity provider {name}",
                    f"{condition!r} could not be evaluated ({exc}): who can become {account} is unknown")
        entry["unknown"] = f"the attribute condition could not be read ({exc})"
        entry["trust"] = []
        return
    clauses = [clause for way in ways for clause in
               trust_clauses(way + tests, platform, mapping, f"{condition or 'no attribute condition'}; {member}", extra)]
    for clause in clauses:
        if clause["unknown"] and found:
            ctx.gap(f"federation of service account {account}",
                    f"{'; '.join(clause['unknown'])} could not be evaluated: who can become it through {url} is unknown")
    entry["trust"].extend(clauses)


def iter_keys(snap: dict) -> Iterator[tuple[str, list[dict] | None]]:
    """(service account, its user-managed keys as AccessKey records, or None when not listed)."""
    iam = snap.get("iam") or {}
    if "serviceAccountKeys" not in iam:
        return
    for entry in iam.get("serviceAccountKeys") or []:
        keys = entry.get("keys")
        yield entry.get("serviceAccount"), None if keys is None else [
            {"id": str(k.get("name") or "").rsplit("/", 1)[-1], "status": "inactive" if k.get("disabled") else "active",
             "created": k.get("validAfterTime"), "last_used": None, "last_used_service": None,
             "kind": "service account key", "usage_known": False}
            for k in keys if k.get("keyType", "USER_MANAGED") == "USER_MANAGED"]
