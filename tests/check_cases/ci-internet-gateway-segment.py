"""ci-internet-gateway-segment: the CI node's subnet routes the internet straight to an internet gateway."""

from check_cases import Case
from estate_builder import EstateBuilder


def runner_in(routes_to, destinations=("0.0.0.0/0",), default=False):
    """A runner without a public address in a subnet whose route table sends `destinations` to a
    gateway of type `routes_to`; `default`: the network's default table, serving the subnet implicitly."""
    b = EstateBuilder()
    network = b.network("vpc-ci", "10.0.0.0/16")
    subnet = b.subnet("subnet-ci", network, "10.0.1.0/24")
    gateway = b.gateway("gw-ci", network, routes_to)
    b.route_table("rtb-ci", network, {d: gateway for d in destinations}, subnets=[subnet], default=default)
    b.compute("i-runner", name="gitlab-runner", subnet=subnet, private="10.0.1.30")
    return b


CASES = [
    Case("the subnet's table sends 0.0.0.0/0 to an internet gateway, address or not",
         lambda: runner_in("internet"), fires={"i-runner": "medium"}),
    Case("the network's default table does, for a subnet without its own",
         lambda: runner_in("internet", default=True), fires={"i-runner": "medium"}),
    Case("a NAT gateway as the next hop", lambda: runner_in("nat")),
    Case("only part of the internet goes to the gateway", lambda: runner_in("internet", destinations=("0.0.0.0/1",))),
    Case("both halves of the internet go to the gateway",
         lambda: runner_in("internet", destinations=("0.0.0.0/1", "128.0.0.0/1")), fires={"i-runner": "medium"}),
]
