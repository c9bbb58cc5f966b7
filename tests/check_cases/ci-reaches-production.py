"""ci-reaches-production: the CI node can open a connection to a production node."""

from check_cases import Case
from estate_builder import EstateBuilder, allow_all, allow_tcp

PRODUCTION = {"env": "prod"}


def same_network(admits):
    """A runner and a production database in one network; the database's firewall admits `admits`
    (a firewall group or a CIDR) on 5432. The runner may send anything out."""
    b = EstateBuilder()
    network = b.network("vpc-shared", "10.0.0.0/16")
    ci_subnet = b.subnet("subnet-ci", network, "10.0.1.0/24")
    prod_subnet = b.subnet("subnet-db", network, "10.0.2.0/24")
    b.route_table("rtb-main", network, {}, subnets=[ci_subnet, prod_subnet], default=True)
    runner_group = b.firewall("sg-runner", egress=[allow_all(cidr="0.0.0.0/0")])
    db_group = b.firewall("sg-db", ingress=[allow_tcp(5432, **admits)])
    b.compute("i-runner", name="gitlab-runner", subnet=ci_subnet, private="10.0.1.50", groups=[runner_group])
    b.compute("i-db", name="orders-db", subnet=prod_subnet, private="10.0.2.50", groups=[db_group], tags=PRODUCTION)
    return b


def peered(route_back=True):
    """A runner in its own network peered with production's; production admits the runners' CIDR.
    Routes go to the peering from the runner's side, and back only when `route_back`."""
    b = EstateBuilder()
    ci_net = b.network("vpc-ci", "10.0.0.0/16")
    prod_net = b.network("vpc-prod", "10.9.0.0/16", tags=PRODUCTION)
    ci_subnet = b.subnet("subnet-ci", ci_net, "10.0.1.0/24")
    prod_subnet = b.subnet("subnet-prod", prod_net, "10.9.1.0/24", tags=PRODUCTION)
    peering = b.peer(ci_net, prod_net)
    b.route_table("rtb-ci", ci_net, {"10.9.0.0/16": peering}, subnets=[ci_subnet])
    b.route_table("rtb-prod", prod_net, {"10.0.0.0/16": peering} if route_back else {}, subnets=[prod_subnet])
    runner_group = b.firewall("sg-runner", egress=[allow_all(cidr="0.0.0.0/0")])
    app_group = b.firewall("sg-app", ingress=[allow_tcp(443, cidr="10.0.0.0/16")])
    b.compute("i-runner", name="gitlab-runner", subnet=ci_subnet, private="10.0.1.60", groups=[runner_group])
    b.compute("i-app", name="orders-api", subnet=prod_subnet, private="10.9.1.60", groups=[app_group])
    return b


CASES = [
    Case("production's firewall admits the runner's group in a shared network",
         lambda: same_network({"group": "sg-runner"}), fires={"i-runner": "high"}),
    Case("production's firewall admits the whole network's range", lambda: same_network({"cidr": "10.0.0.0/16"}),
         fires={"i-runner": "high"}),
    Case("production's firewall admits another group only", lambda: same_network({"group": "sg-lb"})),
    Case("production's firewall admits another range only", lambda: same_network({"cidr": "10.0.3.0/24"})),
    Case("peered networks with routes both ways", peered, fires={"i-runner": "high"}),
    Case("peered networks without a route back", lambda: peered(route_back=False)),
]
