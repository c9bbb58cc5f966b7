"""The estate schema: every node kind and edge kind of the estate graph, declared once.

Each kind is a frozen dataclass whose fields are the attributes a node or edge of that kind may
carry, each with its meaning. Providers write these attributes; analysis and checks read them and
nothing else, so a provider's own field names (an API reply's `PublicIpAddress`, say) stop at the
provider. Records nested inside attributes (an interface, a route, a listener, the metadata
service) are declared the same way.

The graph stores plain dicts for speed (a large estate has hundreds of thousands of nodes), so the
records are declarations, not the stored objects: `EstateGraph` checks every insert's attribute
names against its kind (a set lookup), and checks the values' types for the first inserts of each
kind, or for all of them in strict mode (`GUARDRAILS_STRICT_SCHEMA=1`, which the test suite sets).

"Unknown" has one vocabulary: a node's `unknown` attribute maps the neutral name of a fact
(`UNKNOWN_FACTS`) to why it is unknown (`NOT_COLLECTED` or `AFTER_APPLY`). A fact listed there is
neither true nor false: a stage that depends on it says so instead of reading it as absent.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from guardrails.rules import Rule

# -- the vocabulary of unknown ----------------------------------------------------------------

NOT_COLLECTED = "not_collected"
AFTER_APPLY = "after_apply"
UNKNOWN_REASONS = {
    NOT_COLLECTED: "not collected",
    AFTER_APPLY: "unknown until apply",
}

UNKNOWN_FACTS: dict[str, str] = {
    "public_ipv4": "whether the node gets a public IPv4 address, and which",
    "ipv6": "whether the node gets an IPv6 address, and which",
    "metadata_service": "the settings of the node's metadata service",
    "launch_data": "the data the node is given at launch (user data, startup script)",
    "firewalls": "the firewalls attached to the node or its interfaces",
    "identity": "the identity the node runs as",
    "subnet": "the subnet the node is placed in",
    "launch_settings": "the template or configuration the node is launched from",
    "image": "the image the node boots from",
    "cidrs": "the address ranges of a network or subnet",
    "network": "the network a resource belongs to",
    "routes": "the routes of a route table",
    "rules": "the rules of a firewall, or the entries of an address list",
    "ingress_rules": "the inbound rules of a firewall",
    "egress_rules": "the outbound rules of a firewall",
    "internet_facing": "whether a load balancer faces the internet",
    "listeners": "the listeners of a load balancer",
    "targets": "the targets a load balancer forwards to",
    "trust_policy": "who may assume an identity",
    "policies": "the policies granted to an identity",
    "access_keys": "the long-lived keys of an identity (access keys, service account keys)",
    "settings": "another setting of the resource that no check reads",
}


def unknown_text(reason: str) -> str:
    """How a finding words an unknown fact: 'unknown until apply' or 'not collected'."""
    return UNKNOWN_REASONS.get(reason, "unknown")


# -- declaring attributes ---------------------------------------------------------------------


def attr(doc: str, default: Any = None) -> Any:
    """One declared attribute: its meaning, and the value a reader assumes when it is absent."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


NODE_SCHEMAS: dict[str, type] = {}
EDGE_SCHEMAS: dict[str, type] = {}


def node_kind(kind: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        NODE_SCHEMAS[kind] = cls
        return cls
    return register


def edge_kind(kind: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        EDGE_SCHEMAS[kind] = cls
        return cls
    return register


# -- records nested in attributes -------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    """A network interface of a compute node, with its addresses."""

    id: str | None = attr("the interface's id, when it has one of its own")
    subnet: str | None = attr("id of the subnet the interface is in")
    private: list[str] = attr("private addresses, the primary one first", [])
    public: list[str] = attr("public IPv4 addresses the internet can reach it on", [])
    public_kind: str | None = attr("how its public IPv4 address is held: `ephemeral` (released when the node "
                                   "stops) or `static` (reserved, kept until released); None when it has none")
    ipv6: list[str] = attr("IPv6 addresses (all globally routable)", [])
    groups: list[str] = attr("ids of the firewalls attached to the interface (security groups, NSGs, the VPC "
                             "firewall of a GCP network)", [])
    network_tags: list[str] = attr("names that firewall rules and routes select the interface by (GCP network tags, "
                                   "Azure application security groups)", [])
    service_accounts: list[str] = attr("service accounts that firewall rules select the interface by (GCP target "
                                       "and source service accounts)", [])


@dataclass(frozen=True)
class Route:
    """One route of a route table."""

    destination: str = attr("destination address range (CIDR)")
    target: str | None = attr("id of the next hop")
    target_kind: str = attr("kind of next hop: `local` (within the network), or a gateway type "
                            "(internet, egress_only, nat, transit, peering, vpn, endpoint, appliance...)", "unknown")
    state: str = attr("`active`, or the provider's word for a route that carries nothing", "active")
    node_tags: list[str] = attr("the route applies only to interfaces with one of these network tags (GCP route "
                                "tags); empty: to every interface that uses the table", [])


@dataclass(frozen=True)
class UnknownRoute:
    """A route known only after apply that may send traffic to an internet gateway."""

    destination: str | None = attr("destination range (CIDR), or None when it too is known only after apply")
    target: str | None = attr("id of the gateway, or None when it is known only after apply")
    why: str = attr("what is unknown about the route, for the verdict's assumption", "")


@dataclass(frozen=True)
class Listener:
    """A load balancer listener."""

    id: str | None = attr("the listener's id")
    port: int | None = attr("port the listener accepts connections on")
    protocol: str = attr("listener protocol, upper case (HTTP, HTTPS, TCP, UDP, TCP_UDP, TLS...)", "")
    target_groups: list[str] = attr("ids of the target groups it forwards to", [])
    instance_port: int | None = attr("port on the instances it forwards to, when it forwards to instances directly")


@dataclass(frozen=True)
class MetadataService:
    """The instance metadata service of a compute node: where its credentials can be read."""

    enabled: bool = attr("whether the service answers at all", True)
    v1_allowed: bool = attr("whether it answers requests without a session token (IMDSv1)", True)
    hop_limit: int | None = attr("how many network hops its answers travel (1: not into containers)")
    session_tokens: str = attr("the provider's value of its session-token setting, for evidence", "optional")
    setting: str = attr("the provider's words for that setting, for evidence (e.g. HttpTokens=optional)", "")


@dataclass(frozen=True)
class TransitAttachment:
    """A network attached to a transit gateway."""

    id: str | None = attr("the attachment's id")
    resource_type: str | None = attr("what is attached: `vpc`, `vpn`, `peering`...")
    resource: str | None = attr("id of the attached network or connection")
    route_table: str | None = attr("id of the transit route table the attachment is associated with")


@dataclass(frozen=True)
class TransitRoute:
    """One route of a transit gateway's route table."""

    destination: str | None = attr("destination address range (CIDR)")
    attachments: list[str] = attr("ids of the attachments the route sends traffic to", [])
    state: str = attr("`active`, or `blackhole`", "active")


@dataclass(frozen=True)
class AccessKey:
    """A long-lived secret key of an identity: an AWS access key, a GCP service account key."""

    id: str = attr("the key's id (never the secret)")
    status: str = attr("`active` or `inactive`", "active")
    created: str | None = attr("when it was created (ISO 8601), None when not known")
    last_used: str | None = attr("when it was last used (ISO 8601), None when never or not known")
    last_used_service: str | None = attr("the service it was last used with, when known")
    kind: str = attr("what the provider calls it, for messages: `access key`, `service account key`", "access key")
    usage_known: bool = attr("whether its last use was collected (`last_used` None then means never used)", True)


@dataclass(frozen=True)
class SubjectCondition:
    """One condition of a trust on the subject (`sub`) of a federated token: the subject must match
    one of `values` (or, `negated`, none of them)."""

    operator: str = attr("`like` (`*` and `?` wildcards) or `equals` (exact)", "equals")
    negated: bool = attr("the subject must match none of the values", False)
    ignore_case: bool = attr("values compare without regard to case", False)
    values: list[str] = attr("the values, ORed", [])
    claim: str | None = attr("the token claim the condition tests, when the trust is written on claims (a GCP "
                             "attribute condition: `repository_owner`, `sub`) rather than on the subject: placed "
                             "in the subject once the issuer's CI platform is known (guardrails/federation.py "
                             "resolve_claims); None: the subject itself")
    about: str = attr("how the trust names that claim, for messages (`attribute.owner (mapped from "
                      "assertion.repository_owner)`)", "")


@dataclass(frozen=True)
class TrustClause:
    """One statement of a trust that lets an issuer's tokens become an identity (`allow`), or cuts
    that back (`deny`): it holds for a subject when every one of its conditions does. Conditions on
    claims the token's holder chooses (the audience) are left out: they never restrict who."""

    effect: str = attr("`allow` or `deny`", "allow")
    conditions: list[SubjectCondition] = attr("conditions on the subject, ANDed", [])
    unknown: list[str] = attr("conditions that could not be evaluated (an unknown operator or claim): the clause "
                              "may or may not hold, and a verdict resting on it is unknown", [])
    statement: str = attr("the statement as written, for evidence", "")


@dataclass(frozen=True)
class Proof:
    """One permission an identity-graph edge rests on (guardrails/identity_facts.py Proof)."""

    action: str = attr("the action or permission")
    resource: str = attr("the resource (or pattern) it is allowed on")
    statement: str = attr("the policy and statement, binding or assignment that allows it")
    condition: str = attr("a condition that could not be evaluated, so that the permission is possible only; "
                          "empty when none", "")


NESTED: dict[str, type] = {cls.__name__: cls for cls in (Interface, Route, UnknownRoute, Listener, MetadataService,
                                                          TransitAttachment, TransitRoute, AccessKey,
                                                          SubjectCondition, TrustClause, Proof)}
_NESTED_TYPES = frozenset(NESTED.values())


# -- nodes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRecord:
    """Attributes every node carries, whatever its kind."""

    kind: str = attr("the node's kind, a key of NODE_SCHEMAS")
    provider: str = attr("the provider that made the node (`aws`, `any` for the internet)")
    name: str = attr("display name: the Name tag or the provider's name, else the id")
    account: str | None = attr("the account, project or subscription it lives in")
    region: str | None = attr("its region, or None for global resources")
    tags: dict[str, str] = attr("its tags or labels", {})
    raw: dict = attr("a few of the provider's own fields, kept for evidence only: no analysis reads them", {})
    unknown: dict[str, str] = attr("facts about the node not known: UNKNOWN_FACTS name -> NOT_COLLECTED or "
                                   "AFTER_APPLY", {})
    address: str | None = attr("its address in the source that declared it (a Terraform resource address)")
    source_location: dict | None = attr("file and lines of the source that declared it")
    group: str | None = attr("the group node it belongs to (an Azure resource group), from which it inherits "
                             "production")


@node_kind("internet")
@dataclass(frozen=True)
class Internet(NodeRecord):
    """The one node standing for every internet address (id `internet`)."""


@node_kind("account")
@dataclass(frozen=True)
class Account(NodeRecord):
    """An AWS account, GCP project or Azure subscription."""

    aliases: list[str] = attr("the account's aliases (a production alias makes it production)", [])
    guardrail_policies: list[dict] | None = attr(
        "the organization's policies that bound every identity of the account (AWS service control policies), "
        "level by level from the root down: each {\"target\", \"level\", \"policies\": [{\"name\", \"document\"}]}; an "
        "action is allowed only where every level allows it and none denies it; empty where none applies (the "
        "management account, or the organization does not enable them); None where the account's were not "
        "collected (not in an organization, or unreadable)")


@node_kind("group")
@dataclass(frozen=True)
class Group(NodeRecord):
    """A container of resources inside an account whose tags, name or id (in the configuration) make
    what it holds production: an Azure resource group. Its members name it in their `group`."""


@node_kind("network")
@dataclass(frozen=True)
class Network(NodeRecord):
    """A private network: VPC, VPC network, VNet."""

    cidrs: list[str] = attr("its address ranges", [])


@node_kind("subnet")
@dataclass(frozen=True)
class Subnet(NodeRecord):
    """A subnet of a network."""

    cidrs: list[str] = attr("its address ranges", [])
    network: str | None = attr("id of its network")
    zone: str | None = attr("its availability zone")
    unfiltered_text: str | None = attr("how evidence words the subnet when no firewall of its own filters it (the "
                                       "provider's words; default: no network ACL filters the subnet)")


@node_kind("route_table")
@dataclass(frozen=True)
class RouteTable(NodeRecord):
    """A route table; subnets reach it by a `routes` edge, and it reaches its next hops by others."""

    network: str | None = attr("id of its network")
    routes: list[Route] = attr("its routes", [])
    default: bool = attr("whether it is the network's default table, serving every subnet without one of its own",
                         False)
    unknown_routes: list[UnknownRoute] = attr("routes known only after apply that may reach an internet gateway: "
                                              "reachability assumes they do, and says so", [])


@node_kind("gateway")
@dataclass(frozen=True)
class Gateway(NodeRecord):
    """An internet, egress-only, NAT, transit, peering or other gateway: a route's next hop."""

    gateway_type: str = attr("internet, egress_only (admits nothing inbound), nat, transit, peering, vpn, "
                             "endpoint, appliance, carrier, local, or unknown")
    external: bool = attr("true when known only as a route's target: its attachments were not collected", False)
    public_addresses_only: bool = attr("an internet gateway that carries traffic only for interfaces with a public "
                                       "address of their own (Azure's system Internet route): a route to it makes "
                                       "a segment open to the internet only for those", False)
    subnet: str | None = attr("id of the subnet a NAT gateway sits in")
    requester: str | None = attr("id of the network that requested a peering")
    accepter: str | None = attr("id of the network that accepted a peering")
    attachments: list[TransitAttachment] = attr("a transit gateway's attachments", [])
    route_tables: dict[str, list[TransitRoute]] = attr("a transit gateway's route tables: id -> routes", {})


@node_kind("firewall")
@dataclass(frozen=True)
class Firewall(NodeRecord):
    """A security group, network ACL, NSG or firewall rule set: one filtering layer's rules."""

    semantics: str = attr("how its rules combine: `allow_union` (any allow admits; several firewalls of one layer "
                          "add up) or `first_match` (rules in priority order, the first match decides)")
    layer: str = attr("where it filters: `interface` (a node's or load balancer's own firewalls) or `subnet` "
                      "(every packet entering or leaving the subnet)")
    stateful: bool = attr("whether answers to admitted traffic pass by themselves; a stateless firewall must "
                          "also admit them", True)
    network: str | None = attr("id of its network")
    default: bool = attr("whether it is the network's default, filtering subnets without one of their own", False)
    rules: tuple[Rule, ...] = attr("its rules, each carrying this firewall's id", ())


@node_kind("compute")
@dataclass(frozen=True)
class Compute(NodeRecord):
    """An instance, VM or managed build project."""

    compute_type: str = attr("`instance` (a host the customer runs) or `build_project` (a managed build service)")
    state: str = attr("running, pending, stopped, stopping", "running")
    interfaces: list[Interface] = attr("its network interfaces", [])
    image_name: str | None = attr("name of the image it boots from")
    autoscaling_group: str | None = attr("the fleet (autoscaling group, instance group) it belongs to")
    launch_time: str | None = attr("when it was launched (ISO 8601)")
    metadata_service: MetadataService | None = attr("its metadata service; None when it has none to judge")
    launch_data: str | None = attr("the data it was given at launch (user data), as the provider holds it "
                                   "(possibly base64 or compressed)")
    managed_service: bool = attr("whether the provider runs it (a managed build service)", False)
    in_network: bool = attr("whether it runs inside the customer's network", True)
    identity_ref: str | None = attr("the provider's reference to what gives it an identity (an instance profile); "
                                    "the identities are its `runs_as` edges")
    command_agent: bool | None = attr("whether the provider's remote command service can run commands on it (an "
                                      "AWS Systems Manager managed instance); None when that was not collected")


@node_kind("load_balancer")
@dataclass(frozen=True)
class LoadBalancer(NodeRecord):
    """A load balancer, forwarding rule or application gateway."""

    internet_facing: bool = attr("whether it has addresses on the internet", True)
    lb_type: str = attr("`application` (ends connections, speaks HTTP), `network` (passes connections on) or "
                        "`classic`")
    subnets: list[str] = attr("ids of the subnets it has addresses in", [])
    firewalls: list[str] = attr("ids of its own firewalls; none means it admits every client", [])
    listeners: list[Listener] = attr("its listeners", [])
    network: str | None = attr("id of its network")
    edge_front_end: bool = attr("whether the internet reaches it at the provider's own edge, with no route or "
                                "subnet of the estate in between (GCP external forwarding rules)", False)
    front_end_ranges: list[str] = attr("with `edge_front_end`, the addresses its targets see its traffic come from "
                                       "(GCP's Google front ends), which their firewalls must admit; empty when "
                                       "the targets see the clients' own addresses", [])


@node_kind("identity")
@dataclass(frozen=True)
class Identity(NodeRecord):
    """An IAM role or user, service account or managed identity."""

    identity_type: str = attr("`role`, `user`, `service_account`...")
    arn: str | None = attr("its provider-wide unique name")
    trust_policy: Any = attr("who may assume it: the provider's policy document as collected, readable or not "
                             "(an unreadable one is the identity analysis's coverage gap)")
    managed_policies: list[dict] = attr("policies attached to it: {name, arn, document}", [])
    inline_policies: list[dict] = attr("policies embedded in it: {name, document}", [])
    boundary: dict | None = attr("the policy bounding its permissions: {name, arn, document}")
    access_keys: list[AccessKey] = attr("its long-lived keys, active or not", [])
    stands_for: str | None = attr("the identity whose credentials this one is, with less power (a GCP VM's token "
                                  "of its service account, limited by the VM's access scopes)")
    ci_reasons: list[str] = attr("why the provider itself knows the identity is a pipeline's (a CI system "
                                 "configured to use it); analysis adds the other reasons (guardrails/analysis/"
                                 "ci_identities.py)", [])


@node_kind("issuer")
@dataclass(frozen=True)
class Issuer(NodeRecord):
    """An issuer of federated tokens an identity trusts: an AWS OIDC provider, a GCP workload identity
    pool provider, the issuer of an Azure federated identity credential. Its `federates` edges lead
    to the identities its tokens can become."""

    url: str = attr("the issuer URL without its scheme (token.actions.githubusercontent.com)")
    audiences: list[str] = attr("the audiences the cloud accepts from it", [])
    external: bool = attr("true when known only from a trust that names it: the issuer itself was not collected "
                          "or does not exist", False)


@node_kind("workload")
@dataclass(frozen=True)
class Workload(NodeRecord):
    """A resource that runs as an identity without being a host of the network: a function, a
    stack, a dev endpoint, a notebook, a task definition, a launch template. Identity analysis
    reads it as something an identity may take over (an `acts_as` edge) to act as its identity."""

    workload_type: str = attr("`function`, `stack`, `dev_endpoint`, `notebook`, `task_definition`, "
                              "`launch_template`, `build_project`...")
    arn: str | None = attr("its provider-wide unique name, which policies' resource patterns match")
    identity_ref: str | None = attr("the provider's reference to what gives it an identity (a role ARN, an "
                                    "instance profile); the identities are its `runs_as` edges")


# -- edges -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeRecord:
    """Attributes every edge carries."""

    kind: str = attr("the edge's kind, a key of EDGE_SCHEMAS")


@edge_kind("contains")
@dataclass(frozen=True)
class Contains(EdgeRecord):
    """network -> subnet, subnet -> compute or load balancer, account -> identity."""


@edge_kind("routes")
@dataclass(frozen=True)
class Routes(EdgeRecord):
    """subnet -> its route table; route table -> a next hop, one edge per destination."""

    association: str | None = attr("subnet -> route table: `explicit` (the subnet names its table) or `default` "
                                   "(the network's default table serves it)")
    via: str | None = attr("subnet -> route table: the provider's words for that association, for evidence")
    destination: str | None = attr("route table -> next hop: the destination range (CIDR)")
    node_tags: list[str] = attr("route table -> next hop: the route applies only to interfaces with one of these "
                                "network tags; empty: to every interface", [])


@edge_kind("attached")
@dataclass(frozen=True)
class Attached(EdgeRecord):
    """gateway -> network it is attached to."""

    attachment: str | None = attr("id of the attachment, for a transit gateway")


@edge_kind("filtered_by")
@dataclass(frozen=True)
class FilteredBy(EdgeRecord):
    """compute, subnet or load balancer -> firewall that filters its traffic."""

    layer: str | None = attr("the firewall's layer: `interface` or `subnet`")


@edge_kind("forwards")
@dataclass(frozen=True)
class Forwards(EdgeRecord):
    """load balancer -> compute node it forwards a listener's traffic to."""

    listener_port: int | None = attr("port of the listener (the first, when it takes a range)")
    listener_port_end: int | None = attr("last port when the listener takes a range of ports, each forwarded to "
                                         "the same port on the target")
    target_port: int | None = attr("port on the target")
    protocol: str = attr("transport: tcp, udp or tcp_udp", "tcp")
    target_type: str = attr("`instance` (registered by id) or `ip` (registered by address)", "instance")
    client_address_preserved: bool = attr("whether the target sees the client's own address (so its firewalls must "
                                          "admit the internet) rather than the load balancer's", False)
    via: str = attr("listener and target group, for evidence", "")
    assumption: str = attr("what the path through this edge is taken to pass that the scan cannot decide (the "
                           "finding says it was assumed); empty when nothing", "")


@edge_kind("runs_as")
@dataclass(frozen=True)
class RunsAs(EdgeRecord):
    """compute or workload -> identity it runs as."""

    via: str = attr("what gives it the identity (an instance profile, a service role), for evidence", "")


@edge_kind("can_assume")
@dataclass(frozen=True)
class CanAssume(EdgeRecord):
    """identity -> identity whose credentials it can obtain or as which it can act."""

    via: Any = attr("the statement, binding or assignment that proves it, for evidence")
    method: str = attr("how: a key of guardrails/identity_facts.py METHODS (`assume`, `pass_to_service`, "
                       "`credentials`, `trust_update`)", "assume")
    proofs: list[Proof] = attr("the permissions it rests on, each with its statement and resource", [])
    confidence: str = attr("`confirmed`, or `unknown` when a permission holds only under a condition the scan "
                           "could not evaluate", "confirmed")


@edge_kind("acts_as")
@dataclass(frozen=True)
class ActsAs(EdgeRecord):
    """identity -> compute or workload node it can take over (and so act as what that runs as)."""

    via: str = attr("the statement that proves it, in words", "")
    method: str = attr("how: always `take_over` (guardrails/identity_facts.py METHODS)", "take_over")
    proofs: list[Proof] = attr("the permissions it rests on, each with its statement and resource", [])
    confidence: str = attr("`confirmed`, or `unknown` when a permission holds only under a condition the scan "
                           "could not evaluate", "confirmed")


@edge_kind("federates")
@dataclass(frozen=True)
class Federates(EdgeRecord):
    """issuer -> identity its tokens can become, with the trust that decides which tokens may."""

    trust: list[TrustClause] = attr("the statements that admit or refuse the issuer's tokens, by subject", [])
    unknown: str | None = attr("why the trust is not known (known only after apply, unreadable): who can "
                               "become the identity is then unknown, never taken as pinned")
    statement: str = attr("the trust statement or binding as written, for evidence", "")
    via: str = attr("what joins them (the role's trust policy, a binding, a federated credential), for evidence", "")


@edge_kind("grants")
@dataclass(frozen=True)
class Grants(EdgeRecord):
    """identity -> account or resource it holds power over."""

    power: str | None = attr("the power it holds there: `admin`, `escalate` (can make itself admin) or `write` "
                             "(can change production)")
    via: Any = attr("the statement, binding or assignment that proves it, for evidence")


@edge_kind("peers")
@dataclass(frozen=True)
class Peers(EdgeRecord):
    """network -> network joined to it by a peering."""

    via: str | None = attr("id of the peering connection")


# -- what the graph checks on insert -----------------------------------------------------------


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


NODE_ATTRIBUTES: dict[str, frozenset[str]] = {kind: _names(cls) for kind, cls in NODE_SCHEMAS.items()}
EDGE_ATTRIBUTES: dict[str, frozenset[str]] = {kind: _names(cls) for kind, cls in EDGE_SCHEMAS.items()}
NODE_KINDS: dict[str, str] = {kind: (cls.__doc__ or "").strip() for kind, cls in NODE_SCHEMAS.items()}
EDGE_KINDS: dict[str, str] = {kind: (cls.__doc__ or "").strip() for kind, cls in EDGE_SCHEMAS.items()}

# Types of the first inserts of each kind are checked in any mode: a provider that writes a wrong
# type does so from its first node. Strict mode checks every insert.
STRICT = os.environ.get("GUARDRAILS_STRICT_SCHEMA", "") not in ("", "0")
TYPED_INSERTS_PER_KIND = 1 << 62 if STRICT else 8


def describe(cls: type) -> dict[str, str]:
    """Every declared attribute of a record, with its meaning."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}


class SchemaError(ValueError):
    """An insert that does not match the declared schema: a bug in the code that made it."""


def undeclared(allowed: frozenset[str], attrs: dict, what: str) -> SchemaError:
    names = sorted(set(attrs) - allowed)
    return SchemaError(f"{what}: undeclared attribute {names[0]!r} (declared: {', '.join(sorted(allowed))})")


def check_types(cls: type, attrs: dict, what: str) -> None:
    """Raise ValueError naming the first attribute whose value is not of its declared type."""
    for name, hint in _hints(cls).items():
        if name in attrs and not _matches(attrs[name], hint):
            raise SchemaError(f"{what}: attribute {name!r} is {type(attrs[name]).__name__} {attrs[name]!r:.80}, "
                             f"declared {_hint_name(hint)}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint in _NESTED_TYPES:  # a nested record: stored as a dict of its declared fields
        if not isinstance(value, dict) or not set(value) <= _names(hint):
            return False
        hints = _hints(hint)
        return all(_matches(v, hints[k]) for k, v in value.items())
    if origin is None:
        if hint is bool:
            return isinstance(value, bool)
        if hint is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, hint)
    args = typing.get_args(hint)
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    if origin is tuple:
        return isinstance(value, tuple) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(k, args[0]) and _matches(v, args[1])
                                               for k, v in value.items())
    return isinstance(value, origin)


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
