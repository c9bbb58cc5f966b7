"""Posting an audit's summary to a webhook: a JSON body with a `text` field, which Slack's incoming
webhooks (and Mattermost's, Teams' workflows, Google Chat's) take as the message."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from guardrails import __version__

TIMEOUT = 10.0


def worth_telling(diff: dict) -> bool:
    """Something new to say: a new or reopened finding, an expired suppression, or coverage lost."""
    summary = diff["summary"]
    return bool(summary["new"] or summary["reopened"] or summary["expired_suppressions"]
                or diff["coverage"]["appeared"])


def message(diff: dict, limit: int = 10) -> str:
    from guardrails.diff import LABELS, summary_line

    lines = [f"guardrails audit of {diff['scope']}: {summary_line(diff)}"]
    for name in ("new", "reopened", "expired_suppressions"):
        for item in diff[name][:limit]:
            resource = item["resource"]
            account = f" in {resource['account']}" if resource.get("account") else ""
            lines.append(f"{LABELS[name]} {item['severity']} {item['check_id']}: {resource.get('name')}{account}")
        if len(diff[name]) > limit:
            lines.append(f"... and {len(diff[name]) - limit} more {LABELS[name].lower()}")
    for gap in diff["coverage"]["appeared"][:limit]:
        lines.append(f"GAP {gap.get('provider')}/{gap.get('scope')}: {gap.get('what')}")
    return "\n".join(lines)


def post(url: str, diff: dict) -> None:
    """POST the summary; raises OSError (urllib's errors are OSErrors) with a one-line reason."""
    body = json.dumps({"text": message(diff)}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"pipeline-guardrails/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            reply.read(1024)
    except urllib.error.HTTPError as exc:
        raise OSError(f"the webhook answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise OSError(f"the webhook could not be reached ({exc.reason})") from None
    except (TimeoutError, ValueError) as exc:
        raise OSError(f"the webhook could not be reached ({exc})") from None
