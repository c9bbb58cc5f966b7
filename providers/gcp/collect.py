"""GCP collection: the only module that talks to Google Cloud. Read-only, paged, fail-closed.

Every client goes through `ReadOnly`, which refuses any method but get/list/aggregatedList/
getIamPolicy, and IAM's REST calls through `ReadOnlySession`, which refuses anything but GET and
`:getIamPolicy`. Compute uses google-cloud-compute (one aggregated call per resource type where the
API has one), projects, folders and their IAM policies google-cloud-resource-manager over REST, and
service accounts, their IAM policies and role definitions IAM's REST API through google-auth's
authorized session (the IAM admin client library speaks gRPC only). Each reply is kept in the REST
API's own JSON shape. A denied or failed call is a coverage gap naming the call; the rest goes on.

Endpoints follow gcloud's override variables (CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE,
..._CLOUDRESOURCEMANAGER, ..._IAM), so a scan can run against an emulator or a recording server.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from typing import Any, Callable, Iterable

from guardrails.snapshot import FORMAT, VERSION

READ_METHODS = re.compile(r"^(get|list|aggregated_list|get_iam_policy|search)(_|$)")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform.read-only"]
DEFAULTS = {"compute": "https://compute.googleapis.com", "cloudresourcemanager": "https://cloudresourcemanager.googleapis.com",
            "iam": "https://iam.googleapis.com"}

# snapshot list -> (client class, aggregated, the scoped list's field)
AGGREGATED = {
    "instances": ("InstancesClient", "instances"), "disks": ("DisksClient", "disks"),
    "instanceGroupManagers": ("InstanceGroupManagersClient", "instance_group_managers"),
    "instanceTemplates": ("InstanceTemplatesClient", "instance_templates"),
    "instanceGroups": ("InstanceGroupsClient", "instance_groups"),
    "subnetworks": ("SubnetworksClient", "subnetworks"), "addresses": ("AddressesClient", "addresses"),
    "forwardingRules": ("ForwardingRulesClient", "forwarding_rules"),
    "backendServices": ("BackendServicesClient", "backend_services"),
    "targetPools": ("TargetPoolsClient", "target_pools"), "routers": ("RoutersClient", "routers"),
    "urlMaps": ("UrlMapsClient", "url_maps"), "targetHttpProxies": ("TargetHttpProxiesClient", "target_http_proxies"),
    "targetHttpsProxies": ("TargetHttpsProxiesClient", "target_https_proxies"),
}
GLOBAL = {
    "networks": "NetworksClient", "firewalls": "FirewallsClient", "routes": "RoutesClient",
    "globalAddresses": "GlobalAddressesClient", "globalForwardingRules": "GlobalForwardingRulesClient",
    "targetTcpProxies": "TargetTcpProxiesClient", "targetSslProxies": "TargetSslProxiesClient",
    "networkFirewallPolicies": "NetworkFirewallPoliciesClient",
}


class ReadOnlyError(RuntimeError):
    """A call that could change the cloud: never made."""


class TimedOut(RuntimeError):
    """The scan's --timeout passed before this call: not made, a coverage gap."""

    def __init__(self) -> None:
        super().__init__("collection timed out")


class Deadline:
    """When collection stops (`--timeout`): calls after it are not made."""

    def __init__(self, seconds: float | None) -> None:
        self.at = time.monotonic() + seconds if seconds else None

    def check(self) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise TimedOut()


class ReadOnly:
    """A client whose only callable methods are reads (get, list, aggregatedList, getIamPolicy),
    none of them made once the deadline has passed."""

    def __init__(self, client: Any, deadline: Deadline | None = None) -> None:
        self._client = client
        self._deadline = deadline or Deadline(None)

    def __getattr__(self, name: str) -> Any:
        if not READ_METHODS.match(name):
            raise ReadOnlyError(f"{type(self._client).__name__}.{name} is not a read; refused")
        self._deadline.check()
        return getattr(self._client, name)


def endpoint(service: str, environ: dict | None = None) -> str:
    """The API's base address: gcloud's override variable when set (its version path dropped: the
    client libraries add their own), else Google's."""
    environ = os.environ if environ is None else environ
    value = environ.get(f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{service.upper()}")
    if not value:
        return DEFAULTS[service]
    value = value.rstrip("/")
    value = re.sub(r"/(compute/)?v\d[a-z0-9]*$", "", value)
    return value


def credentials(environ: dict | None = None):
    """GOOGLE_OAUTH_ACCESS_TOKEN when set (as Terraform's google provider reads it), else
    Application Default Credentials."""
    environ = os.environ if environ is None else environ
    token = environ.get("GOOGLE_OAUTH_ACCESS_TOKEN")
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token)
    import google.auth

    found, _ = google.auth.default(scopes=SCOPES)
    return found


def _as_dict(message: Any) -> dict:
    """A reply element in the REST API's JSON shape (camelCase, as the API documents it)."""
    from google.protobuf.json_format import MessageToDict

    pb = getattr(message, "_pb", message)
    return MessageToDict(pb)


class ReadOnlySession:
    """google-auth's authorized session, for GET and getIamPolicy only."""

    def __init__(self, creds: Any, timeout: float, deadline: Deadline | None = None) -> None:
        from google.auth.transport.requests import AuthorizedSession

        self._session = AuthorizedSession(creds)
        self._timeout = timeout
        self._deadline = deadline or Deadline(None)

    def get(self, url: str, params: dict | None = None) -> dict:
        self._deadline.check()
        reply = self._session.get(url, params=params, timeout=self._timeout)
        return _json(reply)

    def get_iam_policy(self, url: str) -> dict:
        if not url.endswith(":getIamPolicy"):
            raise ReadOnlyError(f"POST {url} is not a read; refused")
        self._deadline.check()
        reply = self._session.post(url, json={"options": {"requestedPolicyVersion": 3}}, timeout=self._timeout)
        return _json(reply)


class CallFailed(Exception):
    """An API call that did not answer with what was asked."""


def _json(reply) -> dict:
    if reply.status_code >= 400:
        try:
            message = reply.json().get("error", {}).get("message") or reply.text[:200]
        except ValueError:
            message = reply.text[:200]
        raise CallFailed(f"{reply.status_code} {message}")
    try:
        return reply.json()
    except ValueError:
        raise CallFailed(f"{reply.status_code} reply is not JSON") from None


class Collector:
    """Collects one or more projects with one set of clients."""

    def __init__(self, creds: Any, progress: Callable[[str], None] | None = None, call_timeout: float = 30.0,
                 environ: dict | None = None, timeout: float | None = None) -> None:
        from google.api_core.client_options import ClientOptions
        from google.cloud import compute_v1, resourcemanager_v3

        self.progress = progress or (lambda _: None)
        self.timeout = call_timeout
        deadline = Deadline(timeout)
        compute = ClientOptions(api_endpoint=endpoint("compute", environ))
        manager = ClientOptions(api_endpoint=endpoint("cloudresourcemanager", environ))
        self.compute = {name: ReadOnly(getattr(compute_v1, name)(credentials=creds, client_options=compute,
                                                                 transport="rest"), deadline)
                        for name in {*(c for c, _ in AGGREGATED.values()), *GLOBAL.values(), "ProjectsClient"}}
        self.projects = ReadOnly(resourcemanager_v3.ProjectsClient(credentials=creds, client_options=manager,
                                                                   transport="rest"), deadline)
        self.folders = ReadOnly(resourcemanager_v3.FoldersClient(credentials=creds, client_options=manager,
                                                                 transport="rest"), deadline)
        self.organizations = ReadOnly(resourcemanager_v3.OrganizationsClient(credentials=creds,
                                                                             client_options=manager, transport="rest"),
                                      deadline)
        self.iam_base = endpoint("iam", environ)
        self.session = ReadOnlySession(creds, call_timeout, deadline)
        self._roles: dict[str, dict | None] = {}  # predefined role -> its definition, once per scan
        self._policies: dict[str, dict | None] = {}  # a folder's or organization's policy, once per scan

    # -- scope ---------------------------------------------------------------------------

    def projects_under(self, parent: str, gaps: list[dict]) -> list[str]:
        """Every active project beneath a folder or organization (`folders/1`, `organizations/2`)."""
        found: list[str] = []
        queue = [parent]
        while queue:
            current = queue.pop(0)
            try:
                for project in self.projects.list_projects(parent=current, retry=None, timeout=self.timeout):
                    if project.state.name == "ACTIVE":
                        found.append(project.project_id)
                for folder in self.folders.list_folders(parent=current, retry=None, timeout=self.timeout):
                    if folder.state.name == "ACTIVE":
                        queue.append(folder.name)
            except Exception as exc:  # noqa: BLE001 - every failure is a gap naming the call
                gaps.append(_gap(current, "resourcemanager.projects.list", exc))
        return sorted(dict.fromkeys(found))

    # -- one project ---------------------------------------------------------------------------

    def collect_project(self, project: str) -> dict:
        gaps: list[dict] = []
        snap: dict[str, Any] = {"format": FORMAT, "version": VERSION, "provider": "gcp", "source": "gcp",
                                "scope": project, "collected_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                "compute": {}, "iam": {}, "iam_policies": [], "ancestors": [], "gaps": gaps,
                                "notes": []}
        self.progress(f"project {project}: resource manager")
        self._project(project, snap, gaps)
        self.progress(f"project {project}: compute")
        for name, (client, field) in AGGREGATED.items():
            snap["compute"][name] = self._aggregated(project, name, client, field, gaps)
        for name, client in GLOBAL.items():
            snap["compute"][name] = self._list(project, name, client, gaps)
        self._group_members(project, snap["compute"], gaps)
        snap["shared_vpc"] = self._shared_vpc(project, gaps)
        self.progress(f"project {project}: IAM")
        self._iam(project, snap, gaps)
        return snap

    def _project(self, project: str, snap: dict, gaps: list[dict]) -> None:
        try:
            reply = self.projects.get_project(name=f"projects/{project}", retry=None, timeout=self.timeout)
            snap["project"] = _as_dict(reply)
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, "project", exc))
            snap["project"] = {"projectId": project}
        try:
            policy = self.projects.get_iam_policy(resource=f"projects/{project}", retry=None, timeout=self.timeout)
            snap["iam_policies"].append({"resource": f"projects/{project}", "policy": _as_dict(policy)})
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, "iam_policies", exc))
        parent = (snap["project"].get("parent") or "")
        while parent.startswith(("folders/", "organizations/")):
            snap["ancestors"].append({"resource": parent})
            if parent not in self._policies:
                self._policies[parent] = self._ancestor_policy(parent, gaps, project)
            if self._policies[parent] is not None:
                snap["iam_policies"].append({"resource": parent, "policy": self._policies[parent]})
            if parent.startswith("organizations/"):
                break
            try:
                parent = self.folders.get_folder(name=parent, retry=None, timeout=self.timeout).parent
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"ancestors ({parent})", exc))
                break

    def _ancestor_policy(self, resource: str, gaps: list[dict], project: str) -> dict | None:
        client = self.folders if resource.startswith("folders/") else self.organizations
        try:
            return _as_dict(client.get_iam_policy(resource=resource, retry=None, timeout=self.timeout))
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, f"iam_policies ({resource})", exc))
            return None

    def _aggregated(self, project: str, name: str, client: str, field: str, gaps: list[dict]) -> list[dict]:
        items: list[dict] = []
        try:
            for _, scoped in self.compute[client].aggregated_list(project=project, retry=None, timeout=self.timeout):
                items.extend(_as_dict(item) for item in getattr(scoped, field))
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, f"compute.{name}", exc))
        return items

    def _list(self, project: str, name: str, client: str, gaps: list[dict]) -> list[dict]:
        try:
            return [_as_dict(item) for item in self.compute[client].list(project=project, retry=None,
                                                                          timeout=self.timeout)]
        except Exception as exc:  # noqa: BLE001
            if name == "networkFirewallPolicies" and _status(exc) == 404:
                return []
            gaps.append(_gap(project, f"compute.{name}", exc))
            return []

    def _shared_vpc(self, project: str, gaps: list[dict]) -> dict | None:
        """The project's Shared VPC role: the host it is attached to, or, for a host, its service
        projects (compute's projects.get, getXpnHost and getXpnResources, all reads)."""
        client = self.compute["ProjectsClient"]
        try:
            status = client.get(project=project, retry=None, timeout=self.timeout).xpn_project_status
            host = client.get_xpn_host(project=project, retry=None, timeout=self.timeout).name or None
            services = []
            if status == "HOST":
                services = [r.id for r in client.get_xpn_resources(project=project, retry=None, timeout=self.timeout)
                            if r.type_ == "PROJECT"]
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, "compute.sharedVpc", exc))
            return None
        return {"status": status, "host": host, "services": services}

    def _group_members(self, project: str, compute: dict, gaps: list[dict]) -> None:
        """The instances of the unmanaged instance groups that load balancers serve (one list call
        each). A managed instance group's instances name their manager in their `created-by`
        metadata: normalization reads its members from there."""
        served = {b.get("group") for s in compute.get("backendServices") or [] for b in s.get("backends") or []}
        managed = {m.get("instanceGroup") for m in compute.get("instanceGroupManagers") or []}
        client = self.compute["InstanceGroupsClient"]
        for group in compute.get("instanceGroups") or []:
            if group.get("selfLink") not in served or group.get("selfLink") in managed or not group.get("zone"):
                continue
            try:
                members = client.list_instances(project=project, zone=group["zone"].rsplit("/", 1)[-1],
                                                instance_group=group["name"], retry=None, timeout=self.timeout)
                group["_members"] = [m.instance for m in members]
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"instance group {group.get('name')} members", exc))

    def _iam(self, project: str, snap: dict, gaps: list[dict]) -> None:
        base = f"{self.iam_base}/v1"
        accounts: list[dict] = []
        try:
            accounts = self._paged(f"{base}/projects/{project}/serviceAccounts", "accounts")
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, "iam.serviceAccounts", exc))
        snap["iam"]["serviceAccounts"] = accounts
        policies = []
        for account in accounts:
            try:
                policy = self.session.get_iam_policy(f"{base}/projects/{project}/serviceAccounts/{account['email']}"
                                                     ":getIamPolicy")
                policies.append({"resource": f"projects/{project}/serviceAccounts/{account['email']}", "policy": policy})
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"iam.serviceAccountPolicies ({account.get('email')})", exc))
        snap["iam"]["serviceAccountPolicies"] = policies
        keys = []
        for account in accounts:
            email = account.get("email")
            try:
                listed = self.session.get(f"{base}/projects/{project}/serviceAccounts/{email}/keys",
                                          {"keyTypes": "USER_MANAGED"})
                keys.append({"serviceAccount": email, "keys": listed.get("keys") or []})
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"iam.serviceAccountKeys ({email})", exc))
                keys.append({"serviceAccount": email, "keys": None})
        snap["iam"]["serviceAccountKeys"] = keys
        snap["iam"]["workloadIdentityPools"] = self._pools(base, project, gaps)
        custom = []
        for parent in [f"projects/{project}"] + [a["resource"] for a in snap["ancestors"]
                                                 if a["resource"].startswith("organizations/")]:
            try:
                custom += self._paged(f"{base}/{parent}/roles", "roles", {"view": "FULL"})
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"iam.customRoles ({parent})", exc))
        snap["iam"]["customRoles"] = custom
        # Predefined roles that name a service account: their permissions, asked once per scan.
        wanted = sorted({b.get("role") for p in snap["iam_policies"] + policies
                         for b in (p.get("policy") or {}).get("bindings") or []
                         if str(b.get("role", "")).startswith("roles/")
                         and any(m.startswith("serviceAccount:") for m in b.get("members") or [])})
        roles = []
        for role in wanted:
            if role not in self._roles:
                try:
                    self._roles[role] = self.session.get(f"{base}/{role}")
                except Exception as exc:  # noqa: BLE001
                    gaps.append(_gap(project, f"iam.roles ({role})", exc))
                    self._roles[role] = None
            if self._roles[role] is not None:
                roles.append(self._roles[role])
        snap["iam"]["roles"] = roles

    def _pools(self, base: str, project: str, gaps: list[dict]) -> list[dict]:
        """Workload identity pools, each with its providers (issuer, attribute mapping and condition)."""
        try:
            pools = self._paged(f"{base}/projects/{project}/locations/global/workloadIdentityPools",
                                "workloadIdentityPools")
        except Exception as exc:  # noqa: BLE001
            gaps.append(_gap(project, "iam.workloadIdentityPools", exc))
            return []
        for pool in pools:
            try:
                pool["providers"] = self._paged(f"{base}/{pool['name']}/providers", "workloadIdentityPoolProviders")
            except Exception as exc:  # noqa: BLE001
                gaps.append(_gap(project, f"iam.workloadIdentityPoolProviders ({pool.get('name')})", exc))
                pool["providers"] = []
        return pools

    def _paged(self, url: str, field: str, params: dict | None = None) -> list[dict]:
        items: list[dict] = []
        token = None
        while True:
            page = self.session.get(url, {**(params or {}), **({"pageToken": token} if token else {})})
            items += page.get(field) or []
            token = page.get("nextPageToken")
            if not token:
                return items


def _status(exc: Exception) -> int | None:
    return getattr(exc, "code", None) if isinstance(getattr(exc, "code", None), int) else None


def _gap(scope: str, what: str, exc: Exception) -> dict:
    text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return {"provider": "gcp", "scope": scope, "region": None, "what": what, "error": text}


def collect(projects: Iterable[str], creds: Any, progress: Callable[[str], None] | None = None,
            call_timeout: float = 30.0, environ: dict | None = None, parents: Iterable[str] = (),
            timeout: float | None = None) -> list[dict]:
    """One snapshot per project: the projects named and every active project beneath `parents`.
    After `timeout` seconds no call is made: what was not read is a coverage gap each."""
    collector = Collector(creds, progress, call_timeout, environ, timeout)
    scope_gaps: list[dict] = []
    wanted = list(dict.fromkeys(projects))
    for parent in parents:
        wanted += [p for p in collector.projects_under(parent, scope_gaps) if p not in wanted]
    snapshots = [collector.collect_project(project) for project in wanted]
    if snapshots:
        snapshots[0]["gaps"].extend(scope_gaps)
    return snapshots


# --- collection as tasks on the engine (guardrails/engine.py) ---------------------------------


def collect_project_part(spec: dict) -> dict:
    """One task: collect one project with credentials found where the task runs (a Dask worker
    builds its own, as `credentials()` does here), write its snapshot to the snapshot directory,
    and return where. What the project refuses is gaps in its part; an exception (no credentials,
    a store that refuses the part) fails the task, which the engine tries again."""
    from guardrails import engine

    deadline_at = spec.get("deadline_at")
    remaining = None if deadline_at is None else max(0.0, deadline_at - time.time())
    collector = Collector(credentials(), call_timeout=spec["call_timeout"], timeout=remaining)
    snap = collector.collect_project(spec["project"])
    path = engine.join(spec["snapshot_dir"], f"{spec['project']}.json.gz")
    engine.write_part(path, snap)
    return {"path": path}


def _uncollected_project(project: str, error: str) -> dict:
    """The snapshot of a project whose task failed every try: nothing but the gap that says why."""
    return {"format": FORMAT, "version": VERSION, "provider": "gcp", "source": "gcp", "scope": project,
            "collected_at": dt.datetime.now(dt.timezone.utc).isoformat(), "project": {"projectId": project},
            "compute": {}, "iam": {}, "iam_policies": [], "ancestors": [], "shared_vpc": None, "notes": [],
            "gaps": [{"provider": "gcp", "scope": project, "region": None, "what": "project",
                      "error": f"not collected: {error}"}]}


def collect_as_tasks(projects: Iterable[str], creds: Any, snapshot_dir: str, *, scheduler: str | None = None,
                     bounds=None, progress: Callable[[str], None] | None = None, call_timeout: float = 30.0,
                     parents: Iterable[str] = (), timeout: float | None = None) -> list[dict]:
    """What `collect` returns, with each project collected as a task on the engine (a local pool
    of threads, or the Dask cluster at `scheduler`) that writes its part under `snapshot_dir`.
    The projects beneath `parents` are listed here first; one project whose task fails is a gap."""
    from guardrails import engine

    progress = progress or (lambda _: None)
    deadline_at = None if timeout is None else time.time() + timeout
    scope_gaps: list[dict] = []
    wanted = list(dict.fromkeys(projects))
    if parents:
        lister = Collector(creds, progress, call_timeout, timeout=timeout)
        for parent in parents:
            wanted += [p for p in lister.projects_under(parent, scope_gaps) if p not in wanted]
    tasks = [engine.Task(f"gcp-{project}", project, collect_project_part,
                         ({"project": project, "snapshot_dir": snapshot_dir, "call_timeout": call_timeout,
                           "deadline_at": deadline_at},)) for project in wanted]
    outcomes = {o.task.group: o for o in engine.run_tasks(tasks, lambda _: [], scheduler=scheduler, bounds=bounds,
                                                          progress=progress)}
    snapshots = []
    for project in wanted:
        outcome = outcomes[project]
        snapshots.append(_uncollected_project(project, outcome.error) if outcome.error
                         else engine.read_part(outcome.result["path"]))
    if snapshots:
        snapshots[0]["gaps"].extend(scope_gaps)
    return snapshots
