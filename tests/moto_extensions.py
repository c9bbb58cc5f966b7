"""What moto does not answer, answered as AWS does, in the tests' in-process moto and moto servers
(guardrails/providers/aws/emulator.py, which the demo installs too): an instance tagged
`ssm-agent=online` is one whose Systems Manager agent registered. Loaded in-process by
tests/conftest.py, and into moto servers by running this module as the server
(`python -m moto_extensions -H HOST -p PORT`)."""

from __future__ import annotations

import sys

from guardrails.providers.aws.emulator import AGENT_TAG, install

__all__ = ["AGENT_TAG"]

install()

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
