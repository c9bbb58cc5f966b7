"""Synthetic Google Cloud estates for the benchmark, in the GCP snapshot format (the REST APIs' replies).

One project laid out as a large GCP estate is:
- one VPC network per ~500 instances, each with a subnetwork in three regions, the default route
  to the internet gateway and a tagged route for NAT-free egress, about 30 firewall rules (allows
  by target tag per service tier from the load balancers' front ends, the office, other tiers by
  source tag, an SSH rule from anywhere on the bastion tag, a deny of telnet, a disabled rule);
- services of ~20 instances (web, app, worker, db, cache), each tier its network tag and a service
  account per application and tier (at most 80), ~30% labelled env=production; web instances in
  every fifth service carry an external IP;
- an external HTTPS load balancer per web service (forwarding rule, proxy, url map, backend
  service, instance group of the service);
- ~5% CI nodes per network: a Jenkins controller (`jenkins-N`, with an external IP and 8080 open to
  the internet in every fourth network) and GitLab runners created by managed instance groups, with
  a startup script, some holding a runner registration token; a Jenkins service account with editor
  in every third network, else a token creator on a deployer account;
- a peering between networks 3k and 3k+1.

Resources (nodes of the estate graph) are about 1.05 per instance; `instances_for(resources)`
gives the instance count for a size. The same arguments give the same snapshot.
"""

from __future__ import annotations

import random

from guardrails.snapshot import FORMAT, VERSION

INSTANCES_PER_NETWORK = 500
INSTANCES_PER_SERVICE = 20
CI_SHARE = 0.05
PRODUCTION_SHARE = 0.3
TIERS = ("web", "app", "worker", "db", "cache")
REGIONS = ("us-central1", "europe-west1", "asia-east1")
FRONT_END = ["35.191.0.0/16", "130.211.0.0/22"]
BASE = "https://compute.googleapis.com/compute/v1/projects"


def instances_for(resources: int) -> int:
    """Instances of an estate of about `resources` graph nodes (networks, firewalls, route tables,
    subnets, load balancers and identities come to about 5% of the instances)."""
    return max(20, int(resources / 1.05))


class _Builder:
    def __init__(self, instances: int, seed: int, project: str) -> None:
        self.random = random.Random(seed)
        self.project = project
        self.link = f"{BASE}/{project}"
        self.instances = instances
        self.compute: dict[str, list] = {k: [] for k in (
            "instances", "networks", "subnetworks", "firewalls", "routes", "routers", "globalForwardingRules",
            "targetHttpsProxies", "urlMaps", "backendServices", "instanceGroups", "instanceGroupManagers",
            "forwardingRules", "targetPools", "addresses", "globalAddresses", "disks", "instanceTemplates",
            "targetHttpProxies", "targetTcpProxies", "targetSslProxies", "networkFirewallPolicies")}
        self.accounts: list[dict] = []
        self.bindings: dict[str, list[str]] = {}
        self.account_policies: list[dict] = []
        self.counter = 0

    def ip(self, net: int, n: int) -> str:
        return f"10.{net % 250}.{(n >> 8) & 255}.{n & 255}"

    def public_ip(self) -> str:
        return f"34.{self.random.randint(64, 127)}.{self.random.randint(0, 255)}.{self.random.randint(1, 254)}"

    def account(self, name: str) -> str:
        email = f"{name}@{self.project}.iam.gserviceaccount.com"
        if not any(a["email"] == email for a in self.accounts):
            self.accounts.append({"email": email, "projectId": self.project, "displayName": name,
                                  "name": f"projects/{self.project}/serviceAccounts/{email}"})
        return email

    def grant(self, role: str, email: str) -> None:
        self.bindings.setdefault(role, []).append(f"serviceAccount:{email}")

    def build(self) -> dict:
        networks = max(1, -(-self.instances // INSTANCES_PER_NETWORK))
        self.compute["routes"].append({"name": "placeholder", "network": "", "destRange": "0.0.0.0/0"})
        self.compute["routes"].clear()
        deployer = self.account("deployer")
        self.grant("roles/owner", deployer)
        left = self.instances
        for net in range(networks):
            count = min(INSTANCES_PER_NETWORK, left)
            left -= count
            self._network(net, count, networks)
        policies = [{"resource": f"projects/{self.project}",
                     "policy": {"bindings": [{"role": r, "members": m} for r, m in self.bindings.items()]}}]
        roles = [{"name": "roles/editor", "includedPermissions": ["compute.instances.create"]},
                 {"name": "roles/owner", "includedPermissions": ["resourcemanager.projects.setIamPolicy"]},
                 {"name": "roles/viewer", "includedPermissions": ["compute.instances.list"]},
                 {"name": "roles/iam.serviceAccountTokenCreator",
                  "includedPermissions": ["iam.serviceAccounts.getAccessToken"]}]
        return {"format": FORMAT, "version": VERSION, "provider": "gcp", "source": "gcp", "scope": self.project,
                "project": {"projectId": self.project, "name": "projects/1", "labels": {}},
                "compute": self.compute, "iam_policies": policies, "ancestors": [],
                "iam": {"serviceAccounts": self.accounts, "serviceAccountPolicies": self.account_policies,
                        "customRoles": [], "roles": roles, "workloadIdentityPools": [],
                        "serviceAccountKeys": [{"serviceAccount": a["email"], "keys": []} for a in self.accounts]},
                "shared_vpc": {"status": None, "host": None, "services": []},
                "gaps": [], "notes": []}

    def _network(self, net: int, count: int, networks: int) -> None:
        link = f"{self.link}/global/networks/net-{net}"
        peerings = []
        if net % 3 == 0 and net + 1 < networks:
            peerings.append({"name": f"peer-{net}", "network": f"{self.link}/global/networks/net-{net + 1}",
                             "state": "ACTIVE"})
        if net % 3 == 1:
            peerings.append({"name": f"peer-{net - 1}", "network": f"{self.link}/global/networks/net-{net - 1}",
                             "state": "ACTIVE"})
        self.compute["networks"].append({"name": f"net-{net}", "selfLink": link, "peerings": peerings})
        subnets = []
        for r, region in enumerate(REGIONS):
            sub = f"{self.link}/regions/{region}/subnetworks/net-{net}-{region}"
            self.compute["subnetworks"].append({"name": f"net-{net}-{region}", "selfLink": sub, "network": link,
                                                "ipCidrRange": f"10.{net % 250}.{r * 64}.0/18",
                                                "region": f"{self.link}/regions/{region}"})
            subnets.append((sub, region, r))
        self.compute["routes"] += [
            {"name": f"default-{net}", "network": link, "destRange": "0.0.0.0/0", "priority": 1000,
             "nextHopGateway": f"{self.link}/global/gateways/default-internet-gateway"},
            {"name": f"egress-{net}", "network": link, "destRange": "0.0.0.0/0", "priority": 900, "tags": ["egress"],
             "nextHopGateway": f"{self.link}/global/gateways/default-internet-gateway"}]
        self.compute["routers"].append({"name": f"nat-{net}", "network": link, "nats": [{"name": f"nat-{net}"}]})
        rules = [("lb-to-web", ["tcp"], ["8080"], FRONT_END, None, ["web"], 1000),
                 ("office-ssh", ["tcp"], ["22"], ["198.51.100.0/24"], None, None, 1000),
                 ("bastion-ssh", ["tcp"], ["22"], ["0.0.0.0/0"], None, ["bastion"], 1000),
                 ("jenkins-ui", ["tcp"], ["8080"], ["0.0.0.0/0"] if net % 4 == 0 else ["198.51.100.0/24"], None,
                  ["jenkins"], 1000),
                 ("web-to-app", ["tcp"], ["8443"], None, ["web"], ["app"], 1000),
                 ("app-to-db", ["tcp"], ["5432"], None, ["app"], ["db"], 1000),
                 ("app-to-cache", ["tcp"], ["6379"], None, ["app"], ["cache"], 1000),
                 ("runner-to-app", ["tcp"], ["8443"], None, ["runner"], ["app"], 1000),
                 ("health", ["tcp"], ["80"], FRONT_END, None, None, 1000)]
        for i in range(20):
            rules.append((f"svc-{i}", ["tcp"], [str(9000 + i)], [f"10.{net % 250}.{i}.0/24"], None, [f"svc-{i}"], 1000))
        for name, protos, ports, ranges, source_tags, targets, priority in rules:
            item = {"name": f"{name}-{net}", "network": link, "direction": "INGRESS", "priority": priority,
                    "allowed": [{"IPProtocol": p, "ports": ports} for p in protos],
                    "selfLink": f"{self.link}/global/firewalls/{name}-{net}"}
            if ranges:
                item["sourceRanges"] = ranges
            if source_tags:
                item["sourceTags"] = source_tags
            if targets:
                item["targetTags"] = targets
            self.compute["firewalls"].append(item)
        self.compute["firewalls"] += [
            {"name": f"deny-telnet-{net}", "network": link, "direction": "INGRESS", "priority": 500,
             "denied": [{"IPProtocol": "tcp", "ports": ["23"]}], "sourceRanges": ["0.0.0.0/0"]},
            {"name": f"old-open-{net}", "network": link, "direction": "INGRESS", "priority": 100, "disabled": True,
             "allowed": [{"IPProtocol": "all"}], "sourceRanges": ["0.0.0.0/0"]}]
        ci = max(2, int(count * CI_SHARE))
        n = 0
        jenkins_account = self.account(f"jenkins-{net}")
        if net % 3 == 0:
            self.grant("roles/editor", jenkins_account)
        else:
            self.account_policies.append({"resource": f"projects/{self.project}/serviceAccounts/"
                                                      f"deployer@{self.project}.iam.gserviceaccount.com",
                                          "policy": {"bindings": [{"role": "roles/iam.serviceAccountTokenCreator",
                                                                   "members": [f"serviceAccount:{jenkins_account}"]}]}})
        sub, region, r = subnets[0]
        self._instance(f"jenkins-{net}", sub, region, self.ip(net, n + 2), ["jenkins", "egress"], {"app": "jenkins"},
                       jenkins_account, nat=net % 4 == 0)
        n += 1
        runner_account = self.account(f"runner-{net}")
        for i in range(ci - 1):
            sub, region, r = subnets[i % 3]
            self._instance(f"gitlab-runner-{net}-{i}", sub, region, self.ip(net, r * 16384 + n + 2), ["runner"],
                           {"ci-role": "runner"}, runner_account, group=f"runners-{net}",
                           script=("gitlab-runner register --token glrt-AbCdEf0123456789xyZ" if i % 10 == 0 else
                                   "apt-get install -y gitlab-runner"))
            n += 1
        service = 0
        while n < count:
            tier = TIERS[service % len(TIERS)]
            size = min(INSTANCES_PER_SERVICE, count - n)
            prod = self.random.random() < PRODUCTION_SHARE
            account = self.account(f"{tier}-app-{service % 16}")
            members = []
            for i in range(size):
                sub, region, r = subnets[i % 3]
                name = f"{tier}-{net}-{service}-{i}"
                members.append(self._instance(name, sub, region, self.ip(net, r * 16384 + n + 2),
                                              [tier, f"svc-{service % 20}"],
                                              {"env": "production" if prod else "staging", "tier": tier}, account,
                                              nat=tier == "web" and service % 5 == 0))
                n += 1
            if tier == "web":
                self._load_balancer(f"lb-{net}-{service}", members, region)
            service += 1

    def _instance(self, name: str, subnet: str, region: str, ip: str, tags: list[str], labels: dict, account: str,
                  nat: bool = False, group: str | None = None, script: str | None = None) -> str:
        zone = f"{region}-a"
        link = f"{self.link}/zones/{zone}/instances/{name}"
        nic = {"name": "nic0", "network": subnet.split("/regions/")[0] + "/global/networks/" +
               subnet.rsplit("/", 1)[-1].rsplit("-", 2)[0], "subnetwork": subnet, "networkIP": ip}
        if nat:
            nic["accessConfigs"] = [{"name": "External NAT", "natIP": self.public_ip()}]
        items = []
        if script:
            items.append({"key": "startup-script", "value": script})
        if group:
            items.append({"key": "created-by", "value": f"projects/1/zones/{zone}/instanceGroupManagers/{group}"})
        self.compute["instances"].append({
            "name": name, "selfLink": link, "zone": f"{self.link}/zones/{zone}", "status": "RUNNING",
            "creationTimestamp": "2026-11-01T10:00:00.000-07:00", "networkInterfaces": [nic],
            "tags": {"items": tags}, "labels": labels, "metadata": {"items": items},
            "serviceAccounts": [{"email": account, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]})
        return link

    def _load_balancer(self, name: str, members: list[str], region: str) -> None:
        group = f"{self.link}/zones/{region}-a/instanceGroups/{name}"
        self.compute["instanceGroups"].append({"name": name, "selfLink": group, "zone": f"{self.link}/zones/{region}-a",
                                               "namedPorts": [{"name": "http", "port": 8080}], "_members": members})
        service = f"{self.link}/global/backendServices/{name}"
        self.compute["backendServices"].append({"name": name, "selfLink": service, "portName": "http",
                                                "loadBalancingScheme": "EXTERNAL_MANAGED",
                                                "backends": [{"group": group}]})
        url_map = f"{self.link}/global/urlMaps/{name}"
        self.compute["urlMaps"].append({"name": name, "selfLink": url_map, "defaultService": service})
        proxy = f"{self.link}/global/targetHttpsProxies/{name}"
        self.compute["targetHttpsProxies"].append({"name": name, "selfLink": proxy, "urlMap": url_map})
        self.compute["globalForwardingRules"].append({
            "name": name, "selfLink": f"{self.link}/global/forwardingRules/{name}", "IPAddress": self.public_ip(),
            "IPProtocol": "TCP", "portRange": "443-443", "target": proxy, "loadBalancingScheme": "EXTERNAL_MANAGED"})


def generate_gcp(instances: int, seed: int = 0, project: str = "bench-ci") -> dict:
    """A GCP snapshot of `instances` instances (see the module docstring for the layout)."""
    return _Builder(instances, seed, project).build()
