"""ci-not-behind-load-balancer: a CI server has a public address of its own."""

from check_cases import Case
from estate_builder import EstateBuilder


def node(name="jenkins", public=("198.51.100.40",), ipv6=(), unknown=False):
    """A CI node in a private subnet (no route from the internet, no open firewall): only its
    addresses matter."""
    b = EstateBuilder()
    net = b.private_network()
    b.compute("i-ci", name=name, subnet=net.subnet, private="10.1.1.40", public=public, ipv6=ipv6,
              public_address_unknown=unknown)
    return b


CASES = [
    Case("a server with a public IPv4 address, whatever its routes say", node, fires={"i-ci": "high"}),
    Case("a server with a global IPv6 address", lambda: node(public=(), ipv6=("2001:db8::40",)),
         fires={"i-ci": "high"}),
    Case("a server whose public address is known only after apply", lambda: node(public=(), unknown=True),
         fires={"i-ci": "high"}),
    Case("a server without a public address", lambda: node(public=())),
    Case("a runner with a public address: servers only", lambda: node(name="gitlab-runner")),
]
