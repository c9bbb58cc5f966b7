"""GCP service accounts: their nodes, the bindings that name them, and the power those give.

A service account's power is every IAM binding that names it (`serviceAccount:EMAIL`): on its
project, on the folders and organization above (inherited), and on other service accounts (whose
own IAM policy says who may act as them). Normalization gathers them on the identity node
(`managed_policies`, one per binding, with the role's permissions when known); the evaluator reads
them the way IAM does:
- `roles/owner` or `roles/editor` on a project, folder or organization: administrator;
- changing IAM policy (`*.setIamPolicy` on a project, folder, organization or a more powerful
  service account), creating a key for or acting as (`actAs`) a more powerful service account:
  escalation;
- minting its tokens (`getAccessToken`, `signBlob`, `signJwt`, `implicitDelegation`: Token
  Creator) on a service account, or on the project that holds it: impersonation, followed as a
  role assumption, so a chain into a powerful account is reported with the chain;
- any role above viewer on a production project (directly or from a folder or organization above).
"""

from __future__ import annotations

from typing import Any, Mapping

from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import (CONFIRMED, POWER_RANK, UNKNOWN, Escalation, Hop, IdentityPower,
                                       ProductionAccess)
from guardrails.schema import NOT_COLLECTED

from .federation import iter_keys

ADMIN_ROLES = ("roles/owner", "roles/editor")
IMPERSONATION = ("iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt",
                 "iam.serviceAccounts.implicitDelegation", "iam.serviceAccounts.getOpenIdToken")
TAKEOVER = ("iam.serviceAccounts.actAs", "iam.serviceAccountKeys.create", "iam.serviceAccounts.setIamPolicy")
SET_POLICY = ("resourcemanager.projects.setIamPolicy", "resourcemanager.folders.setIamPolicy",
              "resourcemanager.organizations.setIamPolicy")
# What predefined roles hold of the above, for when their permissions were not collected.
KNOWN_ROLES = {
    "roles/iam.serviceAccountTokenCreator": ("iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.signBlob",
                                             "iam.serviceAccounts.signJwt", "iam.serviceAccounts.implicitDelegation",
                                             "iam.serviceAccounts.getOpenIdToken"),
    "roles/iam.serviceAccountUser": ("iam.serviceAccounts.actAs",),
    "roles/iam.serviceAccountKeyAdmin": ("iam.serviceAccountKeys.create",),
    "roles/iam.serviceAccountAdmin": ("iam.serviceAccounts.setIamPolicy",),
    "roles/iam.securityAdmin": ("resourcemanager.projects.setIamPolicy", "iam.serviceAccounts.setIamPolicy"),
    "roles/resourcemanager.projectIamAdmin": ("resourcemanager.projects.setIamPolicy",),
    "roles/resourcemanager.folderIamAdmin": ("resourcemanager.folders.setIamPolicy",),
    "roles/resourcemanager.organizationAdmin": ("resourcemanager.organizations.setIamPolicy",),
    "roles/iam.workloadIdentityUser": ("iam.serviceAccounts.getAccessToken",),
    # Basic roles: what a token limited to some APIs by its access scopes still reaches of them.
    "roles/editor": ("compute.instances.create", "compute.instances.setMetadata", "iam.serviceAccounts.actAs",
                     "storage.objects.create"),
    "roles/owner": ("compute.instances.create", "compute.instances.setMetadata", "iam.serviceAccounts.actAs",
                    "storage.objects.create", "resourcemanager.projects.setIamPolicy"),
}
READ_VERBS = ("get", "list", "getIamPolicy", "search", "query", "read", "export", "view")

# Access scopes: a VM's metadata server hands out tokens limited to its scopes, whatever IAM grants
# the service account. The services each scope opens, by permission prefix (a read-only scope
# opens only reads); cloud-platform opens every API.
FULL_SCOPE = "cloud-platform"
SCOPE_SERVICES = {"compute": ("compute.", "iam.serviceAccounts.actAs"), "iam": ("iam.",),
                  "devstorage.full_control": ("storage.",), "devstorage.read_write": ("storage.",),
                  "sqlservice.admin": ("cloudsql.",), "ndev.clouddns.readwrite": ("dns.",), "pubsub": ("pubsub.",),
                  "cloudkms": ("cloudkms.",), "bigquery": ("bigquery.",), "source.full_control": ("source.",),
                  "cloud-platform.read-only": (), "compute.readonly": (), "devstorage.read_only": ()}


def scope_names(scopes) -> tuple[str, ...]:
    """Scopes as their short names (`cloud-platform`), sorted."""
    return tuple(sorted({str(s).rstrip("/").rsplit("/", 1)[-1] for s in scopes or ()}))


def scopes_limit(scopes) -> bool:
    """Whether access scopes keep a VM's token from part of its service account's power."""
    return FULL_SCOPE not in scope_names(scopes)


def _scope_allows(scopes: tuple[str, ...], permission: str) -> bool:
    verb = permission.rsplit(".", 1)[-1]
    for scope in scopes:
        prefixes = SCOPE_SERVICES.get(scope)
        if prefixes is None:  # another API's scope: its service is the scope's first word
            prefixes = () if scope.endswith(("readonly", "read_only", ".read", "write")) or "." in scope \
                else (scope.split(".")[0] + ".",)
        if any(permission.startswith(p) for p in prefixes):
            return True
    return verb in READ_VERBS or verb.startswith(("get", "list"))


def _scope_kind(resource: str) -> str:
    if "/serviceAccounts/" in resource:
        return "service_account"
    return resource.split("/", 1)[0]


def add_identities(contexts: list) -> None:
    """Service account nodes of every snapshot, with the bindings that name them."""
    if not contexts:
        return
    graph: EstateGraph = contexts[0].graph
    permissions: dict[str, list[str]] = {}
    for ctx in contexts:
        iam = ctx.snap.get("iam") or {}
        for role in (iam.get("roles") or []) + (iam.get("customRoles") or []):
            if role.get("name") and not role.get("deleted"):
                permissions[role["name"]] = list(role.get("includedPermissions") or [])
    below: dict[str, list[str]] = {}  # a folder or organization -> the scanned projects beneath it
    for ctx in contexts:
        for ancestor in ctx.snap.get("ancestors") or []:
            below.setdefault(ancestor.get("resource"), []).append(ctx.project)
    for ctx in contexts:
        for account in (ctx.snap.get("iam") or {}).get("serviceAccounts") or []:
            email = account.get("email")
            if not email or graph.has(email):
                continue
            graph.add_node(email, "identity", name=email, identity_type="service_account", arn=email,
                           raw={"displayName": account.get("displayName"), "disabled": bool(account.get("disabled")),
                                "uniqueId": account.get("uniqueId")},
                           trust_policy=None, managed_policies=[], inline_policies=[], boundary=None,
                           provider="gcp", account=account.get("projectId") or ctx.project, region=None)
            if graph.has(ctx.project):
                graph.add_edge(ctx.project, email, "contains")
        keys = dict(iter_keys(ctx.snap))
        listed = "serviceAccountKeys" in (ctx.snap.get("iam") or {})
        for account in (ctx.snap.get("iam") or {}).get("serviceAccounts") or []:
            email = account.get("email")
            if not email or not graph.has(email) or graph.node(email).get("access_keys"):
                continue
            found = keys.get(email)
            if found is not None:
                graph.node(email).attrs["access_keys"] = found
            elif listed or ctx.snap.get("source", "gcp") == "gcp":
                unknown = graph.node(email).attrs.setdefault("unknown", {})
                unknown.setdefault("access_keys", NOT_COLLECTED)
    seen: set[tuple] = set()
    for ctx in contexts:
        iam = ctx.snap.get("iam") or {}
        policies = list(ctx.snap.get("iam_policies") or []) + list(iam.get("serviceAccountPolicies") or [])
        for entry in policies:
            resource = entry.get("resource") or ""
            kind = _scope_kind(resource)
            if kind == "service_account":
                target = resource.rsplit("/", 1)[-1]
                if graph.has(target):
                    graph.node(target).attrs["trust_policy"] = entry.get("policy")
            for binding in (entry.get("policy") or {}).get("bindings") or []:
                role = binding.get("role") or ""
                for member in binding.get("members") or []:
                    if not member.startswith("serviceAccount:"):
                        continue
                    email = member.split(":", 1)[1]
                    key = (email, role, resource)
                    if key in seen or not graph.has(email):
                        continue
                    seen.add(key)
                    covers = [resource.split("/")[1]] if kind == "projects" else below.get(resource, [])
                    graph.node(email).attrs["managed_policies"].append({
                        "name": f"{role} on {resource}", "arn": role,
                        "document": {"role": role, "resource": resource, "scope": kind,
                                     "permissions": permissions.get(role), "projects": covers,
                                     "condition": binding.get("condition")}})


def _permissions(document: dict) -> tuple[list[str], bool]:
    """The role's permissions, and whether they are known (collected, or known for the role)."""
    if document.get("permissions") is not None:
        return document["permissions"], True
    known = KNOWN_ROLES.get(document.get("role") or "")
    return (list(known), False) if known is not None else ([], False)


def _above_viewer(document: dict) -> bool:
    role = document.get("role") or ""
    if role in ("roles/viewer", "roles/browser", "roles/iam.securityReviewer") or role.endswith(".viewer"):
        return False
    perms, known = _permissions(document)
    if known:
        return any(p.rsplit(".", 1)[-1] not in READ_VERBS and not p.rsplit(".", 1)[-1].startswith(("get", "list"))
                   for p in perms)
    return True  # an unknown role: taken to change things


class GcpIdentities:
    """The GCP evaluator of identity power (guardrails/identity_facts.py)."""

    def __init__(self, graph: EstateGraph, production: Mapping[str, str], config: Any) -> None:
        self.graph, self.production = graph, production
        self._done: dict[str, IdentityPower] = {}
        self._accounts_of: dict[str, list[str]] | None = None

    def _project_accounts(self, project: str) -> list[str]:
        if self._accounts_of is None:
            self._accounts_of = {}
            for node in self.graph.nodes("identity"):
                if node.get("provider") == "gcp" and not node.get("stands_for"):
                    self._accounts_of.setdefault(node.get("account") or "", []).append(node.id)
        return sorted(self._accounts_of.get(project, []))

    def evaluate(self, identity: Node) -> IdentityPower:
        found = self._done.get(identity.id)
        if found is None:
            self._done[identity.id] = IdentityPower()  # a cycle of grants stops here
            found = self._done[identity.id] = self._evaluate(identity)
        return found

    def _rank(self, email: str) -> int:
        return POWER_RANK[self.evaluate(self.graph.node(email)).power] if self.graph.has(email) else 0

    def _evaluate(self, identity: Node) -> IdentityPower:
        admin, admin_confidence = None, CONFIRMED
        escalations: list[Escalation] = []
        hops: dict[str, Hop] = {}
        production: dict[str, ProductionAccess] = {}
        unknown: list[str] = []
        writes = False
        grants = identity.get("managed_policies") or []
        scopes = None
        account = identity.get("stands_for")
        if account and self.graph.has(account):  # a VM's token of the account, limited by its scopes
            scopes = scope_names((identity.get("raw") or {}).get("scopes"))
            grants = self.graph.node(account).get("managed_policies") or []
        member = account or identity.id
        for grant in grants:
            doc = grant.get("document") or {}
            role, resource, scope = doc.get("role") or "", doc.get("resource") or "", doc.get("scope")
            proof = f"binding {role} on {resource} to serviceAccount:{member}"
            confidence = CONFIRMED
            if doc.get("condition"):
                # An IAM condition (time, resource name, request attributes) is not evaluated: what the
                # binding grants is possible, never certain.
                condition = doc["condition"].get("title") or doc["condition"].get("expression")
                proof += f" (only under IAM condition {condition}, not evaluated)"
                confidence = UNKNOWN
            perms, known = _permissions(doc)
            if scopes is not None:
                perms = [p for p in perms if _scope_allows(scopes, p)]
                proof += f", through a token limited to scopes {', '.join(scopes) or 'none'}"
            if not known and role.startswith(("projects/", "organizations/")):
                unknown.append(f"permissions of custom role {role} not collected")
            if scope in ("projects", "folders", "organizations"):
                if role in ADMIN_ROLES and scopes is None and (admin is None or admin_confidence == UNKNOWN):
                    admin, admin_confidence = proof, confidence
                if _above_viewer(doc) if scopes is None else _above_viewer({**doc, "permissions": perms}):
                    writes = True
                    for project in doc.get("projects") or []:
                        if project in self.production and project not in production:
                            if confidence == UNKNOWN:
                                unknown.append(f"{proof}: possibly above viewer on production project {project}")
                                continue
                            production[project] = ProductionAccess(project, f"{proof}: above viewer on production "
                                                                            f"project {project} ({self.production[project]})")
                changes_policy = [p for p in perms if p in SET_POLICY or p.endswith(".setIamPolicy") and
                                  p.startswith("resourcemanager.")]
                if changes_policy:
                    escalations.append(Escalation(f"set the IAM policy of {resource}", tuple(changes_policy[:3]),
                                                  tuple(proof for _ in changes_policy[:3]), confidence))
                impersonate = [p for p in perms if p in IMPERSONATION]
                takeover = [p for p in perms if p in TAKEOVER]
                if impersonate or takeover:
                    for project in doc.get("projects") or []:
                        for other in self._project_accounts(project):
                            self._over_account(identity, other, impersonate, takeover, proof, hops, escalations,
                                               confidence, member)
            elif scope == "service_account":
                target = resource.rsplit("/", 1)[-1]
                impersonate = [p for p in perms if p in IMPERSONATION]
                takeover = [p for p in perms if p in TAKEOVER]
                self._over_account(identity, target, impersonate, takeover, proof, hops, escalations, confidence,
                                   member)
        if admin and admin_confidence == UNKNOWN and any(e.confidence == CONFIRMED for e in escalations):
            admin = None  # certain escalation beats possible administrator power
        power = "admin" if admin else "escalate" if escalations else "write" if writes else "read" if grants else "none"
        return IdentityPower(power=power, admin=admin, escalations=() if admin else tuple(escalations),
                             assumes=tuple(hops.values()), production=tuple(production.values()),
                             unknown=tuple(dict.fromkeys(unknown)), admin_confidence=admin_confidence)

    def _over_account(self, identity: Node, other: str, impersonate: list[str], takeover: list[str], proof: str,
                      hops: dict[str, Hop], escalations: list[Escalation], confidence: str = CONFIRMED,
                      member: str | None = None) -> None:
        if other in (identity.id, member) or not self.graph.has(other):
            return
        if impersonate and (other not in hops or hops[other].confidence == UNKNOWN):
            hops[other] = Hop(identity.id, other, f"impersonation ({', '.join(impersonate[:2])}): {proof}",
                              confidence=confidence)
        if takeover and not impersonate and self._rank(other) >= POWER_RANK["escalate"]:
            escalations.append(Escalation(f"take over service account {other}", tuple(takeover[:3]),
                                          tuple(proof for _ in takeover[:3]), confidence))


def evaluator(graph: EstateGraph, production: Mapping[str, str], config: Any) -> GcpIdentities:
    return GcpIdentities(graph, production, config)


__all__ = ["GcpIdentities", "add_identities", "evaluator"]
