"""A replay fake of the Google Cloud REST APIs on loopback, and GCP estates in their replies' shapes.

`GcpEstate` builds a project as the REST APIs (compute v1, Resource Manager v3, IAM v1) return it:
each resource a JSON object with its selfLink, every list the collector reads recorded (empty when
the estate has none). `GcpFake` serves the recorded replies from a pytest-httpserver on 127.0.0.1:
lists are paged by the fake itself (two items, or one aggregated scope, per page, with its own
`nextPageToken`), anything not recorded is a JSON 404 naming the path, and every request is kept
so that a test can prove the collector made no call but a read.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from werkzeug import Request, Response

COMPUTE = "/compute/v1"
PAGE = 2
GLOBAL_LISTS = {"networks": "networks", "firewalls": "firewalls", "routes": "routes", "globalAddresses": "addresses",
                "globalForwardingRules": "forwardingRules", "targetTcpProxies": "targetTcpProxies",
                "targetSslProxies": "targetSslProxies", "networkFirewallPolicies": "firewallPolicies"}
AGGREGATED_LISTS = {"instances": "instances", "disks": "disks", "instanceGroupManagers": "instanceGroupManagers",
                    "instanceTemplates": "instanceTemplates", "instanceGroups": "instanceGroups",
                    "subnetworks": "subnetworks", "addresses": "addresses", "forwardingRules": "forwardingRules",
                    "backendServices": "backendServices", "targetPools": "targetPools", "routers": "routers",
                    "urlMaps": "urlMaps", "targetHttpProxies": "targetHttpProxies",
                    "targetHttpsProxies": "targetHttpsProxies"}
READ_POSTS = (":getIamPolicy", "/listInstances")


def now_minus(hours: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)).isoformat()


class GcpEstate:
    """One project's estate in the REST APIs' own shapes."""

    def __init__(self, project: str = "acme-ci", number: str = "123456789012", *, labels: dict | None = None,
                 parent: str = "folders/2001", region: str = "us-central1") -> None:
        self.project, self.number, self.region, self.zone = project, number, region, f"{region}-a"
        self.link = f"https://compute.googleapis.com/compute/v1/projects/{project}"
        self.resource = {"name": f"projects/{number}", "projectId": project, "parent": parent, "state": "ACTIVE",
                         "displayName": project, "labels": labels or {}}
        self.compute: dict[str, list[dict]] = {name: [] for name in (*GLOBAL_LISTS, *AGGREGATED_LISTS)}
        self.bindings: list[dict] = []
        self.ancestors: dict[str, list[dict]] = {parent: []}
        self.accounts: list[dict] = []
        self.account_bindings: dict[str, list[dict]] = {}
        self.roles: dict[str, list[str]] = {
            "roles/editor": ["compute.instances.create", "compute.instances.setMetadata", "storage.buckets.delete"],
            "roles/owner": ["resourcemanager.projects.setIamPolicy", "compute.instances.create"],
            "roles/viewer": ["compute.instances.get", "compute.instances.list"],
            "roles/iam.serviceAccountTokenCreator": ["iam.serviceAccounts.getAccessToken",
                                                     "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt",
                                                     "iam.serviceAccounts.implicitDelegation"],
            "roles/iam.serviceAccountUser": ["iam.serviceAccounts.actAs", "iam.serviceAccounts.get"],
            "roles/resourcemanager.projectIamAdmin": ["resourcemanager.projects.getIamPolicy",
                                                      "resourcemanager.projects.setIamPolicy"],
            "roles/compute.instanceAdmin.v1": ["compute.instances.create", "compute.instances.setMetadata"],
        }
        self.member_lists: dict[str, list[str]] = {}
        self.pools: list[dict] = []
        self.xpn: dict[str, Any] = {"status": None, "host": None, "services": []}
        self.keys: dict[str, list[dict]] = {}

    # -- network ------------------------------------------------------------------------

    def network(self, name: str = "default", *, internet_route: bool = True, route_tags: list[str] | None = None,
                cidr: str = "10.128.0.0/20") -> str:
        link = f"{self.link}/global/networks/{name}"
        self.compute["networks"].append({"kind": "compute#network", "name": name, "selfLink": link,
                                         "autoCreateSubnetworks": False, "subnetworks": []})
        subnet = f"{self.link}/regions/{self.region}/subnetworks/{name}-{self.region}"
        self.compute["subnetworks"].append({"kind": "compute#subnetwork", "name": f"{name}-{self.region}",
                                            "selfLink": subnet, "network": link, "ipCidrRange": cidr,
                                            "region": f"{self.link}/regions/{self.region}"})
        if internet_route:
            route = {"kind": "compute#route", "name": f"default-route-{name}", "network": link, "destRange": "0.0.0.0/0",
                     "priority": 1000, "nextHopGateway": f"{self.link}/global/gateways/default-internet-gateway",
                     "selfLink": f"{self.link}/global/routes/default-route-{name}"}
            if route_tags:
                route["tags"] = route_tags
            self.compute["routes"].append(route)
        return link

    def firewall(self, name: str, network: str, *, allow: list[tuple[str, list[str]]] = (), deny=(),
                 sources: list[str] | None = None, source_tags: list[str] | None = None,
                 targets: list[str] | None = None, target_accounts: list[str] | None = None, priority: int = 1000,
                 disabled: bool = False, direction: str = "INGRESS") -> None:
        rule: dict[str, Any] = {"kind": "compute#firewall", "name": name, "network": network, "priority": priority,
                                "direction": direction, "disabled": disabled,
                                "selfLink": f"{self.link}/global/firewalls/{name}"}
        if allow:
            rule["allowed"] = [{"IPProtocol": p, **({"ports": ports} if ports else {})} for p, ports in allow]
        if deny:
            rule["denied"] = [{"IPProtocol": p, **({"ports": ports} if ports else {})} for p, ports in deny]
        if sources is not None:
            rule["sourceRanges"] = sources
        if source_tags:
            rule["sourceTags"] = source_tags
        if targets:
            rule["targetTags"] = targets
        if target_accounts:
            rule["targetServiceAccounts"] = target_accounts
        self.compute["firewalls"].append(rule)

    # -- instances ----------------------------------------------------------------------

    def instance(self, name: str, network: str, *, ip: str, nat_ip: str | None = None, tags: list[str] = (),
                 labels: dict | None = None, account: str | None = None, scopes: list[str] | None = None,
                 metadata: dict[str, str] | None = None, image: str = "debian-12-bookworm-v20261101",
                 group: str | None = None, created_hours_ago: float = 2) -> str:
        link = f"{self.link}/zones/{self.zone}/instances/{name}"
        # The network's own project holds its subnetworks: a Shared VPC host's, for a service project.
        subnet = (f"{network.split('/global/networks/')[0]}/regions/{self.region}/subnetworks/"
                  f"{network.rsplit('/', 1)[-1]}-{self.region}")
        nic: dict[str, Any] = {"name": "nic0", "network": network, "subnetwork": subnet, "networkIP": ip}
        if nat_ip:
            nic["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": nat_ip}]
        items = [{"key": k, "value": v} for k, v in (metadata or {}).items()]
        if group:
            items.append({"key": "created-by",
                          "value": f"projects/{self.number}/zones/{self.zone}/instanceGroupManagers/{group}"})
        disk = f"{self.link}/zones/{self.zone}/disks/{name}"
        item: dict[str, Any] = {
            "kind": "compute#instance", "name": name, "selfLink": link, "zone": f"{self.link}/zones/{self.zone}",
            "status": "RUNNING", "creationTimestamp": now_minus(created_hours_ago),
            "machineType": f"{self.link}/zones/{self.zone}/machineTypes/e2-standard-4",
            "networkInterfaces": [nic], "tags": {"items": list(tags)}, "labels": labels or {},
            "metadata": {"items": items}, "disks": [{"boot": True, "source": disk}]}
        if account:
            item["serviceAccounts"] = [{"email": account, "scopes": scopes or [
                "https://www.googleapis.com/auth/devstorage.read_only"]}]
        self.compute["instances"].append(item)
        self.compute["disks"].append({"kind": "compute#disk", "name": name, "selfLink": disk,
                                      "sourceImage": f"https://compute.googleapis.com/compute/v1/projects/debian-cloud/"
                                                     f"global/images/{image}"})
        return link

    def https_load_balancer(self, name: str, members: list[str], *, port: int = 8080,
                            managed_group: str | None = None) -> None:
        """An external HTTPS load balancer: forwarding rule 443 -> proxy -> url map -> backend
        service -> an unmanaged instance group of `members`, on the group's named port; or the
        group of managed instance group `managed_group`, whose instances were made with it."""
        group_name = managed_group or f"{name}-group"
        group = f"{self.link}/zones/{self.zone}/instanceGroups/{group_name}"
        self.compute["instanceGroups"].append({"kind": "compute#instanceGroup", "name": group_name,
                                               "selfLink": group, "zone": f"{self.link}/zones/{self.zone}",
                                               "namedPorts": [{"name": "http", "port": port}]})
        if managed_group:
            self.compute["instanceGroupManagers"].append({
                "kind": "compute#instanceGroupManager", "name": managed_group, "zone": f"{self.link}/zones/{self.zone}",
                "selfLink": f"{self.link}/zones/{self.zone}/instanceGroupManagers/{managed_group}",
                "instanceGroup": group, "baseInstanceName": managed_group, "targetSize": 1,
                "namedPorts": [{"name": "http", "port": port}]})
        else:
            self.member_lists[f"{COMPUTE}/projects/{self.project}/zones/{self.zone}/instanceGroups/{name}-group/"
                              "listInstances"] = members
        service = f"{self.link}/global/backendServices/{name}-backend"
        self.compute["backendServices"].append({"kind": "compute#backendService", "name": f"{name}-backend",
                                                "selfLink": service, "portName": "http", "protocol": "HTTP",
                                                "loadBalancingScheme": "EXTERNAL_MANAGED",
                                                "backends": [{"group": group}]})
        url_map = f"{self.link}/global/urlMaps/{name}-map"
        self.compute["urlMaps"].append({"kind": "compute#urlMap", "name": f"{name}-map", "selfLink": url_map,
                                        "defaultService": service})
        proxy = f"{self.link}/global/targetHttpsProxies/{name}-proxy"
        self.compute["targetHttpsProxies"].append({"kind": "compute#targetHttpsProxy", "name": f"{name}-proxy",
                                                   "selfLink": proxy, "urlMap": url_map})
        self.compute["globalForwardingRules"].append({
            "kind": "compute#forwardingRule", "name": f"{name}-rule", "selfLink": f"{self.link}/global/forwardingRules/"
            f"{name}-rule", "IPAddress": "34.120.0.10", "IPProtocol": "TCP", "portRange": "443-443", "target": proxy,
            "loadBalancingScheme": "EXTERNAL_MANAGED"})

    # -- IAM ----------------------------------------------------------------------------

    def service_account(self, name: str) -> str:
        email = name if "@" in name else f"{name}@{self.project}.iam.gserviceaccount.com"
        self.accounts.append({"name": f"projects/{self.project}/serviceAccounts/{email}", "email": email,
                              "projectId": self.project, "uniqueId": str(100000 + len(self.accounts)),
                              "displayName": name.split("@")[0]})
        return email

    def default_compute_account(self) -> str:
        """The default compute service account, with roles/editor as Google grants it by default."""
        email = self.service_account(f"{self.number}-compute@developer.gserviceaccount.com")
        self.grant("roles/editor", email)
        return email

    def grant(self, role: str, email: str, *, on: str | None = None) -> None:
        """Bind the role to the service account on the project, an ancestor (`folders/..`) or
        another service account (its email)."""
        member = f"serviceAccount:{email}"
        if on is None:
            target = self.bindings
        elif "@" in on:
            target = self.account_bindings.setdefault(on, [])
        else:
            target = self.ancestors.setdefault(on, [])
        for binding in target:
            if binding["role"] == role:
                binding["members"].append(member)
                return
        target.append({"role": role, "members": [member]})

    def xpn_host(self) -> None:
        """Make the project a Shared VPC host."""
        self.xpn["status"] = "HOST"

    def xpn_service_of(self, host: "GcpEstate") -> None:
        """Attach the project to a Shared VPC host as a service project."""
        self.xpn["host"] = host.project
        host.xpn["services"].append(self.project)

    def workload_pool(self, pool: str, issuer: str = "https://token.actions.githubusercontent.com", *,
                      condition: str | None = None, mapping: dict | None = None, disabled: bool = False) -> str:
        """A workload identity pool with one OIDC provider (named as the pool); its name."""
        name = f"projects/{self.number}/locations/global/workloadIdentityPools/{pool}"
        provider = {"name": f"{name}/providers/{pool}", "displayName": pool, "state": "ACTIVE", "disabled": disabled,
                    "oidc": {"issuerUri": issuer},
                    "attributeMapping": mapping or {"google.subject": "assertion.sub",
                                                    "attribute.repository": "assertion.repository",
                                                    "attribute.repository_owner": "assertion.repository_owner"}}
        if condition:
            provider["attributeCondition"] = condition
        self.pools.append({"name": name, "state": "ACTIVE", "disabled": False, "_providers": [provider]})
        return name

    def federate(self, email: str, member: str, role: str = "roles/iam.workloadIdentityUser") -> None:
        """Let a principal (`principalSet://...`) act as the service account."""
        bindings = self.account_bindings.setdefault(email, [])
        bindings.append({"role": role, "members": [member]})

    def key(self, email: str, key_id: str, *, days_old: float = 10, disabled: bool = False) -> None:
        self.keys.setdefault(email, []).append({
            "name": f"projects/{self.project}/serviceAccounts/{email}/keys/{key_id}",
            "validAfterTime": now_minus(days_old * 24).replace("+00:00", "Z"), "validBeforeTime": "9999-12-31T23:59:59Z",
            "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED", "keyType": "USER_MANAGED",
            **({"disabled": True} if disabled else {})})

    # -- the same estate as a Terraform plan ---------------------------------------------------

    def as_plan(self) -> dict:
        """The estate as `terraform show -json` of a plan that creates it (google provider 5.x
        attribute names), every value known, references given as the referenced self_link."""
        changes: list[dict] = []

        def add(kind: str, name: str, after: dict) -> None:
            changes.append({"address": f"{kind}.{name}", "mode": "managed", "type": kind, "name": name,
                            "change": {"actions": ["create"], "after": {"project": self.project, **after},
                                       "after_unknown": {}}})

        if self.xpn["status"] == "HOST":
            add("google_compute_shared_vpc_host_project", f"host-{self.project}", {})
        if self.xpn["host"]:
            add("google_compute_shared_vpc_service_project", f"service-{self.project}",
                {"host_project": self.xpn["host"], "service_project": self.project})
        if self.resource.get("labels"):
            add("google_project", "this", {"project_id": self.project, "name": self.project, "number": self.number,
                                           "labels": self.resource["labels"]})
        for net in self.compute["networks"]:
            add("google_compute_network", net["name"], {"name": net["name"], "self_link": net["selfLink"],
                                                        "auto_create_subnetworks": False,
                                                        "delete_default_routes_on_create": True})
        for sub in self.compute["subnetworks"]:
            add("google_compute_subnetwork", sub["name"], {"name": sub["name"], "self_link": sub["selfLink"],
                                                           "network": sub["network"], "ip_cidr_range": sub["ipCidrRange"],
                                                           "region": self.region})
        for route in self.compute["routes"]:
            add("google_compute_route", route["name"], {"name": route["name"], "network": route["network"],
                                                        "dest_range": route["destRange"], "priority": route["priority"],
                                                        "next_hop_gateway": "default-internet-gateway",
                                                        "tags": route.get("tags", [])})
        for rule in self.compute["firewalls"]:
            add("google_compute_firewall", rule["name"], {
                "name": rule["name"], "network": rule["network"], "direction": rule["direction"],
                "priority": rule["priority"], "disabled": rule["disabled"],
                "allow": [{"protocol": a["IPProtocol"], "ports": a.get("ports", [])} for a in rule.get("allowed", [])],
                "deny": [{"protocol": d["IPProtocol"], "ports": d.get("ports", [])} for d in rule.get("denied", [])],
                "source_ranges": rule.get("sourceRanges", []), "source_tags": rule.get("sourceTags", []),
                "target_tags": rule.get("targetTags", []),
                "target_service_accounts": rule.get("targetServiceAccounts", [])})
        for account in self.accounts:
            if account["email"].endswith("-compute@developer.gserviceaccount.com"):
                continue  # GCP's own: no Terraform resource creates it
            add("google_service_account", account["displayName"], {"account_id": account["displayName"],
                                                                   "email": account["email"],
                                                                   "name": account["name"]})
        for binding in self.bindings:
            for member in binding["members"]:
                if member.split(":", 1)[1].endswith("-compute@developer.gserviceaccount.com"):
                    continue  # the default grant, which the translation assumes
                add("google_project_iam_member", f"{binding['role'].rsplit('/', 1)[-1]}-{len(changes)}",
                    {"role": binding["role"], "member": member,
                     "condition": [binding["condition"]] if binding.get("condition") else []})
        for folder, bindings in self.ancestors.items():
            for binding in bindings:
                for member in binding["members"]:
                    add("google_folder_iam_member", f"folder-{len(changes)}",
                        {"folder": folder, "role": binding["role"], "member": member})
        for pool in self.pools:
            pool_id = pool["name"].rsplit("/", 1)[-1]
            add("google_iam_workload_identity_pool", pool_id, {"workload_identity_pool_id": pool_id,
                                                               "disabled": pool["disabled"]})
            for provider in pool["_providers"]:
                add("google_iam_workload_identity_pool_provider", provider["displayName"], {
                    "workload_identity_pool_id": pool_id, "workload_identity_pool_provider_id": provider["displayName"],
                    "disabled": provider["disabled"], "attribute_mapping": provider["attributeMapping"],
                    "attribute_condition": provider.get("attributeCondition"),
                    "oidc": [{"issuer_uri": provider["oidc"]["issuerUri"], "allowed_audiences": []}]})
        for email, keys in self.keys.items():
            for key in keys:
                add("google_service_account_key", key["name"].rsplit("/", 1)[-1], {
                    "service_account_id": f"projects/{self.project}/serviceAccounts/{email}",
                    "name": key["name"], "valid_after": key["validAfterTime"], "key_algorithm": "KEY_ALG_RSA_2048",
                    "disabled": key.get("disabled", False)})
        for email, bindings in self.account_bindings.items():
            for binding in bindings:
                for member in binding["members"]:
                    add("google_service_account_iam_member", f"on-{email.split('@')[0]}-{len(changes)}",
                        {"service_account_id": f"projects/{self.project}/serviceAccounts/{email}",
                         "role": binding["role"], "member": member})
        disks = {d["selfLink"]: d["sourceImage"] for d in self.compute["disks"]}
        for inst in self.compute["instances"]:
            metadata = {i["key"]: i["value"] for i in inst["metadata"]["items"] if i["key"] != "created-by"}
            startup = metadata.pop("startup-script", None)
            nics = [{"network": n["network"], "subnetwork": n["subnetwork"], "network_ip": n["networkIP"],
                     "access_config": [{"nat_ip": c["natIP"]} for c in n.get("accessConfigs", [])]}
                    for n in inst["networkInterfaces"]]
            values = {"name": inst["name"], "zone": self.zone, "self_link": inst["selfLink"],
                      "tags": inst["tags"]["items"], "labels": inst["labels"], "metadata": metadata,
                      "network_interface": nics,
                      "service_account": [{"email": a["email"], "scopes": a["scopes"]}
                                          for a in inst.get("serviceAccounts", [])],
                      "boot_disk": [{"initialize_params": [{"image": disks[inst["disks"][0]["source"]]}]}]}
            if startup:
                values["metadata_startup_script"] = startup
            created_by = next((i["value"] for i in inst["metadata"]["items"] if i["key"] == "created-by"), None)
            if created_by:
                group = created_by.rsplit("/", 1)[-1]
                template = {k: v for k, v in values.items() if k not in ("name", "zone", "self_link", "boot_disk")}
                template["disk"] = [{"source_image": values["boot_disk"][0]["initialize_params"][0]["image"],
                                     "boot": True}]
                template_link = f"{self.link}/global/instanceTemplates/{group}"
                add("google_compute_instance_template", group, {"name": group, "self_link": template_link,
                                                                "name_prefix": None, **template})
                add("google_compute_instance_group_manager", group, {
                    "name": group, "zone": self.zone, "base_instance_name": inst["name"],
                    "self_link": f"{self.link}/zones/{self.zone}/instanceGroupManagers/{group}",
                    "named_port": [{"name": p["name"], "port": p["port"]} for m in self.compute["instanceGroupManagers"]
                                   if m["name"] == group for p in m["namedPorts"]],
                    "version": [{"instance_template": template_link}], "target_size": 1})
            else:
                add("google_compute_instance", inst["name"], values)
        managers = {m["instanceGroup"]: m["selfLink"] for m in self.compute["instanceGroupManagers"]}
        for group in self.compute["instanceGroups"]:
            if group["selfLink"] in managers:
                continue  # the managed instance group's own, made with it
            members = next(m for p, m in self.member_lists.items() if p.endswith(f"/{group['name']}/listInstances"))
            add("google_compute_instance_group", group["name"], {
                "name": group["name"], "zone": self.zone, "self_link": group["selfLink"], "instances": members,
                "named_port": group["namedPorts"]})
        for service in self.compute["backendServices"]:
            add("google_compute_backend_service", service["name"], {
                "name": service["name"], "self_link": service["selfLink"], "port_name": service["portName"],
                "protocol": service["protocol"], "load_balancing_scheme": service["loadBalancingScheme"],
                "backend": [{"group": managers.get(b["group"], b["group"])} for b in service["backends"]]})
        for url_map in self.compute["urlMaps"]:
            add("google_compute_url_map", url_map["name"], {"name": url_map["name"], "self_link": url_map["selfLink"],
                                                            "default_service": url_map["defaultService"]})
        for proxy in self.compute["targetHttpsProxies"]:
            add("google_compute_target_https_proxy", proxy["name"], {"name": proxy["name"],
                                                                     "self_link": proxy["selfLink"],
                                                                     "url_map": proxy["urlMap"]})
        for rule in self.compute["globalForwardingRules"]:
            add("google_compute_global_forwarding_rule", rule["name"], {
                "name": rule["name"], "port_range": rule["portRange"], "target": rule["target"],
                "ip_address": rule["IPAddress"], "ip_protocol": rule["IPProtocol"],
                "load_balancing_scheme": rule["loadBalancingScheme"]})
        return {"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": changes}

    # -- the replies ----------------------------------------------------------------------

    def replies(self) -> dict[tuple[str, str], Any]:
        """Every reply of the estate by (method, path)."""
        p = self.project
        out: dict[tuple[str, str], Any] = {}
        for name, path in GLOBAL_LISTS.items():
            out[("GET", f"{COMPUTE}/projects/{p}/global/{path}")] = {"kind": f"compute#{name}List",
                                                                     "items": self.compute[name]}
        for name, path in AGGREGATED_LISTS.items():
            scopes: dict[str, dict] = {}
            for item in self.compute[name]:
                scope = (f"zones/{item['zone'].rsplit('/', 1)[-1]}" if item.get("zone") else
                         f"regions/{item['region'].rsplit('/', 1)[-1]}" if item.get("region") else "global")
                scopes.setdefault(scope, {}).setdefault(name, []).append(item)
            scopes.setdefault("zones/europe-west1-b", {"warning": {"code": "NO_RESULTS_ON_PAGE",
                                                                   "message": "There are no results"}})
            out[("GET", f"{COMPUTE}/projects/{p}/aggregated/{path}")] = {"kind": f"compute#{name}AggregatedList",
                                                                         "items": scopes}
        for path, members in self.member_lists.items():
            out[("POST", path)] = {"items": [{"instance": m, "status": "RUNNING"} for m in members]}
        out[("GET", f"/v3/projects/{p}")] = self.resource
        out[("GET", f"{COMPUTE}/projects/{p}")] = {"kind": "compute#project", "name": p, "id": self.number,
                                                   "xpnProjectStatus": self.xpn["status"] or
                                                   "UNSPECIFIED_XPN_PROJECT_STATUS"}
        out[("GET", f"{COMPUTE}/projects/{p}/getXpnHost")] = (
            {"kind": "compute#project", "name": self.xpn["host"], "xpnProjectStatus": "HOST"} if self.xpn["host"] else {})
        if self.xpn["status"] == "HOST":
            out[("GET", f"{COMPUTE}/projects/{p}/getXpnResources")] = {
                "kind": "compute#projectsGetXpnResources",
                "resources": [{"type": "PROJECT", "id": service} for service in self.xpn["services"]]}
        out[("POST", f"/v3/projects/{p}:getIamPolicy")] = {"version": 1, "etag": "BwX=", "bindings": self.bindings}
        for ancestor, bindings in self.ancestors.items():
            out[("POST", f"/v3/{ancestor}:getIamPolicy")] = {"version": 1, "etag": "BwX=", "bindings": bindings}
            if ancestor.startswith("folders/"):
                out[("GET", f"/v3/{ancestor}")] = {"name": ancestor, "parent": "organizations/3001", "state": "ACTIVE",
                                                   "displayName": "ci"}
        out.setdefault(("POST", "/v3/organizations/3001:getIamPolicy"), {"version": 1, "etag": "BwX=", "bindings": []})
        out[("GET", f"/v1/projects/{p}/serviceAccounts")] = {"accounts": self.accounts}
        for account in self.accounts:
            out[("POST", f"/v1/projects/{p}/serviceAccounts/{account['email']}:getIamPolicy")] = {
                "version": 1, "etag": "BwX=", "bindings": self.account_bindings.get(account["email"], [])}
        for account in self.accounts:
            out[("GET", f"/v1/projects/{p}/serviceAccounts/{account['email']}/keys")] = {
                "keys": self.keys.get(account["email"], [])}
        out[("GET", f"/v1/projects/{p}/locations/global/workloadIdentityPools")] = {
            "workloadIdentityPools": [{k: v for k, v in pool.items() if k != "_providers"} for pool in self.pools]}
        for pool in self.pools:
            out[("GET", f"/v1/{pool['name']}/providers")] = {"workloadIdentityPoolProviders": pool["_providers"]}
        out[("GET", f"/v1/projects/{p}/roles")] = {"roles": []}
        out[("GET", "/v1/organizations/3001/roles")] = {"roles": []}
        for role, permissions in self.roles.items():
            out[("GET", f"/v1/{role}")] = {"name": role, "includedPermissions": permissions, "stage": "GA"}
        return out


class GcpFake:
    """Serves recorded replies; pages lists; a JSON 404 for anything else; keeps every request."""

    def __init__(self, server) -> None:
        self.server = server
        self.replies: dict[tuple[str, str], Any] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        server.expect_request("").respond_with_handler(self._handle)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def environment(self) -> dict[str, str]:
        return {"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": f"{self.base}/compute/v1/",
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": f"{self.base}/",
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM": f"{self.base}/",
                "GOOGLE_OAUTH_ACCESS_TOKEN": "fake-token", "NO_GCE_CHECK": "True"}

    def serve(self, *estates: GcpEstate, overrides: dict | None = None) -> None:
        with self._lock:
            self.replies = {}
            for estate in estates:
                self.replies.update(estate.replies())
            self.replies.update(overrides or {})
            self.requests = []

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            reply = self.replies.get((request.method, request.path))
        if callable(reply) and not isinstance(reply, Response):  # a reply made when asked (a slow one)
            reply = reply()
        if isinstance(reply, Response):
            return reply
        if reply is None:
            return _json({"error": {"code": 404, "message": f"not recorded: {request.method} {request.path}",
                                    "status": "NOT_FOUND"}}, 404)
        return _json(_page(reply, request.args.get("pageToken")))


def _page(reply: Any, token: str | None) -> Any:
    """The page `token` names of a list reply (the fake owns paging: recorded tokens are dropped)."""
    if not isinstance(reply, dict):
        return reply
    for field in ("items", "accounts", "roles", "workloadIdentityPools", "workloadIdentityPoolProviders"):
        items = reply.get(field)
        if isinstance(items, list) and len(items) > PAGE:
            start = int(token or 0)
            page = {**reply, field: items[start:start + PAGE]}
            page.pop("nextPageToken", None)
            if start + PAGE < len(items):
                page["nextPageToken"] = str(start + PAGE)
            return page
        if isinstance(items, dict) and len(items) > 1:
            keys = sorted(items)
            start = int(token or 0)
            page = {**reply, field: {keys[start]: items[keys[start]]}}
            if start + 1 < len(keys):
                page["nextPageToken"] = str(start + 1)
            return page
    return reply


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
