"""What the AWS emulator moto (which `guardrails demo` runs on) does not answer, answered as AWS does.

moto runs no Systems Manager agent, and so does not implement `ssm:DescribeInstanceInformation`
(the instances whose agent has registered): the collector's call would fail inside the emulator.
`install()` adds it: the running EC2 instances of the region tagged `ssm-agent=online` are listed
as registered, and every other instance has no agent, as an instance launched without one. The
test suite installs the same answer into its in-process moto and its moto servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

AGENT_TAG = "ssm-agent"


def describe_instance_information(self):
    """moto response handler: SSM DescribeInstanceInformation over the region's EC2 instances."""
    from moto.core.responses import ActionResult
    from moto.ec2.models import ec2_backends

    found = []
    for instance in ec2_backends[self.current_account][self.region].all_instances():
        tags = {tag["key"]: tag["value"] for tag in instance.get_tags()}
        if tags.get(AGENT_TAG) != "online" or instance.state != "running":
            continue
        found.append({"InstanceId": instance.id, "PingStatus": "Online", "ResourceType": "EC2Instance",
                      "PlatformType": "Linux", "AgentVersion": "3.3.0.0", "IsLatestVersion": True})
    return ActionResult({"InstanceInformationList": found})


def install() -> None:
    """Teach moto's SSM API to answer DescribeInstanceInformation (idempotent)."""
    from moto.ssm.responses import SimpleSystemManagerResponse

    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information


@contextmanager
def managed_policies_limited_to(arns: tuple[str, ...]) -> Iterator[None]:
    """moto with only these AWS managed policies in its catalogue, restored after.

    moto parses its whole catalogue (about 1,300 documents) again for every IAM backend it creates,
    which is most of the demo's run time; the estate attaches a handful, and the scan reads only
    what is attached.
    """
    import json

    import moto.iam.models

    names = {arn.rsplit("/", 1)[-1] for arn in arns}
    whole = moto.iam.models.aws_managed_policies_data
    moto.iam.models.aws_managed_policies_data = json.dumps(
        {name: document for name, document in json.loads(whole).items() if name in names})
    try:
        yield
    finally:
        moto.iam.models.aws_managed_policies_data = whole
