"""Provider-neutral filter layers: rules that apply to some of the nodes behind a layer (targets),
deny before allow at equal priority, routes for some network tags only, and load balancers whose
front end is the provider's edge. Each case is a neutral estate: no provider builds it."""

from __future__ import annotations

from estate_builder import INTERNET_V4, EstateBuilder, RuleSpec, allow_all, allow_tcp, deny_tcp

from guardrails.findings import run_checks
from guardrails.netsets import AddressSet, port_range
from guardrails.rules import FIRST_MATCH, Layer, Peer, Principal, Rule, admits_internet, format_portmap

FRONT_END = ("35.191.0.0/16", "130.211.0.0/22")


def _rule(action: str, port: int, priority: int, *, targets: tuple[Peer, ...] = ()) -> Rule:
    return Rule("ingress", action, "tcp", port_range(port, port), (Peer("cidr", INTERNET_V4, AddressSet.parse(INTERNET_V4)),),
                priority, f"rule {priority} {action}", firewall="fw", targets=targets)


def test_a_layer_for_one_node_keeps_the_rules_without_targets_and_those_it_matches() -> None:
    layer = Layer("fw", FIRST_MATCH, (_rule("allow", 22, 1000),
                                      _rule("allow", 8080, 1000, targets=(Peer("tag", "jenkins"),)),
                                      _rule("allow", 5432, 1000, targets=(Peer("service_account", "db@p.iam"),)),
                                      _rule("allow", 9000, 1000, targets=(Peer("cidr", "10.0.1.5/32",
                                                                                   AddressSet.parse("10.0.1.5/32")),))))
    jenkins = layer.applying_to(Principal(tags=frozenset({"jenkins"})))
    assert [r.ref for r in jenkins.rules] == ["rule 1000 allow"] * 2 and format_portmap(
        admits_internet(jenkins, "ingress", 4).ports) == ["tcp/22", "tcp/8080"]
    database = layer.applying_to(Principal(service_accounts=frozenset({"db@p.iam"})))
    assert format_portmap(admits_internet(database, "ingress", 4).ports) == ["tcp/22", "tcp/5432"]
    by_address = layer.applying_to(Principal(addresses=AddressSet.parse("10.0.1.5")))
    assert format_portmap(admits_internet(by_address, "ingress", 4).ports) == ["tcp/22", "tcp/9000"]
    plain = layer.applying_to(Principal(tags=frozenset({"web"})))
    assert format_portmap(admits_internet(plain, "ingress", 4).ports) == ["tcp/22"]
    assert plain is layer.applying_to(Principal(tags=frozenset({"other"}))), "nodes matching the same rules share a layer"
    untargeted = Layer("sg", FIRST_MATCH, (_rule("allow", 22, 1),))
    assert untargeted.applying_to(Principal(tags=frozenset({"jenkins"}))) is untargeted


def test_a_deny_wins_over_an_allow_of_equal_priority_in_a_first_match_layer() -> None:
    allow_first = Layer("fw", FIRST_MATCH, (_rule("allow", 8080, 1000), _rule("deny", 8080, 1000)))
    assert not admits_internet(allow_first, "ingress", 4)
    lower_allow = Layer("fw", FIRST_MATCH, (_rule("deny", 8080, 1000), _rule("allow", 8080, 999)))
    assert format_portmap(admits_internet(lower_allow, "ingress", 4).ports) == ["tcp/8080"]


def _first_match(b: EstateBuilder, fw: str, rules: list[RuleSpec], network: str) -> str:
    """A first-match layer with these ingress rules that lets everything out (as GCP's implied rule)."""
    return b.firewall(fw, ingress=rules, egress=[allow_all(cidr=INTERNET_V4, priority=65535)], network=network,
                      semantics=FIRST_MATCH)


def test_internet_reachability_applies_a_rule_to_the_nodes_its_targets_select() -> None:
    b = EstateBuilder()
    net = b.public_network()
    fw = _first_match(b, "fw-net", [RuleSpec("allow", "tcp", (8080, 8080), (INTERNET_V4,), priority=1000,
                                             target_tags=("jenkins",)),
                                    deny_tcp(0, 65535, priority=65535)], net.id)
    b.compute("vm-jenkins", name="jenkins", subnet=net.subnet, private="10.0.1.5", public=["203.0.113.5"],
              groups=[fw], network_tags=["jenkins"])
    b.compute("vm-gitlab", name="gitlab", subnet=net.subnet, private="10.0.1.6", public=["203.0.113.6"],
              groups=[fw], network_tags=["web"])
    estate = b.analyse()
    assert estate.exposure["vm-jenkins"].labels == ["tcp/8080"]
    assert "vm-gitlab" not in estate.exposure
    found = set(estate_findings(estate))
    assert ("ci-firewall-allows-internet", "vm-jenkins") in found
    assert ("ci-firewall-allows-internet", "vm-gitlab") not in found


def test_a_route_for_some_network_tags_only_carries_the_nodes_with_one_of_them() -> None:
    b = EstateBuilder()
    network = b.network("net", "10.0.0.0/16")
    subnet = b.subnet("subnet", network, "10.0.1.0/24")
    gateway = b.gateway("default-internet-gateway", network, "internet")
    b.route_table("routes-of-net", network, {INTERNET_V4: gateway}, subnets=[subnet],
                  route_tags={INTERNET_V4: ["egress"]})
    fw = _first_match(b, "fw-net", [allow_tcp(22, cidr=INTERNET_V4, priority=1000)], network)
    b.compute("vm-tagged", name="jenkins-a", subnet=subnet, private="10.0.1.5", public=["203.0.113.5"], groups=[fw],
              network_tags=["egress"])
    b.compute("vm-untagged", name="jenkins-b", subnet=subnet, private="10.0.1.6", public=["203.0.113.6"], groups=[fw])
    estate = b.analyse()
    assert "vm-tagged" in estate.exposure and "vm-untagged" not in estate.exposure
    segment = {resource for check, resource in estate_findings(estate) if check == "ci-internet-gateway-segment"}
    assert segment == {"vm-tagged"}


def test_a_load_balancer_at_the_providers_edge_reaches_targets_whose_firewall_admits_its_front_end() -> None:
    b = EstateBuilder()
    net = b.private_network()
    fw = _first_match(b, "fw-net", [allow_tcp(8080, cidr=FRONT_END[0], priority=1000, ),
                                    deny_tcp(0, 65535, priority=65535)], net.id)
    closed = _first_match(b, "fw-other", [deny_tcp(0, 65535, priority=65535)], net.id)
    b.compute("vm-behind", name="jenkins", subnet=net.subnet, private="10.1.1.5", groups=[fw])
    b.compute("vm-closed", name="jenkins-2", subnet=net.subnet, private="10.1.1.6", groups=[closed])
    b.load_balancer("lb", subnets=[], listeners={443: {"vm-behind": 8080, "vm-closed": 8080}},
                    front_end_ranges=FRONT_END)
    estate = b.analyse()
    exposure = estate.exposure["vm-behind"]
    assert exposure.labels == ["tcp/443"] and [s.kind for s in exposure.paths[0].steps] == [
        "internet", "load_balancer", "compute"]
    assert "vm-closed" not in estate.exposure


def test_production_admits_a_runner_by_its_network_tag_when_the_rule_targets_production() -> None:
    b = EstateBuilder()
    net = b.private_network()
    fw = _first_match(b, "fw-net", [RuleSpec("allow", "tcp", (5432, 5432), (), priority=1000, tags=("runner",),
                                             target_tags=("db",)),
                                    deny_tcp(0, 65535, priority=65535)], net.id)
    b.compute("vm-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.5", groups=[fw],
              network_tags=["runner"])
    b.compute("vm-other-runner", name="gitlab-runner-2", subnet=net.subnet, private="10.1.1.6", groups=[fw])
    b.compute("vm-db", name="db", subnet=net.subnet, private="10.1.1.7", groups=[fw], network_tags=["db"],
              tags={"env": "prod"})
    b.compute("vm-cache", name="cache", subnet=net.subnet, private="10.1.1.8", groups=[fw], network_tags=["cache"],
              tags={"env": "prod"})
    estate = b.analyse()
    reached = estate.production_reach["vm-runner"]
    assert [t.target for t in reached.targets] == ["vm-db"] and reached.targets[0].port_labels == ("tcp/5432",)
    assert "vm-other-runner" not in estate.production_reach


def estate_findings(estate) -> list[tuple[str, str]]:
    return [(f["check_id"], f["resource"]["id"]) for f in run_checks(estate)]
