"""ci-secret-in-user-data: the CI node's launch data holds a secret."""

from check_cases import Case
from estate_builder import EstateBuilder

# Made up, in the shapes the detector knows; split so that no scanner of this repository takes
# them for real secrets.
ACCESS_KEY = "AKIA" + "Z7EXAMPLE0000000"
RUNNER_TOKEN = "glrt-" + "x7Kq2mPz9LwR4tYb8NcV"


def runner(script):
    b = EstateBuilder()
    net = b.private_network()
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.120", launch_data=script)
    return b


CASES = [
    Case("an AWS access key in the boot script",
         lambda: runner(f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={ACCESS_KEY}\n"), fires={"i-runner": "high"}),
    Case("a runner registration token",
         lambda: runner(f"#!/bin/sh\ngitlab-runner register --token {RUNNER_TOKEN}\n"), fires={"i-runner": "high"}),
    Case("a script that fetches its secret at boot",
         lambda: runner("#!/bin/sh\nTOKEN=$(aws ssm get-parameter --name /ci/token --with-decryption)\n")),
    Case("no launch data", lambda: runner(None)),
]
