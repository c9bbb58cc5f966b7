"""Azure collection: the only code that calls Azure Resource Manager, read-only.

Every client goes through one pipeline policy (`ReadOnly`) that refuses any request but a GET, so
nothing here can change an estate whatever a library does. Lists are subscription-wide where ARM
has one, paged through `nextLink` by the client libraries; a list that fails (denied, throttled
past its retries, unreadable) becomes a coverage gap naming it, and the rest goes on.

The snapshot part is plain JSON in ARM's own shapes (camelCase, nested `properties`), one object
per subscription (docs/snapshot-format.md, "Azure").
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import MutableMapping
from typing import Any, Callable, Iterable

from guardrails import __version__ as tool_version
from guardrails.snapshot import FORMAT, VERSION

from . import arm

DEFAULT_ENDPOINT = "https://management.azure.com"
SUBSCRIPTIONS_API = "2022-12-01"
MANAGEMENT_GROUPS_API = "2020-05-01"
MANAGED_IDENTITY_API = "2023-01-31"
# The version that shows a flexible federated credential's `claimsMatchingExpression` (in preview):
# asked for only of a credential the stable version shows without a subject.
FLEXIBLE_CREDENTIAL_API = "2025-01-31-preview"


class CollectionError(Exception):
    """Nothing could be collected (no subscription answered)."""


class ConfigurationError(Exception):
    """The scope asked for cannot be scanned as given (one line for the user)."""


class WriteRefused(Exception):
    """A request that is not a read reached the pipeline: refused before it is sent."""


def read_only_policy():
    """A pipeline policy that lets only GET requests through."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class ReadOnly(SansIOHTTPPolicy):
        """Refuses every request but a GET: the scanner only ever reads. (No list this collector
        makes needs a POST.)"""

        def on_request(self, request) -> None:
            method = request.http_request.method.upper()
            if method != "GET":
                raise WriteRefused(f"refused {method} {request.http_request.url}: the scanner only reads")

    return ReadOnly()


def wire(model: Any) -> dict:
    """An SDK model as ARM's JSON: dict-backed models (network, compute, resource) hold it as it
    came; the authorization library's serializer writes it back."""
    if isinstance(model, MutableMapping):
        return model.as_dict() if hasattr(model, "as_dict") else dict(model)
    return model.serialize(keep_readonly=True)


class Clients:
    """The management clients of one subscription, all through the read-only pipeline."""

    def __init__(self, credential, subscription: str, endpoint: str, options: dict) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.network import NetworkManagementClient
        from azure.mgmt.resource.resources import ResourceManagementClient

        kwargs = dict(options, base_url=endpoint, credential_scopes=[endpoint.rstrip("/") + "/.default"],
                      per_call_policies=[read_only_policy()])
        self.network = NetworkManagementClient(credential, subscription, **kwargs)
        self.compute = ComputeManagementClient(credential, subscription, **kwargs)
        self.authorization = AuthorizationManagementClient(credential, subscription, **kwargs)
        self.resource = ResourceManagementClient(credential, subscription, **kwargs)

    def get(self, url: str) -> dict:
        """GET an ARM path (with its api-version) through the same pipeline; the reply's JSON."""
        from azure.core.rest import HttpRequest

        response = self.resource.send_request(HttpRequest("GET", url))
        response.raise_for_status()
        return response.json()

    def pages(self, url: str) -> Iterable[dict]:
        """Every element of an ARM list, following nextLink."""
        while url:
            reply = self.get(url)
            yield from reply.get("value") or []
            url = reply.get("nextLink")


def error_text(exc: BaseException) -> str:
    """One line for a failed call: the ARM error code and message when there is one."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None) or getattr(exc, "status_code", None)
        message = getattr(getattr(exc, "error", None), "message", None) or str(exc).splitlines()[0]
        return f"{code}: {message}"[:500]
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]


def list_subscriptions(clients: Clients, management_group: str | None) -> list[str]:
    """The subscriptions the credential can read, or those under a management group."""
    if management_group:
        url = (f"/providers/Microsoft.Management/managementGroups/{management_group}/descendants"
               f"?api-version={MANAGEMENT_GROUPS_API}")
        return sorted({item.get("name") for item in clients.pages(url)
                       if str(item.get("type", "")).lower().endswith("/subscriptions") and item.get("name")})
    return sorted({item.get("subscriptionId") for item in clients.pages(f"/subscriptions?api-version={SUBSCRIPTIONS_API}")
                   if item.get("subscriptionId")})


class _Collector:
    def __init__(self, credential, endpoint: str, options: dict, progress: Callable[[str], None],
                 wants_user_data: Callable[[dict], bool], deadline: float | None) -> None:
        self.credential = credential
        self.endpoint = endpoint
        self.options = options
        self.progress = progress
        self.wants_user_data = wants_user_data
        self.deadline = deadline
        self.gaps: list[dict] = []

    def gap(self, subscription: str, what: str, error: str) -> None:
        self.gaps.append({"provider": "azure", "scope": subscription, "region": None, "what": what, "error": error})

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def take(self, subscription: str, what: str, call: Callable[[], Any]) -> list[dict] | None:
        """The elements a list call returns, as ARM JSON; None (and a gap) when it fails."""
        if self.expired():
            self.gap(subscription, what, "collection timed out")
            return None
        try:
            return [wire(item) for item in call()]
        except WriteRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - any failed call is a gap naming it, never a crash
            self.gap(subscription, what, error_text(exc))
            return None

    def subscription(self, subscription: str) -> dict:
        c = Clients(self.credential, subscription, self.endpoint, self.options)
        lists: dict[str, list[dict]] = {}
        self.progress(f"subscription {subscription}")

        def put(name: str, call: Callable[[], Any]) -> list[dict]:
            found = self.take(subscription, name, call)
            if found is None:
                return []
            lists[name] = found
            return found

        put("subscription", lambda: [c.get(f"/subscriptions/{subscription}?api-version={SUBSCRIPTIONS_API}")])
        put("resource_groups", c.resource.resource_groups.list)
        put("virtual_networks", c.network.virtual_networks.list_all)
        put("network_security_groups", c.network.network_security_groups.list_all)
        put("route_tables", c.network.route_tables.list_all)
        put("public_ip_addresses", c.network.public_ip_addresses.list_all)
        nics = put("network_interfaces", c.network.network_interfaces.list_all)
        put("load_balancers", c.network.load_balancers.list_all)
        put("application_gateways", c.network.application_gateways.list_all)
        put("nat_gateways", c.network.nat_gateways.list_all)
        vms = put("virtual_machines", c.compute.virtual_machines.list_all)
        if vms:  # whether each VM runs: the same list with their instance views' statuses alone
            statuses = self.take(subscription, "virtual_machine_statuses",
                                 lambda: c.compute.virtual_machines.list_all(status_only="true")) or []
            by_id = {str(s.get("id", "")).lower(): arm.props(s).get("instanceView") for s in statuses}
            for vm in vms:
                view = by_id.get(vm["id"].lower())
                if view:
                    vm.setdefault("properties", {})["instanceView"] = view
        scale_sets = put("virtual_machine_scale_sets", c.compute.virtual_machine_scale_sets.list_all)
        if "virtual_machine_scale_sets" in lists:
            members: list[dict] = []
            for scale_set in scale_sets:
                group, name = arm.resource_group_of(scale_set["id"]).rsplit("/", 1)[-1], scale_set.get("name")
                members += self.take(subscription, f"scale_set_vms of {scale_set['id']}",
                                     lambda: c.compute.virtual_machine_scale_set_vms.list(group, name)) or []
                nics += self.take(subscription, f"network interfaces of scale set {scale_set['id']}",
                                  lambda: c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(
                                      group, name)) or []
            lists["scale_set_vms"] = members
            if "network_interfaces" in lists:
                lists["network_interfaces"] = nics
        for vm in vms:  # user data is returned only when asked for, one VM at a time
            if self.wants_user_data(vm):
                group = arm.resource_group_of(vm["id"]).rsplit("/", 1)[-1]
                found = self.take(subscription, f"user data of {vm['id']}",
                                  lambda: [c.compute.virtual_machines.get(group, vm["name"], expand="userData")])
                if found and arm.props(found[0]).get("userData"):
                    vm.setdefault("properties", {})["userData"] = arm.props(found[0])["userData"]
        self._federated_credentials(subscription, c, put)
        scope = arm.subscription_scope(subscription)
        put("role_assignments", lambda: c.authorization.role_assignments.list_for_subscription())
        definitions = put("role_definitions", lambda: c.authorization.role_definitions.list(scope))
        if "role_definitions" in lists and "role_assignments" in lists:
            known = {arm.role_guid(d.get("id")) for d in definitions}
            for assignment in lists["role_assignments"]:
                wanted = arm.props(assignment).get("roleDefinitionId")
                if wanted and arm.role_guid(wanted) not in known:
                    known.add(arm.role_guid(wanted))
                    definitions += self.take(subscription, f"role definition {wanted}",
                                             lambda: [c.authorization.role_definitions.get_by_id(wanted)]) or []
        return lists

    def _federated_credentials(self, subscription: str, c: Clients, put: Callable) -> None:
        """User-assigned managed identities and the federated identity credentials of each: the
        issuers (GitHub Actions, Azure DevOps...) whose tokens can become them."""
        identities = put("user_assigned_identities", lambda: c.pages(
            f"/subscriptions/{subscription}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
            f"?api-version={MANAGED_IDENTITY_API}"))
        if not identities:
            return
        credentials: list[dict] = []
        for identity in identities:
            found = self.take(subscription, f"federated identity credentials of {identity['id']}", lambda: c.pages(
                f"{identity['id']}/federatedIdentityCredentials?api-version={MANAGED_IDENTITY_API}"))
            for credential in found or []:
                if not arm.props(credential).get("subject") and credential.get("id"):
                    # A flexible credential matches by an expression the stable version does not show.
                    again = self.take(subscription, f"federated identity credential {credential['id']}", lambda: [
                        c.get(f"{credential['id']}?api-version={FLEXIBLE_CREDENTIAL_API}")])
                    credential = again[0] if again else credential
                credentials.append(credential)
        put("federated_identity_credentials", lambda: credentials)


def collect(credential, subscriptions: list[str] | None, *, management_group: str | None = None,
            endpoint: str = DEFAULT_ENDPOINT, progress: Callable[[str], None] = lambda _m: None,
            wants_user_data: Callable[[dict], bool] = lambda _vm: True, timeout: float | None = None,
            client_options: dict | None = None) -> dict:
    """A snapshot of the subscriptions (None: every one the credential reads, or those under the
    management group)."""
    options = {"retry_total": 3, "connection_timeout": 5, "read_timeout": 20} | (client_options or {})
    deadline = time.monotonic() + timeout if timeout else None
    collector = _Collector(credential, endpoint, options, progress, wants_user_data, deadline)
    subscriptions = _to_scan(credential, subscriptions, management_group, endpoint, options)
    parts = {}
    for subscription in subscriptions:
        parts[subscription] = collector.subscription(subscription)
    return _snapshot(parts, collector.gaps, management_group)


def _to_scan(credential, subscriptions: list[str] | None, management_group: str | None, endpoint: str,
             options: dict) -> list[str]:
    """The subscriptions named, or else listed (every readable one, or those under the group)."""
    if subscriptions is not None:
        return subscriptions
    scope = f"management group {management_group}" if management_group else "every readable subscription"
    try:
        # The clients want a subscription; the tenant-wide lists asked for here use none.
        found = list_subscriptions(Clients(credential, "00000000-0000-0000-0000-000000000000", endpoint, options),
                                   management_group)
    except WriteRefused:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CollectionError(f"cannot list the subscriptions of {scope}: {error_text(exc)}") from None
    if not found:
        raise CollectionError(f"no subscription readable in {scope}")
    return found


def _snapshot(parts: dict[str, dict], gaps: list[dict], management_group: str | None) -> dict:
    """The snapshot of the subscriptions' lists; CollectionError when not one list was read."""
    if not any(parts.values()):
        raise CollectionError("; ".join(f"{g['what']}: {g['error']}" for g in gaps[:3]) or "nothing answered")
    return {
        "format": FORMAT, "version": VERSION, "tool_version": tool_version,
        "collected_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "provider": "azure", "source": "azure",
        "scope": management_group and f"managementGroups/{management_group}" or ",".join(parts),
        "gaps": gaps,
        "subscriptions": parts,
    }


# --- collection as tasks on the engine (guardrails/engine.py) ---------------------------------


def collect_subscription_part(spec: dict) -> dict:
    """One task: collect one subscription with the credential found where the task runs (a Dask
    worker builds its own from its environment, as the command does), write it as a snapshot of
    that subscription to the snapshot directory, and return where. What the subscription refuses
    is gaps in its part; an exception (no credential, a store that refuses) fails the task, which
    the engine tries again."""
    from guardrails import engine

    from .commands import credential, user_data_wanted

    deadline_at = spec.get("deadline_at")
    deadline = None if deadline_at is None else time.monotonic() + max(0.0, deadline_at - time.time())
    collector = _Collector(credential(), spec["endpoint"], spec["options"], lambda _m: None,
                           user_data_wanted(spec["config"]), deadline)
    subscription = spec["subscription"]
    lists = collector.subscription(subscription)
    part = {"format": FORMAT, "version": VERSION, "tool_version": tool_version,
            "collected_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "provider": "azure", "source": "azure", "scope": subscription, "gaps": collector.gaps,
            "subscriptions": {subscription: lists}}
    path = engine.join(spec["snapshot_dir"], f"{subscription}.json.gz")
    engine.write_part(path, part)
    return {"path": path}


def collect_as_tasks(credential, subscriptions: list[str] | None, snapshot_dir: str, *, config,
                     management_group: str | None = None, endpoint: str = DEFAULT_ENDPOINT,
                     scheduler: str | None = None, bounds=None, progress: Callable[[str], None] = lambda _m: None,
                     timeout: float | None = None, client_options: dict | None = None) -> dict:
    """What `collect` returns, with each subscription collected as a task on the engine (a local
    pool of threads, or the Dask cluster at `scheduler`) that writes its part under
    `snapshot_dir`. A subscription whose task fails every try has a gap for each of its lists."""
    from guardrails import engine

    from .gaps import GAP_LISTS

    options = {"retry_total": 3, "connection_timeout": 5, "read_timeout": 20} | (client_options or {})
    subscriptions = _to_scan(credential, subscriptions, management_group, endpoint, options)
    deadline_at = time.time() + timeout if timeout else None
    tasks = [engine.Task(f"azure-{s}", s, collect_subscription_part,
                         ({"subscription": s, "snapshot_dir": snapshot_dir, "endpoint": endpoint, "options": options,
                           "config": config, "deadline_at": deadline_at},)) for s in subscriptions]
    outcomes = {o.task.group: o for o in engine.run_tasks(tasks, lambda _: [], scheduler=scheduler, bounds=bounds,
                                                          progress=progress)}
    parts: dict[str, dict] = {}
    gaps: list[dict] = []
    for subscription in subscriptions:
        outcome = outcomes[subscription]
        if outcome.error:
            parts[subscription] = {}
            gaps += [{"provider": "azure", "scope": subscription, "region": None, "what": name,
                      "error": f"not collected: {outcome.error}"} for name in GAP_LISTS]
            continue
        part = engine.read_part(outcome.result["path"])
        parts[subscription] = (part.get("subscriptions") or {}).get(subscription) or {}
        gaps += part.get("gaps") or []
    return _snapshot(parts, gaps, management_group)
