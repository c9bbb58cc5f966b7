"""The terminal view as a person reads it: the rendered table at 80 and 120 columns (snapshots in
__snapshots__/, refreshed with `pytest --snapshot-update` after a deliberate change, then read),
piped output, --verbose, and the commands around it (`report`, `checks`, `demo`)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from test_reports_support import load

from guardrails.reports.table import plural, print_table, verdict, without_subject

ROOT = Path(__file__).resolve().parents[1]
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]


def rendered(document: dict, width: int, verbose: bool = False, terminal: bool = False) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=terminal, color_system="standard" if terminal else None)
    print_table(document, console, verbose=verbose)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_table_of_the_sample_at_terminal_widths(width, snapshot):
    text = rendered(load("sample"), width)
    assert all(len(line) <= width for line in text.splitlines()), "a line runs past the terminal's width"
    assert not any(line.endswith(" ") for line in text.splitlines())
    assert text == snapshot


def test_piped_output_is_plain_and_every_path_step_is_shown():
    document = load("sample")
    text = rendered(document, 80)
    assert "\x1b" not in text and "─" not in text  # no colours and no box drawing in a log
    path = next(f for f in document["findings"] if f["check_id"] == "ci-internet-to-admin-path")
    block = text[text.index("Attack path (1)"):text.index("Findings on ")]
    for step in path["evidence"]["path"]:
        assert (step.get("name") or step["id"]) in block
    # the wrapped chain keeps its hanging indent: no line of the path starts at column 0
    assert all(line.startswith("  ") for line in block.splitlines()[1:] if line)


def test_findings_do_not_repeat_their_node_under_its_header():
    document = load("sample")
    text = rendered(document, 120)
    section = text[text.index("Findings on "):]
    node = next(f["resource"] for f in document["findings"] if f["resource"]["name"] == "jenkins-master")
    header = next(line for line in section.splitlines() if line.startswith("jenkins-master "))
    assert node["id"] in header
    assert section.count(f"jenkins-master ({node['id']})") == 0


def test_verbose_shows_every_message_whole_with_its_evidence():
    document = load("sample")
    longest = max(document["findings"], key=lambda f: len(f["message"]))
    short, full = rendered(document, 100), rendered(document, 100, verbose=True)
    flat = " ".join(full.split())
    assert without_subject(longest["message"], longest["resource"]) in flat
    assert len(full.splitlines()) > len(short.splitlines())
    step = next(s for f in document["findings"] for s in f["evidence"]["path"] if s.get("via"))
    assert " ".join(step["via"].split()) in flat and " ".join(step["via"].split()) not in " ".join(short.split())


def test_long_messages_are_shortened_in_the_default_view():
    document = load("sample")
    item = dict(document["findings"][0], message="jenkins-master " + "very long words " * 100)
    text = rendered(dict(document, findings=[item]), 80)
    assert "…" in text and "very long words " * 20 not in " ".join(text.split())


def test_words_agree_with_their_numbers():
    assert plural(1, "CI node") == "1 CI node" and plural(2, "CI node") == "2 CI nodes"
    assert plural(1, "open finding") == "1 open finding"
    document = load("sample")
    one = dict(document, findings=[f for f in document["findings"] if f["check_id"] == "ci-internet-to-admin-path"])
    assert "through 1 CI node[/];" in verdict(one) and "(1 open finding in all)" in verdict(one)
    text = rendered(one, 120)
    assert "(s)" not in text and "1 open finding:" in text


def test_verdict_is_the_last_word():
    document = load("sample")
    clean = dict(document, findings=[], coverage=dict(document["coverage"], gaps=[], complete=True))
    assert verdict(clean) == "[green]Verdict: no open findings[/]."
    low = dict(clean, findings=[f for f in document["findings"] if f["severity"] == "medium"])
    assert "nothing critical or high" in verdict(low)
    blind = dict(low, coverage=document["coverage"])
    assert "INCOMPLETE" in verdict(blind)


# --- the commands around the table -------------------------------------------------------------

def run(*args: str, cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*GUARDRAILS, *args], capture_output=True, text=True, cwd=cwd, timeout=300, **kwargs)


SAMPLE = ROOT / "tests" / "fixtures" / "findings" / "sample.json"


@pytest.mark.parametrize("name, marker", [("r.html", "<!DOCTYPE html>"), ("r.md", "# "), ("r.sarif", '"version": "2.1.0"'),
                                          ("r.sarif.json", '"version": "2.1.0"'), ("r.json", '"schema_version"'),
                                          ("r.txt", "open findings")])
def test_report_takes_the_format_from_the_output_name(tmp_path, name, marker):
    result = run("report", str(SAMPLE), "-o", str(tmp_path / name))
    assert result.returncode == 0, result.stderr
    assert marker in (tmp_path / name).read_text(encoding="utf-8")


def test_report_with_an_unknown_suffix_asks_for_the_format(tmp_path):
    result = run("report", str(SAMPLE), "-o", str(tmp_path / "r.xyz"))
    assert result.returncode == 2 and "pass --format" in result.stderr and not (tmp_path / "r.xyz").exists()


def _on_a_terminal(*args: str) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*GUARDRAILS, *args], stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                               env=dict(os.environ, COLUMNS="100"), cwd=ROOT)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_report_shows_the_table_on_a_terminal_and_refuses_html_there():
    code, shown = _on_a_terminal("report", str(SAMPLE))
    assert code == 0 and "Verdict:" in shown and "<html" not in shown
    code, shown = _on_a_terminal("report", str(SAMPLE), "--format", "html")
    assert code == 2 and "not for the terminal" in shown and "<html" not in shown
    piped = run("report", str(SAMPLE), "--format", "html")  # to a pipe or a file, it is written
    assert piped.returncode == 0 and piped.stdout.lstrip().startswith("<!DOCTYPE html>")


def test_checks_say_when_a_finding_is_more_severe_than_the_catalogue():
    result = run("checks", env=dict(os.environ, COLUMNS="100"))
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("ci-firewall-allows-internet "))
    line += " " + result.stdout.split(line, 1)[1].split("\n")[1].strip()
    assert "medium" in line and "raised to high when the node is also reachable from the internet" in line
    assert re.search(r"OWASP CI/CD: CICD-SEC-\d", result.stdout)


def test_demo_without_its_extra_says_how_to_install_it(tmp_path):
    # Python's own way to make a package unimportable: a None entry in sys.modules.
    code = "import sys; sys.modules['moto'] = None; from guardrails.cli import main; sys.argv = ['guardrails', 'demo']; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("guardrails: error: the demo builds its estate in the AWS emulator moto, which is "
                                     "not installed: pip install 'pipeline-guardrails[demo]'")
    assert not (tmp_path / "findings.json").exists()


def test_demo_writes_the_files_the_readme_goes_on_with(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "guardrails demo --save-snapshot estate.json.gz" in readme
    demo = run("demo", "--save-snapshot", "estate.json.gz", cwd=tmp_path, env=dict(os.environ, COLUMNS="80"))
    assert demo.returncode == 0, demo.stderr
    findings = json.loads((tmp_path / "findings.json").read_text())
    for line in re.findall(r"^guardrails (scan snapshot estate\.json\.gz.*|report findings\.json.*)$", readme, re.M):
        args = line.split("#")[0].split()
        result = run(*args, "-q" if args[0] == "scan" else "--verbose", cwd=tmp_path)
        assert result.returncode in (0, 1), (line, result.stderr)
    # The README's sample is the demo's real output, ids aside (the emulator makes new ones each run).
    sample = readme[readme.index("## Reading a finding"):]
    sample = sample[sample.index("```\n") + 4:sample.index("\n```", sample.index("```\n") + 4)]
    assert _without_ids(sample) in _without_ids(demo.stdout)
    rescanned = run("scan", "snapshot", "estate.json.gz", "-f", "json", cwd=tmp_path)
    assert sorted(f["id"] for f in json.loads(rescanned.stdout)["findings"]) == sorted(f["id"] for f in findings["findings"])
    assert (tmp_path / "report.html").exists()


def _without_ids(text: str) -> str:
    return re.sub(r"\b(i|sg|igw|subnet|rtb|eni|acl|pcx)-[0-9a-f]{8,17}\b", r"\1-ID", text)
