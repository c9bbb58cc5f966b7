"""ci-firewall-allows-internet: a firewall on the CI node admits every internet address, path or not."""

from check_cases import Case
from estate_builder import INTERNET_V4, INTERNET_V6, EstateBuilder, allow_tcp

OFFICE = "203.0.113.0/24"


def runner(*rules, exposed=False):
    """A CI runner whose one firewall has these ingress rules; `exposed`: with its own address in a
    subnet routed to an internet gateway, else in a private subnet without an address."""
    b = EstateBuilder()
    net = b.public_network() if exposed else b.private_network()
    group = b.firewall("sg-runner", ingress=rules)
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.0.1.20",
              public=["198.51.100.20"] if exposed else [], groups=[group])
    return b


CASES = [
    Case("SSH from every address on a runner no path reaches today: one change away",
         lambda: runner(allow_tcp(22, cidr=INTERNET_V4)), fires={"i-runner": "medium"}),
    Case("every IPv6 address", lambda: runner(allow_tcp(443, cidr=INTERNET_V6)), fires={"i-runner": "medium"}),
    Case("the same rule on a node the internet reaches is high",
         lambda: runner(allow_tcp(22, cidr=INTERNET_V4), exposed=True), fires={"i-runner": "high"}),
    Case("an office range only", lambda: runner(allow_tcp(22, cidr=OFFICE))),
    Case("another firewall group only", lambda: runner(allow_tcp(8080, group="sg-lb"))),
    Case("half of the internet is not every address", lambda: runner(allow_tcp(22, cidr="0.0.0.0/1"))),
]
