"""ci-internet-exposed: every layer between the internet and the CI node lets traffic through today."""

from check_cases import Case
from estate_builder import INTERNET_V4, EstateBuilder, allow_all, allow_tcp, deny_all

OFFICE = "203.0.113.0/24"


def direct(name="jenkins", source=INTERNET_V4, public=("198.51.100.10",), routed=True, network_filter=()):
    """A CI node with its own address in a subnet routed to an internet gateway (or to a NAT
    gateway, not `routed`), its firewall admitting `source` on 8080."""
    b = EstateBuilder()
    net = b.public_network() if routed else b.private_network()
    web = b.firewall("sg-ci", ingress=[allow_tcp(8080, cidr=source)])
    if network_filter:
        b.network_filter("acl-ci", net.subnet, ingress=network_filter, egress=[allow_all(cidr=INTERNET_V4, priority=100)])
    b.compute("i-ci", name=name, subnet=net.subnet, private="10.0.1.10", public=public, groups=[web])
    return b


def behind_load_balancer(internet_facing=True):
    """A CI server without an address of its own, in a private network, behind a load balancer in a
    public subnet whose firewall admits the internet on 443; the server admits the balancer's group."""
    b = EstateBuilder()
    public = b.public_network()
    private = b.private_network()
    lb_group = b.firewall("sg-lb", ingress=[allow_tcp(443, cidr=INTERNET_V4)])
    ci_group = b.firewall("sg-ci", ingress=[allow_tcp(8080, group=lb_group)])
    b.compute("i-ci", name="jenkins", subnet=private.subnet, private="10.1.1.10", groups=[ci_group])
    b.load_balancer("lb-ci", subnets=[public.subnet], groups=[lb_group], internet_facing=internet_facing,
                    listeners={443: {"i-ci": 8080}})
    return b


CASES = [
    Case("a server on its own public address, routed to an internet gateway, open to every address",
         direct, fires={"i-ci": "critical"}),
    Case("a runner exposed the same way is high", lambda: direct(name="gitlab-runner"), fires={"i-ci": "high"}),
    Case("the firewall admits an office range only", lambda: direct(source=OFFICE)),
    Case("the subnet sends the internet to a NAT gateway", lambda: direct(routed=False)),
    Case("no public address", lambda: direct(public=())),
    Case("a first-match subnet filter denies the internet before its allow",
         lambda: direct(network_filter=[deny_all(priority=90), allow_all(cidr=INTERNET_V4, priority=100)])),
    Case("a first-match subnet filter allows before its deny",
         lambda: direct(network_filter=[allow_all(cidr=INTERNET_V4, priority=90), deny_all(priority=100)]),
         fires={"i-ci": "critical"}),
    Case("through an internet-facing load balancer that forwards to it", behind_load_balancer,
         fires={"i-ci": "critical"}),
    Case("behind an internal load balancer", lambda: behind_load_balancer(internet_facing=False)),
]
