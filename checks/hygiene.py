"""Runner hygiene: the host's own credentials, launch data and lifetime."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import step
from guardrails.registry import Result, Severity, check
from guardrails.schema import unknown_text
from guardrails.secrets import decode_launch_data, find_secrets


@check(
    id="ci-imds-v1",
    title="CI node's metadata service accepts IMDSv1",
    severity=Severity.MEDIUM,
    severity_note="raised to high when the node is reachable from the internet",
    stride=("information_disclosure", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-6",),
    cis=("AWS Foundations v3.0.0 5.6",),
    nist=("SP 800-53 CM-7",),
    remediation="Require IMDSv2 (HttpTokens=required) and, on runners that run containers, keep the response hop "
                "limit at 1 so build containers cannot reach the host's role credentials.",
)
def imds_v1(estate: Estate) -> Iterator[Result]:
    """An SSRF or hostile build step can read the role's credentials from the metadata service."""
    for node, verdict in estate.ci_nodes():
        service = node.get("metadata_service")
        unknown = (node.get("unknown") or {}).get("metadata_service")
        if node.get("compute_type") != "instance" or service is None or not service["enabled"]:
            continue
        severity = Severity.HIGH if node.id in estate.exposure else Severity.MEDIUM
        tokens, hops = service["session_tokens"], service["hop_limit"]
        if service["v1_allowed"] or unknown:
            yield Result(node.id, f"{describe(node, verdict)} accepts IMDSv1 ({service['setting']}"
                                  f"{', ' + unknown_text(unknown) if unknown else ''}): any SSRF or build step can read "
                                  "its role credentials from 169.254.169.254 without a session token.",
                         path=(step(node, "instance metadata service"),),
                         details={"http_tokens": tokens, "hop_limit": hops}, severity=severity,
                         unknowns=("its metadata options are known only after apply",) if unknown else ())
        elif verdict.role == "runner" and hops is not None and hops > 1:
            yield Result(node.id, f"{describe(node, verdict)} requires IMDSv2 but allows a response hop limit of "
                                  f"{hops}: containers its builds run in can reach the host's role credentials.",
                         path=(step(node, "instance metadata service"),),
                         details={"http_tokens": tokens, "hop_limit": hops}, severity=severity)


@check(
    id="ci-secret-in-user-data",
    title="Secret in the CI node's launch data",
    severity=Severity.HIGH,
    stride=("information_disclosure", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-6",),
    nist=("SP 800-53 IA-5(7)",),
    remediation="Remove the secret from user data and rotate it now; fetch it at boot from Secrets Manager or SSM "
                "Parameter Store with the instance role, and register runners with short-lived tokens.",
    needs=("launch_data",),
)
def secret_in_user_data(estate: Estate) -> Iterator[Result]:
    """Anyone who can describe the instance, or reach its metadata service, reads its launch data."""
    found: dict[str, list] = {}  # a fleet's members share one launch template, so one text
    for node, verdict in estate.ci_nodes():
        data = node.get("launch_data")
        if not data:
            continue
        if data not in found:
            text = decode_launch_data(data)
            found[data] = find_secrets(text) if text else []
        hits = found[data]
        if not hits:
            continue
        kinds = sorted({h.kind for h in hits})
        yield Result(node.id, f"{describe(node, verdict)} has {len(hits)} {'secret' if len(hits) == 1 else 'secrets'} in its user "
                              "data: "
                              + "; ".join(h.describe() for h in hits[:5]) + ".",
                     path=(step(node, "user data"),),
                     details={"secrets": [{"kind": h.kind, "line": h.line, "masked": h.masked} for h in hits],
                              "kinds": kinds})


def _parse_time(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


@check(
    id="ci-long-lived-runner",
    title="Persistent CI runner",
    severity=Severity.LOW,
    stride=("tampering", "repudiation"),
    owasp_cicd=("CICD-SEC-7",),
    nist=("SP 800-53 SI-14",),
    remediation="Run builds on ephemeral runners: an autoscaling group that replaces instances after each job or "
                "within a day (e.g. instance refresh or max instance lifetime), so footholds do not persist.",
)
def long_lived_runner(estate: Estate) -> Iterator[Result]:
    """A runner that lives for weeks keeps whatever a hostile build left on it."""
    limit = estate.config.runner_max_age_days
    for node, verdict in estate.ci_nodes():
        if verdict.role != "runner" or node.get("managed_service") or node.get("compute_type") != "instance":
            continue
        reasons = []
        launched = _parse_time(node.get("launch_time"))
        age_days = (estate.now - launched).total_seconds() / 86400 if launched else None
        if age_days is not None and age_days > limit:
            reasons.append(f"has been running for {age_days:.0f} days (limit {limit:g})")
        if not node.get("autoscaling_group"):
            reasons.append("belongs to no autoscaling group")
        if reasons:
            yield Result(node.id, f"{describe(node, verdict)} " + " and ".join(reasons) + ".",
                         path=(step(node, "launch time and autoscaling membership"),),
                         details={"age_days": round(age_days, 1) if age_days is not None else None,
                                  "autoscaling_group": node.get("autoscaling_group"), "limit_days": limit})
