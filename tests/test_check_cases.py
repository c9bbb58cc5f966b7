"""Every check on neutral estates (tests/check_cases/<check id>.py): the real analysis, the real
check, and exactly the findings each case names. No cloud and no provider's replies: a check that
works on these graphs works for every provider that builds them."""

from __future__ import annotations

import pytest
from check_cases import cases_by_check

from guardrails.findings import run_checks
from guardrails.registry import all_checks

CHECKS = {chk.id: chk for chk in all_checks()}
CASES = [(check_id, case) for check_id, cases in cases_by_check().items() for case in cases]


@pytest.mark.parametrize("check_id, case", CASES, ids=[f"{check_id}: {case.name}" for check_id, case in CASES])
def test_check_case(check_id, case):
    estate = case.build().analyse(case.config)
    findings = run_checks(estate, [CHECKS[check_id]])
    assert {f["resource"]["id"]: f["severity"] for f in findings} == case.fires, \
        "\n".join(f["message"] for f in findings)
