"""`guardrails audit` as users run it: the real command on real plans, recording into SQLite and
PostgreSQL (`history_db`), two audits at once, an audit killed halfway, and the webhook."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guardrails.history import open_store

ROOT = Path(__file__).resolve().parents[1]
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
# Two plans of one Jenkins: behind a network ACL that denies the internet, and without it.
CLOSED = ROOT / "terraform-fixtures" / "nacl-deny" / "plan.json"
OPEN = ROOT / "terraform-fixtures" / "public-jenkins" / "plan.json"


def audit(db: str, plan: Path, *options: str, env: dict | None = None, **run) -> subprocess.CompletedProcess:
    return subprocess.run([*GUARDRAILS, "audit", "--db", db, "--scope", "jenkins", *options, "terraform", str(plan)],
                          capture_output=True, text=True, timeout=120, env=env, **run)


def changes(stdout: str) -> list[tuple[str, str]]:
    """(label, check id) of each changed finding the audit printed."""
    return [(line.split()[0], line.split()[2]) for line in stdout.splitlines()
            if line.split() and line.split()[0] in ("NEW", "FIXED", "REOPENED", "EXPIRED", "UNSEEN")]


def test_audits_record_history_and_gate_on_regressions(history_db, tmp_path):
    first = audit(history_db, CLOSED, "--fail-on-new", "high")
    # The first run of a scope: everything is new, and high findings are regressions.
    assert first.returncode == 1, first.stderr
    assert len(changes(first.stdout)) == 3 and "the first run of this scope" in first.stdout
    second = audit(history_db, OPEN, "--fail-on-new", "critical", "--diff-output", str(tmp_path / "diff.json"))
    assert changes(second.stdout) == [("NEW", "ci-internet-exposed")]
    assert second.returncode == 1
    written = json.loads((tmp_path / "diff.json").read_text())
    assert written["summary"]["new"] == 1 and written["summary"]["still_open"] == 3
    assert written["previous_run"]["id"] and written["scope"] == "jenkins"
    third = audit(history_db, CLOSED, "--fail-on-new", "high")
    assert changes(third.stdout) == [("FIXED", "ci-internet-exposed")]
    # Only regressions fail the gate: what was already open does not.
    assert third.returncode == 0, third.stdout + third.stderr
    # An audit writing the HTML report: written once the run is recorded, with the trend that ends in it.
    fourth = subprocess.run([*GUARDRAILS, "audit", "--db", history_db, "--scope", "jenkins", "terraform", str(OPEN),
                             "--format", "html", "-o", str(tmp_path / "report.html")], capture_output=True, text=True, timeout=120)
    assert changes(fourth.stdout) == [("REOPENED", "ci-internet-exposed")]
    assert fourth.returncode == 1  # without --fail-on-new, --fail-on (high) decides as in a scan
    states = {row["check_id"]: row for row in open_store(history_db).finding_states("jenkins")}
    assert states["ci-internet-exposed"]["reopened_count"] == 1

    shown = subprocess.run([*GUARDRAILS, "history", "--db", history_db, "--scope", "jenkins"],
                           capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("complete") == 4
    trend = next(line for line in shown.stdout.splitlines() if line.strip().startswith("ci-internet-exposed"))
    assert trend.split()[1:] == ["0", "1", "0", "1", "+1"]
    # The chart's runs, added up over severities, are the open findings `history` lists for each run
    # (newest first there), and its last run is this report's own.
    listed = [int(line.split()[5]) for line in shown.stdout.splitlines() if " complete " in line]
    page = (tmp_path / "report.html").read_text()
    series = {m[0]: [int(v) for v in m[1].split(",")] for m in re.findall(r'data-severity="(\w+)" data-counts="([\d,]+)"', page)}
    assert [sum(run) for run in zip(*series.values())] == listed[::-1]
    cards = dict(re.findall(r'<div class="card (\w+)"><div class="n">(\d+)</div>', page))
    assert {severity: counts[-1] for severity, counts in series.items()} == {k: int(v) for k, v in cards.items()}


def test_two_audits_at_once_both_record_and_agree(history_db):
    started = [subprocess.Popen([*GUARDRAILS, "audit", "--db", history_db, "--scope", "jenkins", "terraform",
                                 str(OPEN)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [process.communicate(timeout=180) for process in started]
    assert [process.returncode for process in started] == [1, 1], [err for _, err in outputs]
    # One of them was first; the other waited for it and found nothing new.
    assert sorted(len(changes(out)) for out, _ in outputs) == [0, 4]
    store = open_store(history_db)
    assert [run["status"] for run in store.runs("jenkins")] == ["complete", "complete"]
    states = store.finding_states("jenkins")
    assert len(states) == 4 and len({row["fingerprint"] for row in states}) == 4
    _, per_check = store.trends("jenkins", "check")
    assert all(counts == [1, 1] for counts in per_check.values())


def _wait_for(condition, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"the audit never {what}")


def _waiting_on_a_lock(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        return bool(connection.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND datname = current_database()").fetchone()[0])


def test_an_audit_killed_while_recording_leaves_the_history_as_it_was(history_db, tmp_path):
    from bench_modules import generator

    smaller, larger = tmp_path / "smaller.json", tmp_path / "larger.json"
    smaller.write_text(json.dumps(generator.generate(20)))
    larger.write_text(json.dumps(generator.generate(40)))
    command = [*GUARDRAILS, "audit", "--db", history_db, "--scope", "estate", "snapshot"]
    assert subprocess.run([*command, str(smaller)], capture_output=True, timeout=120).returncode == 1
    store = open_store(history_db)
    before = store.finding_states("estate")
    # The audit reads its snapshot from a pipe, so that it is known to have started (its run is
    # "running") before anything of the snapshot arrives. Then another client holds the database
    # (SQLite: a read transaction, which lets the audit write its pages but not commit them;
    # PostgreSQL: the findings' rows, locked for update) and the audit, now recording a changed
    # estate, is killed in the middle of its transaction.
    pipe = tmp_path / "snapshot.pipe"
    os.mkfifo(pipe)
    process = subprocess.Popen([*command, str(pipe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sqlite_file = None if "://" in history_db else Path(history_db)
    try:
        _wait_for(lambda: [run["status"] for run in store.runs("estate") if run["status"] == "running"],
                  "started", process)
        if sqlite_file is not None:
            import sqlite3

            holder = sqlite3.connect(sqlite_file, isolation_level=None)
            holder.execute("BEGIN")
            holder.execute("SELECT count(*) FROM findings").fetchone()
        else:
            import psycopg

            holder = psycopg.connect(history_db)
            holder.execute("SELECT * FROM findings FOR UPDATE").fetchall()
        feeder = threading.Thread(target=lambda: pipe.write_bytes(larger.read_bytes()), daemon=True)
        feeder.start()
        journal = Path(f"{sqlite_file}-journal")
        _wait_for(journal.exists if sqlite_file is not None else lambda: _waiting_on_a_lock(history_db),
                  "reached its recording transaction", process)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        feeder.join(timeout=10)
    finally:
        process.kill()
        if "holder" in locals():
            holder.execute("ROLLBACK") if sqlite_file is not None else holder.rollback()
            holder.close()
    store = open_store(history_db)
    assert store.finding_states("estate") == before
    runs = store.runs("estate")
    assert [run["status"] for run in runs] == ["running", "complete"]  # the killed run shows as unfinished
    # The next audit compares itself with the last complete run, and finds what the killed one would have.
    after = subprocess.run([*command, str(larger)], capture_output=True, text=True, timeout=120)
    assert f"({runs[1]['id']})" in after.stdout
    from guardrails import diff, pipeline

    expected = diff.compare_documents(pipeline.scan_snapshots([json.loads(smaller.read_text())]),
                                      pipeline.scan_snapshots([json.loads(larger.read_text())]))
    assert expected["summary"]["new"] and expected["summary"]["fixed"]
    assert diff.summary_line(expected) in after.stdout


class _Webhook(BaseHTTPRequestHandler):
    posts: list = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def webhook():
    handler = type("Webhook", (_Webhook,), {"posts": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_the_webhook_hears_of_new_findings_and_a_failed_post_is_not_fatal(tmp_path, webhook):
    url, handler = webhook
    db = str(tmp_path / "history.sqlite")
    assert audit(db, CLOSED, "--notify-webhook", url).returncode == 1
    assert audit(db, CLOSED, "--notify-webhook", url).returncode == 1  # nothing new: nothing posted
    assert audit(db, OPEN, "--notify-webhook", url).returncode == 1
    assert len(handler.posts) == 2
    content_type, body = handler.posts[1]
    assert content_type == "application/json" and set(body) == {"text"}
    assert "1 new" in body["text"] and "NEW critical ci-internet-exposed: jenkins-controller" in body["text"]
    handler.status = 500
    failed = audit(db, CLOSED, "--notify-webhook", url, "--fail-on-new", "high")
    assert failed.returncode == 0  # fixed only: nothing to tell, nothing posted
    refused = audit(db, OPEN, "--notify-webhook", url, "--fail-on-new", "critical")
    assert refused.returncode == 1, refused.stderr  # the regression decides, not the failed post
    assert "guardrails: warning: the notification was not sent: the webhook answered 500" in refused.stderr
    assert changes(refused.stdout) == [("REOPENED", "ci-internet-exposed")]
