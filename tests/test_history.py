"""The audit history and diffs: the life of each finding across runs, suppressions as decisions,
changes from one run to the next, on SQLite and on PostgreSQL alike (`history_db`)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from html.parser import HTMLParser

from guardrails import diff
from guardrails.config import Suppression
from guardrails.history import open_store

SAMPLE = json.loads((Path(__file__).parent / "fixtures" / "findings" / "sample.json").read_text())
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.timezone.utc)
SCOPE = "aws:111122223333"


def scan(keep: set[str] | None = None, *, add: list[dict] = (), gaps: list[dict] = (), suppress: set[str] = (),
         at: dt.datetime = START, run_id: str = "run") -> dict:
    """The sample document with only the findings whose ids are in `keep` (all by default), extra
    findings, coverage gaps and suppressed findings, as a scan at `at` would give it."""
    document = copy.deepcopy(SAMPLE)
    document["scan"]["id"] = run_id
    document["scan"]["started_at"] = at.isoformat().replace("+00:00", "Z")
    document["findings"] = [f for f in document["findings"] if keep is None or f["id"] in keep] + list(add)
    for finding in document["findings"]:
        if finding["id"] in suppress:
            finding["status"], finding["suppression"] = "suppressed", {"reason": "accepted", "expires": None}
        elif finding["status"] == "suppressed":
            finding["status"], finding["suppression"] = "open", None
    document["coverage"]["gaps"] = list(gaps)
    document["coverage"]["complete"] = not gaps
    return document


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


EXPOSED = "gr1-16ada122d1aa197b607a0707"  # ci-internet-exposed on i-0a1b..., account 111122223333
IMDS = "gr1-b721361ada8b34f7679e7a1d"  # ci-imds-v1 on the same node
ESCALATION = "gr1-125dd68385fe431332044219"  # ci-privilege-escalation on i-0fed...


SUPPRESSED = {f["id"] for f in SAMPLE["findings"] if f["status"] == "suppressed"}


def test_diff_of_two_documents_names_every_change(tmp_path):
    old = scan(run_id="old", suppress=SUPPRESSED)
    new_finding = {**copy.deepcopy(SAMPLE["findings"][0]), "id": "gr1-000000000000000000000001",
                   "check_id": "ci-admin-identity", "resource": {**SAMPLE["findings"][0]["resource"], "id": "i-0new"}}
    everything_else = {f["id"] for f in SAMPLE["findings"]} - {EXPOSED}
    new = scan(everything_else, add=[new_finding], suppress={IMDS},
               gaps=[{"provider": "aws", "scope": "999999999999", "region": "eu-west-1", "what": "instances",
                      "error": "denied"}], at=START + DAY, run_id="new")
    result = diff.compare_documents(old, new)
    assert ids(result["new"]) == ["gr1-000000000000000000000001"]
    assert ids(result["fixed"]) == [EXPOSED]
    assert ids(result["suppressed"]) == [IMDS]
    # Suppressed in the old document, open in the new: the suppressions there had ended.
    assert sorted(ids(result["expired_suppressions"])) == sorted(SUPPRESSED)
    assert result["coverage"]["appeared"][0]["what"] == "instances" and result["coverage"]["cleared"] == []
    assert result["summary"]["still_open"] == len(everything_else) - 1 - result["summary"]["expired_suppressions"]
    assert result["previous_run"]["id"] == "old" and result["current_run"]["id"] == "new"
    # The command says the same, as JSON and as text, and gates on a new finding.
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    run = subprocess.run([*GUARDRAILS, "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "-f", "json"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["summary"] == result["summary"]
    gate = subprocess.run([*GUARDRAILS, "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"),
                           "--fail-on-new", "critical"], capture_output=True, text=True, timeout=60)
    assert gate.returncode == 1
    lines = gate.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.startswith(("NEW", "FIXED"))] == ["NEW", "FIXED"]


def test_a_vanished_finding_in_an_account_with_gaps_is_unseen_not_fixed():
    old = scan(run_id="old")
    gap = {"provider": "aws", "scope": "111122223333", "region": None, "what": "account",
           "error": "sts:AssumeRole: AccessDenied"}
    new = scan(set(), gaps=[gap], at=START + DAY, run_id="new")
    result = diff.compare_documents(old, new)
    in_account = {f["id"] for f in SAMPLE["findings"] if f["resource"]["account"] == "111122223333"}
    assert set(ids(result["unseen"])) == in_account
    # Terraform resources have no account: nothing says they were not seen.
    assert set(ids(result["fixed"])) == {f["id"] for f in SAMPLE["findings"] if f["resource"]["account"] is None}
    assert result["summary"]["new"] == 0


def test_history_keeps_each_findings_life(history_db):
    store = open_store(history_db)
    everything = {f["id"] for f in SAMPLE["findings"]}
    decision = Suppression(check="ci-imds-v1", resource="i-0a1b*", reason="replaced in January", expires="2026-12-31",
                           by="platform@example.com")

    store.begin_run("r1", "(running)", START)
    first = store.record("r1", SCOPE, scan(run_id="r1"), [], START)
    assert first.previous is None and first.changes.count("new") == len(everything)
    second = store.record("r2", SCOPE, scan(everything - {EXPOSED}, suppress={IMDS}, run_id="r2", at=START + DAY),
                          [decision], START + DAY)
    assert second.previous["id"] == "r1"
    assert ids(second.changes.categories["fixed"]) == [EXPOSED]
    assert ids(second.changes.categories["suppressed"]) == [IMDS]
    assert second.changes.count("new") == 0
    third = store.record("r3", SCOPE, scan(everything, run_id="r3", at=START + 3 * DAY), [], START + 3 * DAY)
    assert ids(third.changes.categories["reopened"]) == [EXPOSED]
    assert ids(third.changes.categories["expired_suppressions"]) == [IMDS]
    still = {item["id"]: item for item in third.changes.categories["still_open"]}
    assert still[ESCALATION]["age_days"] == 3 and still[ESCALATION]["first_seen"] == "2026-11-01T02:00:00Z"

    states = {row["fingerprint"]: row for row in store.finding_states(SCOPE)}
    exposed = states[EXPOSED]
    assert (exposed["status"], exposed["reopened_count"], exposed["fixed_at"]) == ("open", 1, None)
    assert exposed["first_seen"] == START and exposed["last_seen"] == START + 3 * DAY
    assert states[ESCALATION]["first_run"] == "r1" and states[ESCALATION]["last_run"] == "r3"
    fourth = store.record("r4", SCOPE, scan(everything - {ESCALATION}, run_id="r4", at=START + 4 * DAY), [],
                          START + 4 * DAY)
    assert ids(fourth.changes.categories["fixed"]) == [ESCALATION]
    assert store.finding_states(SCOPE)[0]["scope"] == SCOPE
    fixed = {row["fingerprint"]: row for row in store.finding_states(SCOPE)}[ESCALATION]
    assert fixed["status"] == "fixed" and fixed["fixed_at"] == START + 4 * DAY

    # The suppression is a decision: who, why, until when, from run r2, withdrawn at r3.
    (recorded,) = store.decisions(SCOPE)
    assert (recorded["check_id"], recorded["resource"], recorded["reason"], recorded["expires"]) == (
        "ci-imds-v1", "i-0a1b*", "replaced in January", "2026-12-31")
    assert recorded["decided_by"] == "platform@example.com"
    assert recorded["first_run"] == "r2" and recorded["withdrawn_at"] is not None

    runs = store.runs(SCOPE)
    assert [run["id"] for run in runs] == ["r4", "r3", "r2", "r1"] and {r["status"] for r in runs} == {"complete"}
    latest, per_check = store.trends(SCOPE, "check")
    assert [run["id"] for run in latest] == ["r1", "r2", "r3", "r4"]
    assert per_check["ci-internet-exposed"] == [2, 1, 2, 2]
    _, per_account = store.trends(SCOPE, "account")
    assert per_account["111122223333"][0] == sum(1 for f in SAMPLE["findings"]
                                                 if f["resource"]["account"] == "111122223333")
    store.close()


def test_a_scope_is_compared_with_its_own_previous_run_only(history_db):
    store = open_store(history_db)
    store.record("a1", "aws:111", scan(run_id="a1"), [], START)
    other = store.record("b1", "aws:222", scan(run_id="b1"), [], START + DAY)
    assert other.previous is None and other.changes.count("new") == other.changes.count("new") > 0
    again = store.record("a2", "aws:111", scan(run_id="a2"), [], START + 2 * DAY)
    assert again.previous["id"] == "a1" and again.changes.count("new") == 0
    store.close()


def test_an_unreachable_database_is_one_line(tmp_path):
    run = subprocess.run([*GUARDRAILS, "history", "--db", "postgresql://nobody@127.0.0.1:1/none"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith("guardrails: error: --db: cannot open the history database")
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_schema_is_made_by_the_migrations_and_the_store_knows_their_head(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    import sqlalchemy as sa

    from guardrails.history import store as history_store
    from guardrails.history.tables import metadata

    script = ScriptDirectory.from_config(_alembic_config(history_store.MIGRATIONS, Config))
    assert script.get_current_head() == history_store.SCHEMA_REVISION
    opened = open_store(str(tmp_path / "h.sqlite"))
    inspector = sa.inspect(opened.engine)
    # The tables the queries are written against are the ones the migrations made, column for column.
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
    opened.close()


def _alembic_config(location, config_type):
    config = config_type()
    config.set_main_option("script_location", str(location))
    return config


class _Chart(HTMLParser):
    """The trend chart's series (severity -> counts and drawn y of each point) and number table."""

    def __init__(self) -> None:
        super().__init__()
        self.svg: dict = {}
        self.series: dict[str, dict] = {}
        self.current: str | None = None
        self.table_rows: list[list[str]] = []
        self.in_table = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg" and "trend" in (attrs.get("class") or ""):
            self.svg = attrs
        elif tag == "g" and "data-severity" in attrs:
            self.current = attrs["data-severity"]
            self.series[self.current] = {"counts": [int(v) for v in attrs["data-counts"].split(",")],
                                         "y": [], "hollow": []}
        elif tag == "circle" and self.current:
            self.series[self.current]["y"].append(float(attrs["cy"]))
            self.series[self.current]["hollow"].append(attrs["fill"] == "#fff")
        elif tag == "table" and attrs.get("id") == "trend-table":
            self.in_table = True
        elif tag == "tr" and self.in_table:
            self.table_rows.append([])
        elif tag == "td" and self.in_table:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "g":
            self.current = None
        elif tag == "table":
            self.in_table = False
        elif tag == "td" and self.cell is not None:
            self.table_rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def open_by_severity(document: dict) -> dict[str, int]:
    counts = dict.fromkeys(("critical", "high", "medium", "low", "info"), 0)
    for finding in document["findings"]:
        if finding["status"] == "open":
            counts[finding["severity"]] += 1
    return counts


def test_the_html_report_draws_the_trend_of_the_recorded_audits(history_db, tmp_path):
    """Three audits of one scope (the last with a coverage gap) and one of another scope: `report
    --history-db` draws a line per severity whose points are each run's open findings, in order."""
    from typer.testing import CliRunner

    from guardrails.cli import app
    from guardrails.errors import UserError

    everything = {f["id"] for f in SAMPLE["findings"]}
    gap = {"provider": "aws", "scope": "111122223333", "region": "eu-west-1", "what": "ec2:DescribeInstances",
           "error": "AccessDenied"}
    documents = [scan(run_id="t1"), scan(everything - {EXPOSED, ESCALATION}, suppress={IMDS}, run_id="t2", at=START + DAY),
                 scan(everything - {ESCALATION}, gaps=[gap], run_id="t3", at=START + 2 * DAY)]
    scope = diff.scope_of(SAMPLE["scan"]["sources"])  # what an audit of the sample's sources records
    store = open_store(history_db)
    for n, document in enumerate(documents):
        store.record(f"t{n + 1}", scope, document, [], START + n * DAY)
    store.record("o1", "aws:999", scan(everything - {EXPOSED}, run_id="o1"), [], START + 5 * DAY)
    store.close()
    saved = tmp_path / "findings.json"
    saved.write_text(json.dumps(documents[-1]))
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(saved), "--history-db", history_db, "--scope", scope,
                                      "-o", str(report)])
    assert result.exit_code == 0, result.output
    chart = _Chart()
    chart.feed(report.read_text())
    expected = [open_by_severity(document) for document in documents]
    assert len({tuple(counts.values()) for counts in expected}) == 3  # the runs differ, so order shows
    top = int(chart.svg["data-y-max"])
    plot_top, plot_bottom = float(chart.svg["data-plot-top"]), float(chart.svg["data-plot-bottom"])
    for severity, drawn in chart.series.items():
        assert drawn["counts"] == [counts[severity] for counts in expected], severity
        # each point is drawn at its count on the y axis
        assert [round(top * (plot_bottom - y) / (plot_bottom - plot_top), 3) for y in drawn["y"]] == drawn["counts"]
        assert drawn["hollow"] == [False, False, True]  # the run with a coverage gap
    assert set(chart.series) == set(expected[0])
    rows = [row for row in chart.table_rows if row]  # the header row has no <td>
    assert [[int(cell) for cell in row[2:7]] for row in rows] == [list(c.values()) for c in expected]
    assert [(row[1], row[7]) for row in rows] == [("t1", "complete"), ("t2", "complete"), ("t3", "incomplete")]

    # The scope defaults to the one an audit of the document's sources records.
    default = CliRunner().invoke(app, ["report", str(saved), "--history-db", history_db, "-f", "html"])
    assert default.exit_code == 0 and default.output == report.read_text()
    refused = [["--history-db", history_db, "--scope", "aws:000"], ["--history-db", history_db, "-f", "markdown"],
               ["--scope", scope, "-f", "html"]]
    for options in refused:
        failed = CliRunner().invoke(app, ["report", str(saved), *options])
        assert isinstance(failed.exception, UserError) and "\n" not in str(failed.exception), options
