"""Nothing lost, nothing misread: files are written whole or not at all, an output is never one of
the inputs, configuration mistakes are named, and unreadable input is a one-line error. Every test
runs the real command line in its own process, as users and CI jobs run it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aws_builders import ANYWHERE, AwsBuilder, tcp

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "terraform-fixtures"
PLAN = FIXTURES / "imdsv1-user-data-secrets" / "plan.json"
SARIF_SCHEMA = ROOT.parent / "shared" / "spec" / "sarif-schema-2.1.0.json"
# The installed console script, as users run it (a source checkout on sys.path would shadow the
# installed package, which alone holds guardrails.providers and guardrails.checks).
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
GOOD = b'{"a good file": "already in place"}\n' * 1000


def run(*args: str, cwd: Path | None = None, env: dict | None = None,
        file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    """The command line in its own process; with `file_size_limit`, no file it writes may grow
    past that many bytes (the kernel refuses the write, as a full disk would)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([*GUARDRAILS, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=env, preexec_fn=limit if file_size_limit else None)


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("guardrails: error: "), result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return lines[0]


def temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def plan(tmp_path) -> Path:
    copy = tmp_path / "plan.json"
    copy.write_bytes(PLAN.read_bytes())
    return copy


@pytest.fixture
def snapshot_file(tmp_path) -> Path:
    """A small saved AWS snapshot (one public Jenkins), written by the project's own writer."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from guardrails import snapshot

    path = tmp_path / "estate.json"
    snapshot.save(generate(40, seed=3), path)
    return path


# --- an output is never an input, nor another output -------------------------------------------


def test_output_equal_to_the_plan_is_refused_and_the_plan_kept(plan):
    before = plan.read_bytes()
    line = one_line_error(run("scan", "terraform", str(plan), "-o", str(plan)))
    assert "--output" in line and "same file" in line and str(plan) in line
    assert plan.read_bytes() == before


@pytest.mark.parametrize("how", ["symlink", "relative", "hard link", "plan directory"])
def test_output_reaching_the_plan_another_way_is_refused(plan, tmp_path, how):
    before = plan.read_bytes()
    (tmp_path / "elsewhere").mkdir()
    scanned = str(plan)
    if how == "symlink":
        output = tmp_path / "elsewhere" / "findings.json"
        output.symlink_to(plan)
    elif how == "relative":
        output = tmp_path / "elsewhere" / ".." / "plan.json"
    elif how == "hard link":
        output = tmp_path / "elsewhere" / "findings.json"
        os.link(plan, output)
    else:
        scanned, output = str(tmp_path), plan  # the directory holding it: the file found there is the input
    line = one_line_error(run("scan", "terraform", scanned, "-o", str(output)))
    assert "same file" in line
    assert plan.read_bytes() == before


def test_output_equal_to_a_snapshot_input_is_refused(snapshot_file, tmp_path):
    before = snapshot_file.read_bytes()
    link = tmp_path / "findings.json"
    link.symlink_to(snapshot_file.name)  # relative, as users make them
    for output in (snapshot_file, link):
        line = one_line_error(run("scan", "snapshot", str(snapshot_file), "-f", "sarif", "-o", str(output)))
        assert "same file as the snapshot" in line
    assert snapshot_file.read_bytes() == before


def test_report_onto_its_own_findings_document_is_refused(plan, tmp_path):
    findings = tmp_path / "findings.json"
    assert run("scan", "terraform", str(plan), "-f", "json", "-o", str(findings), "-q").returncode == 1
    before = findings.read_bytes()
    line = one_line_error(run("report", str(findings), "-f", "html", "-o", str(findings)))
    assert "same file as the findings document" in line
    assert findings.read_bytes() == before


def test_output_equal_to_the_configuration_file_is_refused(plan, tmp_path):
    config = tmp_path / "guardrails.toml"
    config.write_text('[runners]\nmax_age_days = 3\n')
    line = one_line_error(run("scan", "terraform", str(plan), "-o", "guardrails.toml", cwd=tmp_path))
    assert "configuration file" in line
    assert config.read_text() == '[runners]\nmax_age_days = 3\n'


def unreachable_aws(tmp_path: Path) -> dict:
    """An environment whose every AWS call would fail: a refusal must come before any of them."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_MAX_ATTEMPTS="1")


@pytest.mark.parametrize("snapshot_name, output_name", [
    ("estate.json", "estate.json"),               # the same name
    ("estate.json", "./out/../estate.json"),      # the same file, named another way
    ("link.json", "estate.json"),                 # a link to where the other goes
])
def test_save_snapshot_and_output_on_one_file_is_refused_before_collecting(tmp_path, snapshot_name, output_name):
    (tmp_path / "out").mkdir()
    (tmp_path / "link.json").symlink_to("estate.json")  # dangling until written
    result = run("scan", "aws", "--region", "eu-west-1", "--save-snapshot", snapshot_name, "-o", output_name,
                 cwd=tmp_path, env=unreachable_aws(tmp_path))
    line = one_line_error(result)  # 2 at once, not 3 after a failed collection
    assert "same file as --output" in line or "same file as --save-snapshot" in line
    assert not (tmp_path / "estate.json").exists()


@pytest.mark.parametrize("option", ["-o", "--save-snapshot"])
def test_output_that_cannot_be_written_is_refused_before_collecting(tmp_path, option):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    for target, says in (("a-file/out.json", "is not a folder"), ("a-folder", "is a folder")):
        result = run("scan", "aws", "--region", "eu-west-1", option, target, cwd=tmp_path,
                     env=unreachable_aws(tmp_path))
        line = one_line_error(result)
        assert option in line and says in line


def test_demo_output_is_checked_before_the_demo_is_built(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    started = time.monotonic()
    line = one_line_error(run("demo", "-o", "a-file/demo.json", "-q", cwd=tmp_path))
    assert "is not a folder" in line
    assert time.monotonic() - started < 20  # the demo estate alone takes longer to build


# --- writes are whole or absent ------------------------------------------------------------------


def small_estate(endpoint: str) -> None:
    import boto3

    b = AwsBuilder(boto3.Session(region_name="eu-west-1"), endpoint_url=endpoint)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24")
    sg = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=public, security_groups=[sg], public_ip=True, imds="required")


def test_scan_aws_writes_into_new_folders_and_leaves_no_temporary_file(moto_server, tmp_path):
    small_estate(moto_server)
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_server)
    old_snapshot = tmp_path / "saved" / "estate.json.gz"
    old_snapshot.parent.mkdir()
    old_snapshot.write_bytes(GOOD)
    result = run("scan", "aws", "--region", "eu-west-1", "-f", "sarif", "-o", "reports/today/findings.sarif",
                 "--save-snapshot", "saved/estate.json.gz", "-q", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads((tmp_path / "reports" / "today" / "findings.sarif").read_text())["runs"]
    assert old_snapshot.read_bytes() != GOOD  # replaced, whole: it reads back
    again = run("scan", "snapshot", str(old_snapshot), "-f", "json", "--fail-on", "never")
    assert again.returncode == 0, again.stderr
    assert {f["check_id"] for f in json.loads(again.stdout)["findings"]} >= {"ci-internet-exposed"}
    for folder in (tmp_path, tmp_path / "saved", tmp_path / "reports" / "today"):
        assert temporary_files(folder) == []
    assert oct((tmp_path / "reports" / "today" / "findings.sarif").stat().st_mode & 0o777) != oct(0o600)


def test_a_snapshot_that_cannot_be_written_keeps_the_old_one_and_the_scan_goes_on(moto_server, tmp_path):
    small_estate(moto_server)
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_server)
    saved = tmp_path / "estate.json"
    saved.write_bytes(GOOD)
    # Quiet: without a terminal the collector's progress lines would stand beside the error on stderr.
    result = run("scan", "aws", "--region", "eu-west-1", "-f", "json", "-q", "--save-snapshot", str(saved),
                 cwd=tmp_path, env=env, file_size_limit=2048)  # the snapshot is larger: its write fails
    line = one_line_error(result)
    assert "cannot write snapshot" in line and str(saved) in line
    assert {f["check_id"] for f in json.loads(result.stdout)["findings"]} >= {"ci-internet-exposed"}
    assert saved.read_bytes() == GOOD
    assert temporary_files(tmp_path) == []


def test_the_snapshot_is_saved_before_a_later_failure(moto_server, tmp_path):
    small_estate(moto_server)
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_server)
    command = ["scan", "aws", "--region", "eu-west-1", "-f", "html", "-o", "report.html", "-q",
               "--save-snapshot", "estate.json.gz"]
    (tmp_path / "sizes").mkdir()
    assert run(*command, cwd=tmp_path / "sizes", env=env).returncode == 1
    snapshot_size, report_size = ((tmp_path / "sizes" / name).stat().st_size for name in ("estate.json.gz", "report.html"))
    assert snapshot_size < report_size
    # Room for the compressed snapshot, not for the HTML report: writing the report fails.
    result = run(*command, cwd=tmp_path, env=env, file_size_limit=(snapshot_size + report_size) // 2)
    line = one_line_error(result)
    assert "report.html: cannot write" in line
    assert not (tmp_path / "report.html").exists()
    assert temporary_files(tmp_path) == []
    again = run("scan", "snapshot", str(tmp_path / "estate.json.gz"), "-f", "json", "--fail-on", "never")
    assert again.returncode == 0, again.stderr
    assert {f["check_id"] for f in json.loads(again.stdout)["findings"]} >= {"ci-internet-exposed"}


@pytest.fixture(scope="module")
def large_snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("large") / "estate.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--instances", "3000", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def kill_while_writing(command: list[str], destination: Path, cwd: Path, tries: int = 8) -> int:
    """Run `command` until a SIGKILL lands while its temporary file for `destination` exists (the
    write begun, the rename not yet done); how many runs it took. Runs that finished first are
    undone: the good file is put back."""
    prefix = f".{destination.name}."
    for attempt in range(1, tries + 1):
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = False
        while process.poll() is None and not seen:
            seen = any(name.startswith(prefix) for name in os.listdir(destination.parent))
            if not seen:
                time.sleep(0.0005)
        if seen:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=120)
        if seen and process.returncode == -signal.SIGKILL:
            return attempt
        destination.write_bytes(GOOD)
    pytest.fail(f"no SIGKILL landed during the write in {tries} runs")


def test_kill_9_while_writing_the_findings_leaves_the_good_file(large_snapshot, tmp_path):
    output = tmp_path / "findings.json"
    output.write_bytes(GOOD)
    kill_while_writing([*GUARDRAILS, "scan", "snapshot", str(large_snapshot), "-f", "json", "-o", str(output),
                        "-q", "-w", "1"], output, tmp_path)
    assert output.read_bytes() == GOOD


def test_kill_9_while_writing_a_snapshot_leaves_the_good_file(tmp_path):
    output = tmp_path / "estate.json.gz"
    output.write_bytes(GOOD)
    kill_while_writing([sys.executable, str(ROOT / "bench" / "generate.py"), "--instances", "3000", str(output)],
                       output, tmp_path)
    assert output.read_bytes() == GOOD


def test_devices_and_pipes_are_written_to_not_replaced(plan):
    import stat

    to_stdout = run("scan", "terraform", str(plan), "-f", "json", "-o", "/dev/stdout", "-q")
    assert to_stdout.returncode == 1, to_stdout.stderr
    assert json.loads(to_stdout.stdout)["findings"]
    to_null = run("scan", "terraform", str(plan), "-f", "sarif", "-o", "/dev/null", "-q")
    assert to_null.returncode == 1, to_null.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    from guardrails.files import replaced

    path = tmp_path / "findings.json"
    path.write_bytes(GOOD)
    path.chmod(0o640)
    with pytest.raises(KeyError):
        with replaced(path) as fh:
            fh.write(b"half of a new file")
            raise KeyError("stopped mid-write")
    assert path.read_bytes() == GOOD
    assert temporary_files(tmp_path) == []
    with replaced(path) as fh:
        fh.write(b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640  # the permissions of the file it replaced


# --- configuration that tells --------------------------------------------------------------------


def test_suppression_of_an_unknown_check_is_an_error(plan, tmp_path):
    (tmp_path / "guardrails.toml").write_text(
        '[[suppress]]\ncheck = "ci-imds-v2"\nresource = "*"\nreason = "typo"\n')
    line = one_line_error(run("scan", "terraform", str(plan), cwd=tmp_path))
    assert "'ci-imds-v2'" in line and "guardrails.toml" in line and "suppress[0].check" in line


def test_expired_suppression_no_longer_suppresses_and_every_output_says_so(plan, tmp_path):
    (tmp_path / "guardrails.toml").write_text(
        '[[suppress]]\ncheck = "ci-imds-v1"\nresource = "aws_instance.gitlab_runner"\nreason = "legacy"\n'
        'expires = 2020-01-31\n')
    document = json.loads(run("scan", "terraform", str(plan), "-f", "json", cwd=tmp_path).stdout)
    finding = next(f for f in document["findings"] if f["check_id"] == "ci-imds-v1")
    assert finding["status"] == "open" and finding["suppression"] is None
    (note,) = [n for n in document["coverage"]["notes"] if "expired" in n]
    assert "guardrails.toml" in note and "2020-01-31" in note and "ci-imds-v1" in note
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(document))
    for fmt in ("sarif", "markdown", "html"):
        rendered = run("report", str(findings), "-f", fmt)
        assert rendered.returncode == 0, rendered.stderr
        assert "expired on 2020-01-31" in rendered.stdout, fmt
    sarif = json.loads(run("report", str(findings), "-f", "sarif").stdout)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "note" and "expired on 2020-01-31" in n["message"]["text"] for n in notes)
    if SARIF_SCHEMA.exists():
        import jsonschema

        schema = json.loads(SARIF_SCHEMA.read_text())
        jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    table = run("scan", "terraform", str(plan), cwd=tmp_path, env=dict(os.environ, COLUMNS="400"))
    assert table.returncode == 1
    assert "expired on 2020-01-31 and no longer applies" in table.stdout


def test_long_names_are_shortened_in_the_terminal_and_kept_whole_in_json(tmp_path):
    long_name = "gitlab-runner-docker-" + "x" * 100_000
    plan = tmp_path / "plan.json"
    plan.write_text(PLAN.read_text().replace('"gitlab-runner-docker"', json.dumps(long_name)))
    env = dict(os.environ, COLUMNS="200")
    table = run("scan", "terraform", str(plan), env=env)
    assert table.returncode == 1, table.stderr
    assert "gitlab-runner-docker-xxx" in table.stdout and "\u2026" in table.stdout
    assert len(table.stdout) < 20_000 and len(table.stdout.splitlines()) < 200
    findings = tmp_path / "findings.json"
    assert run("scan", "terraform", str(plan), "-f", "json", "-o", str(findings), "-q").returncode == 1
    document = json.loads(findings.read_text())
    assert any(item["name"] == long_name for item in document["inventory"])
    assert any(f["resource"]["name"] == long_name for f in document["findings"])
    for command in (["report", str(findings), "-f", "table"], ["inventory", str(findings)]):
        shown = run(*command, env=env)
        assert shown.returncode == 0, shown.stderr
        assert "gitlab-runner-docker-xxx" in shown.stdout
        assert len(shown.stdout) < 20_000, command


# --- unreadable input and usage: exit 2, one line ------------------------------------------------

DEPTH = 100_000


def nested(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def test_nesting_bomb_in_a_plan(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": "1.2", "planned_values": {"root_module": {"resources": ' + nested() + "}}}")
    assert "nested too deeply" in one_line_error(run("scan", "terraform", str(plan)))


@pytest.mark.parametrize("command", ["report", "inventory"])
def test_nesting_bomb_as_a_findings_document(tmp_path, command):
    findings = tmp_path / "findings.json"
    findings.write_text('{"schema_version": "1", "findings": ' + nested() + "}")
    assert "nested too deeply" in one_line_error(run(command, str(findings)))


def test_nesting_bomb_in_a_snapshot(snapshot_file, tmp_path):
    text = snapshot_file.read_text()
    assert text.startswith('{"layout":"lines"') and '"Key":"Name","Value":' in text
    whole = tmp_path / "whole.json"
    whole.write_text('{"format": "pipeline-guardrails-snapshot", "version": 1, "provider": "aws", "x": '
                     + nested() + "}")
    in_a_line = tmp_path / "lines.json"  # one element of the line layout is the bomb
    in_a_line.write_text(text.replace('"Key":"Name","Value":', '"Key":"Name","Value":' + nested() + ',"V":', 1))
    walked = tmp_path / "walked.json"  # shallow enough to parse, deep enough to break what reads it
    walked.write_text(text.replace('"Key":"Name","Value":', '"Key":"Name","Value":' + nested(1000) + ',"V":', 1))
    for path in (whole, in_a_line, walked):
        line = one_line_error(run("scan", "snapshot", str(path)))
        assert "nested too deeply" in line or "depth limit" in line, path.name


def test_nesting_bomb_in_the_configuration(plan, tmp_path):
    (tmp_path / "guardrails.toml").write_text("x = " + nested() + "\n")
    line = one_line_error(run("scan", "terraform", str(plan), cwd=tmp_path))
    assert "guardrails.toml" in line and "nested too deeply" in line


def test_no_region_is_a_usage_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-creds"))
    line = one_line_error(run("scan", "aws", cwd=tmp_path, env=env))
    assert line == ("guardrails: error: no region: pass --region or set AWS_REGION/AWS_DEFAULT_REGION "
                    "or a profile region")
