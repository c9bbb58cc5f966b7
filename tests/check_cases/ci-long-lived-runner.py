"""ci-long-lived-runner: a runner outlives the configured limit or belongs to no autoscaling group."""

import datetime as dt

from check_cases import Case
from estate_builder import NOW, EstateBuilder

from guardrails.config import Config


def node(age_days, group="runners", name="gitlab-runner"):
    b = EstateBuilder()
    net = b.private_network()
    b.compute("i-ci", name=name, subnet=net.subnet, private="10.1.1.130", autoscaling_group=group,
              launched=NOW - dt.timedelta(days=age_days))
    return b


CASES = [
    Case("a runner running for 30 days", lambda: node(30), fires={"i-ci": "low"}),
    Case("a fresh runner outside any autoscaling group", lambda: node(0.1, group=None), fires={"i-ci": "low"}),
    Case("a fresh runner of an autoscaling group", lambda: node(0.1)),
    Case("30 days is within a configured limit of 60", lambda: node(30), config=Config(runner_max_age_days=60)),
    Case("a server is not a runner", lambda: node(30, group=None, name="jenkins")),
]
