"""`guardrails audit`: any scan, recorded in the history database, with the changes since the
previous run of the same scope printed, written and (optionally) posted to a webhook.

The audit group's options (--db, --scope, --fail-on-new, --diff-output, --notify-webhook) are
taken by its callback, which opens the database (so a wrong --db fails before any collection)
and says that a run started; its subcommands are the scan commands themselves (`audit aws`,
`audit terraform`, `audit snapshot`, and whatever a provider adds to `scan`). Every scan command
ends in commands.scan_and_finish, which hands the finished document here when an audit is under
way (`ACTIVE`)."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass
class AuditRequest:
    """What the audit group's options asked for, and the run it started."""

    db: Optional[str]
    scope: Optional[str]
    fail_on_new: Optional[str]
    diff_output: Optional[Path]
    webhook: Optional[str]
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    store: object = None

    def start(self, command: str) -> None:
        from guardrails.history import open_store

        self.store = open_store(self.db)
        self.store.begin_run(self.run_id, self.scope or f"(running: {command})", self.started_at)


# The audit under way in this process, if any (set by the audit group's callback).
ACTIVE: Optional[AuditRequest] = None


def finish(request: AuditRequest, document: dict, config, scope: str, quiet: bool, to_stdout: bool) -> dict:
    """Record the scanned document, show and write the changes, notify; the diff document."""
    from guardrails import diff as diffs
    from guardrails.errors import UserError
    from guardrails.files import write_text
    from guardrails.history.store import one_line
    from sqlalchemy.exc import SQLAlchemyError

    scope = request.scope or scope
    try:
        recorded = request.store.record(request.run_id, scope, document, list(config.suppressions),
                                        request.started_at)
    except SQLAlchemyError as exc:  # the scan's files are written: say why the history is not
        raise UserError(f"--db: the run could not be recorded: {one_line(exc)}") from None
    diff = diffs.document(recorded.changes, scope, recorded.previous, {"id": request.run_id,
                          "started_at": document["scan"]["started_at"]},
                          recorded.previous_complete, diffs.coverage_complete(document))
    if request.diff_output is not None:
        import json

        write_text(request.diff_output, json.dumps(diff, indent=2) + "\n")
    if not quiet:
        stream = sys.stderr if to_stdout else sys.stdout
        stream.write(diffs.render_text(diff))
        stream.flush()
    if request.webhook and notify_worth(diff):
        from guardrails import notify

        try:
            notify.post(request.webhook, diff)
        except OSError as exc:
            print(f"guardrails: warning: the notification was not sent: {exc}", file=sys.stderr, flush=True)
    return diff


def severity_trend(request: AuditRequest, scope: str) -> dict:
    """Open findings by severity over the recorded runs of the audit's scope, this one last."""
    return request.store.severity_trend(request.scope or scope)


def notify_worth(diff: dict) -> bool:
    from guardrails.notify import worth_telling

    return worth_telling(diff)
