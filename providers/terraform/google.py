"""Translating Google Terraform resources into the REST API reply shapes of a GCP snapshot.

Ids are resource addresses (each element's `selfLink`), so findings point at the Terraform resource,
as for AWS. References between resources are followed through the plan's configuration when their
values are known only after apply. What Terraform only learns at apply time and a check depends on
is listed in the element's `_unknown`; what the API fills in by default (a firewall rule's
direction and priority, its source 0.0.0.0/0 when it names none, a network's default internet
route) is filled in here, as the API would.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .links import Linker, get_value
from .load import TfDocument, TfResource

T_NETWORK = ("google_compute_network",)
T_SUBNET = ("google_compute_subnetwork",)
T_FIREWALL = ("google_compute_firewall",)
T_ROUTE = ("google_compute_route",)
T_NAT = ("google_compute_router_nat",)
T_INSTANCE = ("google_compute_instance",)
T_TEMPLATE = ("google_compute_instance_template", "google_compute_region_instance_template")
T_MIG = ("google_compute_instance_group_manager", "google_compute_region_instance_group_manager")
T_GROUP = ("google_compute_instance_group",)
T_FORWARDING = ("google_compute_forwarding_rule", "google_compute_global_forwarding_rule")
T_BACKEND = ("google_compute_backend_service", "google_compute_region_backend_service")
T_POOL = ("google_compute_target_pool",)
T_PROXY = ("google_compute_target_http_proxy", "google_compute_target_https_proxy",
           "google_compute_target_tcp_proxy", "google_compute_target_ssl_proxy")
T_URL_MAP = ("google_compute_url_map",)
T_ACCOUNT = ("google_service_account",)
T_PROJECT = ("google_project",)
T_WI_POOL = ("google_iam_workload_identity_pool",)
T_WI_PROVIDER = ("google_iam_workload_identity_pool_provider",)
T_ACCOUNT_KEY = ("google_service_account_key",)
IAM_TYPES = {"google_project_iam_member": "projects", "google_project_iam_binding": "projects",
             "google_folder_iam_member": "folders", "google_folder_iam_binding": "folders",
             "google_organization_iam_member": "organizations", "google_organization_iam_binding": "organizations",
             "google_service_account_iam_member": "service_account",
             "google_service_account_iam_binding": "service_account"}
PROXY_KINDS = {"google_compute_target_http_proxy": "targetHttpProxies",
               "google_compute_target_https_proxy": "targetHttpsProxies",
               "google_compute_target_tcp_proxy": "targetTcpProxies",
               "google_compute_target_ssl_proxy": "targetSslProxies"}
SCOPE_ALIASES = {"cloud-platform": "https://www.googleapis.com/auth/cloud-platform"}
ASSIGNED_AT_APPLY = "(known after apply)"
DEFAULT_PROJECT = "terraform-project"


_PATH = re.compile(r"(?:^|/)((?:projects|organizations|folders)/.*)$")


def _path(link: str) -> str:
    """A selfLink or URL as the resource's path (`projects/P/...`)."""
    found = _PATH.search(link.split("?", 1)[0])
    return found.group(1) if found else link


def is_google(res: TfResource) -> bool:
    return res.type.startswith("google_")


class GoogleTranslator:
    """Builds one GCP snapshot part (docs/snapshot-format.md) from a plan's or state's google_* resources."""

    def __init__(self, doc: TfDocument, linker: Linker) -> None:
        self.doc, self.linker = doc, linker
        self.resources = [r for r in doc.resources if is_google(r) and r.mode == "managed" and r.action != "delete"]
        self.compute: dict[str, list[dict]] = {}
        self.iam: dict[str, list[dict]] = {"serviceAccounts": [], "serviceAccountPolicies": [], "customRoles": [],
                                           "roles": []}
        self.policies: dict[str, list[dict]] = {}
        self.gaps: list[dict] = []
        self.notes: list[str] = []
        self.project = self._project()
        # A reference written as a self_link or id names the resource that has it.
        self._by_link = {_path(value): res.address for res in self.resources for key in ("self_link", "id")
                         if isinstance(value := self.value(res, key), str) and value}
        self.labels: dict = {}

    # -- helpers ----------------------------------------------------------------------------

    def _project(self) -> str:
        for res in self.resources:
            value, unknown = get_value(res, ("project",))
            if isinstance(value, str) and value and not unknown:
                return value
        for res in self.resources:
            if res.type in T_PROJECT and isinstance(res.values.get("project_id"), str):
                return res.values["project_id"]
        self.notes_needed = True
        return DEFAULT_PROJECT

    def add(self, name: str, item: dict) -> None:
        self.compute.setdefault(name, []).append(item)

    def value(self, res: TfResource, *path: Any, default: Any = None) -> Any:
        value, unknown = get_value(res, path)
        return default if unknown or value is None else value

    def unknown(self, res: TfResource, *path: Any) -> bool:
        return get_value(res, path)[1]

    def ref(self, res: TfResource, path: tuple, types: tuple[str, ...]) -> str | None:
        """The id (address) of the resource an attribute refers to, or the literal it holds."""
        targets, _ = self.linker.link(res, path, types)
        for target in targets:
            if isinstance(target, TfResource):
                return target.address
        for target in targets:
            if isinstance(target, str) and target:
                return self._literal(target, types)
        return None

    def refs(self, res: TfResource, path: tuple, types: tuple[str, ...]) -> list[str]:
        targets, _ = self.linker.link(res, path, types)
        return [t.address if isinstance(t, TfResource) else self._literal(t, types)
                for t in targets if isinstance(t, TfResource) or (isinstance(t, str) and t)]

    def _literal(self, value: str, types: tuple[str, ...]) -> str:
        """A reference given as a name or URL: the path the live API would use."""
        if value in self._by_link or _path(value) in self._by_link:
            return self._by_link.get(value) or self._by_link[_path(value)]
        if "/" in value:
            return _path(value)
        named = [r.address for r in self.resources if r.type in types and self.value(r, "name") == value]
        if len(named) == 1:  # a network given by its name
            return named[0]
        if types == T_NETWORK:
            return f"projects/{self.project}/global/networks/{value}"
        return value

    def base(self, res: TfResource) -> dict:
        unknown = [k for k in ("network_interface", "metadata", "service_account", "source_ranges", "allow", "deny")
                   if self.unknown(res, k) and k not in ("network_interface",)]
        out: dict[str, Any] = {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                               "_address": res.address}
        if unknown:
            out["_unknown"] = unknown
        return out

    # -- translation ---------------------------------------------------------------------------

    def translate(self) -> dict:
        by_type: dict[str, list[TfResource]] = {}
        for res in self.resources:
            by_type.setdefault(res.type, []).append(res)
        for res in by_type.get("google_project", []):
            self.labels = dict(self.value(res, "labels", default={}) or {})
        for res in self.each(by_type, T_NETWORK):
            self._network(res)
        for res in self.each(by_type, T_SUBNET):
            self._subnetwork(res)
        for res in self.each(by_type, T_FIREWALL):
            self._firewall(res)
        for res in self.each(by_type, T_ROUTE):
            self._route(res)
        for res in self.each(by_type, T_NAT):
            self.add("routers", {"name": self.value(res, "router", default=res.name), "selfLink": res.address,
                                 "network": None, "nats": [{"name": self.value(res, "name", default=res.name)}]})
        for res in self.each(by_type, T_ACCOUNT):
            self._service_account(res)
        for res in self.each(by_type, T_INSTANCE):
            self._instance(res, res.values, res.address, self.value(res, "name", default=res.name), None)
        for res in self.each(by_type, T_MIG):
            self._managed_group(res)
        for res in self.each(by_type, T_GROUP):
            self.add("instanceGroups", {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                                        "zone": self.value(res, "zone"),
                                        "namedPorts": self.value(res, "named_port", default=[]) or [],
                                        "_members": self.refs(res, ("instances",), T_INSTANCE)})
        for res in self.each(by_type, T_BACKEND):
            self._backend_service(res)
        for res in self.each(by_type, T_URL_MAP):
            self.add("urlMaps", {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                                 "defaultService": self.ref(res, ("default_service",), T_BACKEND)})
        for res in (r for t in T_PROXY for r in by_type.get(t, [])):
            self.add(PROXY_KINDS[res.type], {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                                             "urlMap": self.ref(res, ("url_map",), T_URL_MAP),
                                             "service": self.ref(res, ("backend_service",), T_BACKEND)})
        for res in self.each(by_type, T_POOL):
            self.add("targetPools", {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                                     "instances": self.refs(res, ("instances",), T_INSTANCE)})
        for res in self.each(by_type, T_FORWARDING):
            self._forwarding_rule(res)
        for res in self.resources:
            if res.type in IAM_TYPES:
                self._binding(res)
        self._workload_identity(by_type)
        self._keys(by_type)
        self._shared_vpc(by_type)
        return self.snapshot()

    def each(self, by_type: dict, types: Iterable[str]) -> list[TfResource]:
        return [r for t in types for r in by_type.get(t, [])]

    def _network(self, res: TfResource) -> None:
        self.add("networks", {**self.base(res), "autoCreateSubnetworks": bool(self.value(res, "auto_create_subnetworks",
                                                                                         default=True))})
        if not self.value(res, "delete_default_routes_on_create", default=False):
            # GCP creates the default route to the internet gateway with every network.
            self.add("routes", {"name": f"default-route-{self.value(res, 'name', default=res.name)}",
                                "network": res.address, "destRange": "0.0.0.0/0", "priority": 1000,
                                "nextHopGateway": f"projects/{self.project}/global/gateways/default-internet-gateway"})
        if self.value(res, "auto_create_subnetworks", default=True):
            self.notes.append(f"{res.address}: an auto mode network's subnetworks are created by GCP and not read "
                              "from the plan")

    def _subnetwork(self, res: TfResource) -> None:
        item = {**self.base(res), "network": self.ref(res, ("network",), T_NETWORK),
                "ipCidrRange": self.value(res, "ip_cidr_range"), "region": self.value(res, "region")}
        if self.unknown(res, "ip_cidr_range"):
            item["_unknown"] = item.get("_unknown", []) + ["ipCidrRange"]
        self.add("subnetworks", item)

    def _firewall(self, res: TfResource) -> None:
        direction = self.value(res, "direction", default="INGRESS") or "INGRESS"
        item = {**self.base(res), "network": self.ref(res, ("network",), T_NETWORK), "direction": direction,
                "priority": int(self.value(res, "priority", default=1000) or 1000),
                "disabled": bool(self.value(res, "disabled", default=False))}
        for block, field in (("allow", "allowed"), ("deny", "denied")):
            entries = self.value(res, block, default=[]) or []
            item[field] = [{"IPProtocol": e.get("protocol"), **({"ports": e["ports"]} if e.get("ports") else {})}
                           for e in entries if isinstance(e, dict)]
        for attr, field in (("source_tags", "sourceTags"), ("source_service_accounts", "sourceServiceAccounts"),
                            ("target_tags", "targetTags"), ("target_service_accounts", "targetServiceAccounts"),
                            ("destination_ranges", "destinationRanges")):
            values = self.value(res, attr, default=[]) or []
            if values:
                item[field] = list(values)
        ranges = self.value(res, "source_ranges", default=None)
        if ranges:
            item["sourceRanges"] = list(ranges)
        elif self.unknown(res, "source_ranges") and not (item.get("sourceTags") or item.get("sourceServiceAccounts")):
            item["sourceRanges"] = ["0.0.0.0/0"]  # what the API sets when a rule names no source
        self.add("firewalls", item)

    def _route(self, res: TfResource) -> None:
        gateway = self.value(res, "next_hop_gateway")
        item = {**self.base(res), "network": self.ref(res, ("network",), T_NETWORK),
                "destRange": self.value(res, "dest_range"), "priority": self.value(res, "priority", default=1000),
                "tags": list(self.value(res, "tags", default=[]) or [])}
        if gateway:
            item["nextHopGateway"] = (gateway if "/" in gateway else
                                      f"projects/{self.project}/global/gateways/{gateway}")
        else:
            item["nextHopIp"] = self.value(res, "next_hop_ip") or ASSIGNED_AT_APPLY
        self.add("routes", item)

    def _service_account(self, res: TfResource) -> None:
        account_id = self.value(res, "account_id", default=res.name)
        project = self.value(res, "project", default=self.project)
        email = self.value(res, "email") or f"{account_id}@{project}.iam.gserviceaccount.com"
        self.iam["serviceAccounts"].append({"email": email, "projectId": project, "displayName": account_id,
                                            "_address": res.address})
        self._emails = getattr(self, "_emails", {})
        self._emails[res.address] = email

    def email_of(self, res: TfResource, path: tuple) -> str | None:
        value = self.value(res, *path)
        if isinstance(value, str) and "@" in value:
            return value
        target = self.ref(res, path, T_ACCOUNT)
        emails = getattr(self, "_emails", {})
        if target in emails:
            return emails[target]
        if value == "default" or (value is None and not self.unknown(res, *path)):
            return None
        return target

    def _instance(self, res: TfResource, values: dict, address: str, name: str, group: str | None) -> None:
        zone = values.get("zone") or "unknown-zone"
        nics = []
        unknown: list[str] = []
        for i, nic in enumerate(values.get("network_interface") or []):
            entry: dict[str, Any] = {"name": f"nic{i}", "network": self.ref(res, ("network_interface", i, "network"),
                                                                             T_NETWORK),
                                     "subnetwork": self.ref(res, ("network_interface", i, "subnetwork"), T_SUBNET)}
            if nic.get("network_ip"):
                entry["networkIP"] = nic["network_ip"]
            configs = nic.get("access_config") or []
            if configs:
                nat = configs[0].get("nat_ip") or self.value(res, "network_interface", i, "access_config", 0, "nat_ip")
                if nat:
                    entry["accessConfigs"] = [{"natIP": nat}]
                else:
                    entry["accessConfigs"] = [{"name": "External NAT"}]
                    unknown.append("natIP")  # an ephemeral address, assigned at apply
            nics.append(entry)
        items = [{"key": k, "value": v} for k, v in (values.get("metadata") or {}).items()]
        if values.get("metadata_startup_script"):
            items.append({"key": "startup-script", "value": values["metadata_startup_script"]})
        if self.unknown(res, "metadata_startup_script") or self.unknown(res, "metadata"):
            unknown.append("metadata")
        if group:
            items.append({"key": "created-by", "value": group})
        for entry in nics:
            if entry["network"] is None and entry["subnetwork"]:  # GCP takes it from the subnetwork
                entry["network"] = next((sub.get("network") for sub in self.compute.get("subnetworks", [])
                                         if sub.get("selfLink") == entry["subnetwork"]), None)
            if entry["subnetwork"] is None and entry["network"] in self._auto_networks():
                entry["subnetwork"] = self._auto_subnetwork(entry["network"], zone)
        accounts = []
        for i, sa in enumerate(values.get("service_account") or []):
            email = self.email_of(res, ("service_account", i, "email"))
            if email is None or email.endswith("-compute@developer.gserviceaccount.com"):
                email = self._default_account(email)
            accounts.append({"email": email, "scopes": [SCOPE_ALIASES.get(s, s) for s in sa.get("scopes") or []]})
        boot = (values.get("boot_disk") or [{}])[0] if isinstance(values.get("boot_disk"), list) else {}
        image = ((boot.get("initialize_params") or [{}])[0] or {}).get("image") if boot else None
        image = image or ((values.get("disk") or [{}])[0] or {}).get("source_image") if values.get("disk") else image
        item = {"name": name, "selfLink": address, "_address": res.address, "zone": zone, "status": "RUNNING",
                "networkInterfaces": nics, "tags": {"items": list(values.get("tags") or [])},
                "labels": dict(values.get("labels") or {}), "metadata": {"items": items},
                "disks": [{"boot": True, **({"sourceImage": image} if image else {})}], "serviceAccounts": accounts}
        if unknown:
            item["_unknown"] = unknown
        self.add("instances", item)

    def _auto_networks(self) -> set[str]:
        return {n["selfLink"] for n in self.compute.get("networks", []) if n.get("autoCreateSubnetworks")}

    def _auto_subnetwork(self, network: str, zone: str) -> str:
        """An auto mode network's subnetwork in the zone's region: GCP creates it with the network,
        from 10.128.0.0/9 (its exact range per region is GCP's; the whole block stands for it)."""
        region = zone.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        link = f"{network}/subnetworks/{region}"
        if not any(s.get("selfLink") == link for s in self.compute.get("subnetworks", [])):
            self.add("subnetworks", {"name": f"{network.rsplit('.', 1)[-1]}-{region}", "selfLink": link,
                                     "network": network, "ipCidrRange": "10.128.0.0/9", "region": region})
        return link

    def _default_account(self, email: str | None = None) -> str:
        """The default compute service account, which GCP grants roles/editor on the project by
        default (unless an organization policy stops it): assumed so, and said so."""
        email = email or f"{self.project_number()}-compute@developer.gserviceaccount.com"
        if not any(a.get("email") == email for a in self.iam["serviceAccounts"]):
            self.iam["serviceAccounts"].append({"email": email, "projectId": self.project,
                                                "displayName": "Compute Engine default service account"})
            self.policies.setdefault(f"projects/{self.project}", []).append(
                {"role": "roles/editor", "members": [f"serviceAccount:{email}"]})
            self.notes.append(f"Assumed: the default compute service account {email} holds roles/editor on the "
                              "project, as GCP grants it by default")
        return email

    def project_number(self) -> str:
        for res in self.resources:
            if res.type in T_PROJECT and self.value(res, "number"):
                return str(self.value(res, "number"))
        return "PROJECT_NUMBER"

    def _managed_group(self, res: TfResource) -> None:
        """A managed instance group: its fleet stands as one instance of its template, named after
        the group's base instance name (the real ones get a random suffix at apply)."""
        by_address = {r.address: r for r in self.resources}
        paths = [("version", i, "instance_template") for i, _ in enumerate(self.value(res, "version", default=[]) or [])]
        template = None
        for path in paths + [("instance_template",)]:
            template = by_address.get(self.ref(res, path, T_TEMPLATE) or "")
            if template is not None:
                break
        name = self.value(res, "base_instance_name", default=res.name)
        group = f"projects/{self.project}/zones/{self.value(res, 'zone', default='unknown-zone')}/" \
                f"instanceGroupManagers/{self.value(res, 'name', default=res.name)}"
        if template is None:
            self.gaps.append({"provider": "terraform", "scope": self.doc.path.name, "region": None,
                              "what": f"instance template of {res.address}", "error": "not found in the plan"})
            return
        values = dict(template.values)
        values.setdefault("zone", self.value(res, "zone"))
        if values.get("disk") and not values.get("boot_disk"):
            values["boot_disk"] = [{"initialize_params": [{"image": (values["disk"][0] or {}).get("source_image")}]}]
        self._instance(template, values, f"{res.address}/instance", name, group)

    def _backend_service(self, res: TfResource) -> None:
        backends = []
        for i, _ in enumerate(self.value(res, "backend", default=[]) or []):
            group = self.ref(res, ("backend", i, "group"), T_GROUP + T_MIG)
            if group and any(r.address == group and r.type in T_MIG for r in self.resources):
                group = f"{group}/group"
                self._mig_group(group)
            backends.append({"group": group})
        self.add("backendServices", {"name": self.value(res, "name", default=res.name), "selfLink": res.address,
                                     "portName": self.value(res, "port_name", default="http"),
                                     "protocol": self.value(res, "protocol", default="HTTP"),
                                     "loadBalancingScheme": self.value(res, "load_balancing_scheme",
                                                                       default="EXTERNAL"),
                                     "backends": backends})

    def _mig_group(self, group: str) -> None:
        """The instance group a managed instance group serves backends from: its one standing instance."""
        if any(g.get("selfLink") == group for g in self.compute.get("instanceGroups", [])):
            return
        manager = group[: -len("/group")]
        res = next(r for r in self.resources if r.address == manager)
        self.add("instanceGroups", {"name": self.value(res, "name", default=res.name), "selfLink": group,
                                    "namedPorts": self.value(res, "named_port", default=[]) or [],
                                    "_members": [f"{manager}/instance"]})

    def _forwarding_rule(self, res: TfResource) -> None:
        target = (self.ref(res, ("target",), T_PROXY + T_POOL) or self.ref(res, ("backend_service",), T_BACKEND))
        item = {"name": self.value(res, "name", default=res.name), "selfLink": res.address, "_address": res.address,
                "IPAddress": self.value(res, "ip_address"), "IPProtocol": self.value(res, "ip_protocol", default="TCP"),
                "loadBalancingScheme": self.value(res, "load_balancing_scheme", default="EXTERNAL"),
                "target": target}
        if self.value(res, "port_range"):
            item["portRange"] = self.value(res, "port_range")
        if self.value(res, "ports"):
            item["ports"] = list(self.value(res, "ports"))
        if self.value(res, "all_ports"):
            item["allPorts"] = True
        self.add("globalForwardingRules" if res.type.startswith("google_compute_global") else "forwardingRules", item)

    def _binding(self, res: TfResource) -> None:
        kind = IAM_TYPES[res.type]
        role = self.value(res, "role")
        members = ([self.value(res, "member")] if res.type.endswith("_member")
                   else list(self.value(res, "members", default=[]) or []))
        if kind == "service_account":
            target = self.ref(res, ("service_account_id",), T_ACCOUNT)
            emails = getattr(self, "_emails", {})
            email = emails.get(target) or (target or "").rsplit("/", 1)[-1]
            resource = f"projects/{self.project}/serviceAccounts/{email}"
        elif kind == "projects":
            resource = f"projects/{self.value(res, 'project', default=self.project)}"
        elif kind == "folders":
            folder = str(self.value(res, "folder", default="unknown"))
            resource = folder if folder.startswith("folders/") else f"folders/{folder}"
        else:
            resource = f"organizations/{self.value(res, 'org_id', default='unknown')}"
        members = [self._member(res, m, i) for i, m in enumerate(members)]
        if self.unknown(res, "member") or self.unknown(res, "members"):
            members += self._members_from_config(res)
        binding = {"role": role, "members": [m for m in members if m]}
        condition = (self.value(res, "condition", default=[]) or [None])[0]
        if condition or self.unknown(res, "condition"):
            binding["condition"] = ({"title": condition.get("title"), "expression": condition.get("expression")}
                                    if condition else {"title": ASSIGNED_AT_APPLY})
        self.policies.setdefault(resource, []).append(binding)

    def _member(self, res: TfResource, member: Any, index: int) -> str | None:
        return member if isinstance(member, str) and ":" in member else None

    def _members_from_config(self, res: TfResource) -> list[str]:
        """`serviceAccount:${google_service_account.x.email}`: the accounts the expression names;
        `principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.x.name}/...`: the pool,
        with which of its principals only known after apply."""
        path = ("member",) if res.type.endswith("_member") else ("members",)
        targets, _, _ = self.linker.targets_from_config(res, path, T_ACCOUNT)
        emails = getattr(self, "_emails", {})
        members = [f"serviceAccount:{emails[t.address]}" for t in targets if t.address in emails]
        pools, _, _ = self.linker.targets_from_config(res, path, T_WI_POOL)
        members += [f"principalSet://iam.googleapis.com/{self._pool_name(p)}/{ASSIGNED_AT_APPLY}" for p in pools]
        return members

    # -- workload identity federation and stored keys ----------------------------------------------

    def _pool_name(self, res: TfResource) -> str:
        """A pool's name as the API and bindings spell it: by project number, when the plan says it
        (a google_project, or a binding that names the pool by number), else by project id."""
        pool_id = self.value(res, "workload_identity_pool_id", default=res.name)
        number = self.project_number()
        if number == "PROJECT_NUMBER":
            number = self.project
            for values in self._literal_members():
                found = re.search(rf"/projects/([^/]+)/locations/global/workloadIdentityPools/{re.escape(pool_id)}/",
                                  values)
                if found:
                    number = found.group(1)
                    break
        return f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}"

    def _literal_members(self) -> list[str]:
        return [m for bindings in self.policies.values() for b in bindings for m in b.get("members") or []]

    def _workload_identity(self, by_type: dict) -> None:
        pools: dict[str, dict] = {}
        for res in self.each(by_type, T_WI_POOL):
            pools[res.address] = {"name": self._pool_name(res), "state": "ACTIVE",
                                  "disabled": bool(self.value(res, "disabled", default=False)),
                                  "_address": res.address, "providers": []}
        for res in self.each(by_type, T_WI_PROVIDER):
            target = self.ref(res, ("workload_identity_pool_id",), T_WI_POOL)
            pool = pools.get(target)
            if pool is None:
                pool_id = self.value(res, "workload_identity_pool_id", default="unknown")
                pool = next((p for p in pools.values() if p["name"].endswith(f"/{pool_id}")), None)
            if pool is None:
                self.gaps.append({"provider": "terraform", "scope": self.project, "region": None,
                                  "what": f"workload identity pool of {res.address}",
                                  "error": "the pool is not in the plan: which service accounts its tokens can "
                                           "become is unknown"})
                continue
            provider_id = self.value(res, "workload_identity_pool_provider_id", default=res.name)
            oidc = (self.value(res, "oidc", default=[]) or [{}])[0] or {}
            provider = {"name": f"{pool['name']}/providers/{provider_id}", "state": "ACTIVE",
                        "disabled": bool(self.value(res, "disabled", default=False)),
                        "oidc": {"issuerUri": oidc.get("issuer_uri"),
                                 "allowedAudiences": list(oidc.get("allowed_audiences") or [])},
                        "attributeMapping": dict(self.value(res, "attribute_mapping", default={}) or {}),
                        "_address": res.address}
            condition = self.value(res, "attribute_condition")
            if condition:
                provider["attributeCondition"] = condition
            unknown = [f for f, path in (("attributeCondition", ("attribute_condition",)),
                                         ("attributeMapping", ("attribute_mapping",)),
                                         ("issuerUri", ("oidc",))) if self.unknown(res, *path)]
            if unknown:
                provider["_unknown"] = unknown
            pool["providers"].append(provider)
        self.iam["workloadIdentityPools"] = list(pools.values())

    def _shared_vpc(self, by_type: dict) -> None:
        """The plan's project as a Shared VPC host, or the host it attaches the project to."""
        shared: dict = {"status": None, "host": None, "services": []}
        for res in by_type.get("google_compute_shared_vpc_host_project", []):
            if self.value(res, "project", default=self.project) == self.project:
                shared["status"] = "HOST"
        for res in by_type.get("google_compute_shared_vpc_service_project", []):
            host, service = self.value(res, "host_project"), self.value(res, "service_project")
            if service == self.project and isinstance(host, str):
                shared["host"] = host
            elif host == self.project and isinstance(service, str):
                shared["services"].append(service)
        self.shared_vpc = shared

    def _keys(self, by_type: dict) -> None:
        emails = getattr(self, "_emails", {})
        keys: dict[str, list[dict]] = {email: [] for email in emails.values()}
        for res in self.each(by_type, T_ACCOUNT_KEY):
            target = self.ref(res, ("service_account_id",), T_ACCOUNT)
            email = emails.get(target) or (target or "").rsplit("/", 1)[-1]
            if "@" not in email:
                continue
            name = self.value(res, "name")
            keys.setdefault(email, []).append({
                "name": name if isinstance(name, str) and name else res.address,
                "validAfterTime": self.value(res, "valid_after"), "keyType": "USER_MANAGED",
                "disabled": bool(self.value(res, "disabled", default=False)), "_address": res.address})
        self.iam["serviceAccountKeys"] = [{"serviceAccount": email, "keys": found} for email, found in keys.items()]

    def snapshot(self) -> dict:
        policies = [{"resource": resource, "policy": {"bindings": bindings}}
                    for resource, bindings in self.policies.items() if not resource.startswith(("folders/", "organ"))
                    and "/serviceAccounts/" not in resource]
        ancestors = [{"resource": r} for r in self.policies if r.startswith(("folders/", "organizations/"))]
        policies += [{"resource": r, "policy": {"bindings": b}} for r, b in self.policies.items()
                     if r.startswith(("folders/", "organizations/"))]
        self.iam["serviceAccountPolicies"] = [{"resource": r, "policy": {"bindings": b}}
                                              for r, b in self.policies.items() if "/serviceAccounts/" in r]
        if self.project == DEFAULT_PROJECT:
            self.notes.append(f"No project is named in the plan: its resources are placed in {DEFAULT_PROJECT}")
        return {"provider": "gcp", "source": "terraform", "scope": self.project,
                "project": {"projectId": self.project, "labels": self.labels},
                "compute": self.compute, "iam": self.iam, "iam_policies": policies, "ancestors": ancestors,
                "shared_vpc": getattr(self, "shared_vpc", None),
                "gaps": self.gaps, "notes": self.notes}
