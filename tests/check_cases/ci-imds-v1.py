"""ci-imds-v1: the CI node's metadata service hands out credentials without a session token, or
lets a runner's build containers reach it."""

from check_cases import Case
from estate_builder import INTERNET_V4, EstateBuilder, allow_tcp

V1 = {"enabled": True, "v1_allowed": True, "hop_limit": 1}
V2 = {"enabled": True, "v1_allowed": False, "hop_limit": 1}


def node(metadata, name="gitlab-runner", exposed=False, unknown=False):
    """A CI node with this metadata service; `exposed`: the internet reaches it on 8080."""
    b = EstateBuilder()
    net = b.public_network() if exposed else b.private_network()
    group = b.firewall("sg-ci", ingress=[allow_tcp(8080, cidr=INTERNET_V4)])
    b.compute("i-ci", name=name, subnet=net.subnet, private="10.0.1.110", groups=[group], metadata=metadata,
              public=["198.51.100.110"] if exposed else [], metadata_unknown=unknown)
    return b


CASES = [
    Case("IMDSv1 accepted", lambda: node(V1), fires={"i-ci": "medium"}),
    Case("IMDSv1 accepted on a node the internet reaches is high", lambda: node(V1, name="jenkins", exposed=True),
         fires={"i-ci": "high"}),
    Case("the metadata options are known only after apply", lambda: node(None, unknown=True),
         fires={"i-ci": "medium"}),
    Case("IMDSv2 required, hop limit 1", lambda: node(V2)),
    Case("a runner with IMDSv2 and a hop limit of 2", lambda: node({**V2, "hop_limit": 2}),
         fires={"i-ci": "medium"}),
    Case("a server with IMDSv2 and a hop limit of 2: containers are a runner's concern",
         lambda: node({**V2, "hop_limit": 2}, name="jenkins")),
    Case("the metadata service is disabled", lambda: node({**V1, "enabled": False})),
]
