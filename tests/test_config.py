"""The configuration file: where it is read from, how every wrong key is named, suppressions, and
how the command line reports a bad file and a suppressed finding."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import boto3
import moto.ec2.models.amis
import moto.iam.models
import pytest
from aws_builders import ADMINISTRATOR_ACCESS, AwsBuilder, read_only_session
from moto import mock_aws
from moto.iam.aws_managed_policies import aws_managed_policies_data

from guardrails import pipeline, snapshot
from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config, Suppression, load, parse
from guardrails.errors import UserError
from guardrails.providers.aws import collect as aws_collect

REGION = "eu-west-1"
GUARDRAILS = str(Path(sys.executable).with_name("guardrails"))

VALID = """
[[ci.nodes]]
name = "build-*"
role = "runner"

[[ci.nodes]]
tag = "team=platform"

[ci]
exclude = ["i-0legacy"]

[production]
accounts = ["111122223333"]
ids = ["i-0db"]
names = ["*-prod-*"]
tags = ["team=payments"]

[runners]
max_age_days = 3

[[suppress]]
check = "ci-imds-v1"
resource = "i-0abc*"
reason = "legacy, replaced in Q1"
expires = 2027-01-31
"""


# --- where the file is found -------------------------------------------------------------------


def test_guardrails_toml_in_the_working_directory(tmp_path):
    (tmp_path / "guardrails.toml").write_text(VALID)

    config = load(cwd=tmp_path)

    assert config.path == str(tmp_path / "guardrails.toml")
    assert config.production_accounts == {"111122223333"}
    assert config.production_tags == (("team", "payments"),)
    assert config.runner_max_age_days == 3
    assert config.ci_exclude == ("i-0legacy",)
    assert [(s.kind, s.value, s.role) for s in config.ci_nodes] == [("name", "build-*", "runner"),
                                                                   ("tag", "team=platform", None)]
    assert config.suppressions == (Suppression("ci-imds-v1", "i-0abc*", "legacy, replaced in Q1", "2027-01-31"),)


def test_explicit_file_wins_over_the_working_directory(tmp_path):
    (tmp_path / "guardrails.toml").write_text('[production]\naccounts = ["999999999999"]\n')
    chosen = tmp_path / "elsewhere" / "scan.toml"
    chosen.parent.mkdir()
    chosen.write_text(VALID)

    config = load(chosen, cwd=tmp_path)

    assert config.path == str(chosen)
    assert config.production_accounts == {"111122223333"}


def test_tool_guardrails_table_of_pyproject(tmp_path):
    body = VALID.replace("[[ci.nodes]]", "[[tool.guardrails.ci.nodes]]")
    body = body.replace("[[suppress]]", "[[tool.guardrails.suppress]]")
    for section in ("ci", "production", "runners"):
        body = body.replace(f"[{section}]", f"[tool.guardrails.{section}]")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n' + body)

    from_cwd = load(cwd=tmp_path)
    explicit = load(tmp_path / "pyproject.toml", cwd=Path("/"))

    assert from_cwd.production_accounts == explicit.production_accounts == {"111122223333"}
    assert len(from_cwd.suppressions) == len(explicit.suppressions) == 1
    assert from_cwd.path == str(tmp_path / "pyproject.toml")


def test_guardrails_toml_comes_before_pyproject(tmp_path):
    (tmp_path / "guardrails.toml").write_text('[production]\naccounts = ["111122223333"]\n')
    (tmp_path / "pyproject.toml").write_text('[tool.guardrails.production]\naccounts = ["999999999999"]\n')

    assert load(cwd=tmp_path).production_accounts == {"111122223333"}


def test_no_file_and_pyproject_without_the_table_give_the_defaults(tmp_path):
    assert load(cwd=tmp_path) == Config()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert load(cwd=tmp_path) == Config()
    assert Config().runner_max_age_days == 7


def test_missing_explicit_file_is_named(tmp_path):
    with pytest.raises(UserError) as raised:
        load(tmp_path / "absent.toml", cwd=tmp_path)
    assert "absent.toml" in str(raised.value)


# --- every wrong key is named, in one line ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, named",
    [
        pytest.param('colour = "red"\n', "colour", id="unknown top-level key"),
        pytest.param('[ci]\nnodez = []\n', "ci.nodez", id="unknown ci key"),
        pytest.param('[production]\nteams = []\n', "production.teams", id="unknown production key"),
        pytest.param('[[ci.nodes]]\nname = "build-*"\nlable = "x"\n', "ci.nodes[0].lable", id="unknown ci.nodes key"),
        pytest.param('[[ci.nodes]]\nname = "a"\n[[ci.nodes]]\nnmae = "b"\n', "ci.nodes[1].nmae",
                     id="unknown key of the second selector"),
        pytest.param('[[ci.nodes]]\nrole = "runner"\n', "ci.nodes[0]", id="selector without id, name or tag"),
        pytest.param('[[ci.nodes]]\nname = "a"\nid = "i-1"\n', "ci.nodes[0]", id="selector with two of id, name, tag"),
        pytest.param('[[ci.nodes]]\nname = "build-*"\nrole = "builder"\n', "ci.nodes[0].role", id="bad role"),
        pytest.param('[[ci.nodes]]\nname = 3\n', "ci.nodes[0].name", id="selector value not a string"),
        pytest.param('ci = 3\n', "ci", id="section not a table"),
        pytest.param('[production]\naccounts = "111122223333"\n', "production.accounts", id="string for a list"),
        pytest.param('[production]\naccounts = [111122223333]\n', "production.accounts", id="numbers for strings"),
        pytest.param('[ci]\nexclude = [1]\n', "ci.exclude", id="exclude not strings"),
        pytest.param('[runners]\nmax_age_days = "7"\n', "runners.max_age_days", id="string for a number"),
        pytest.param('[runners]\nmax_age_days = true\n', "runners.max_age_days", id="boolean for a number"),
        pytest.param('[runners]\nmax_age_days = 0\n', "runners.max_age_days", id="zero max_age_days"),
        pytest.param('[runners]\nmax_age_days = -2.5\n', "runners.max_age_days", id="negative max_age_days"),
        pytest.param('[production]\ntags = ["team"]\n', "production.tags", id="tag without a value"),
        pytest.param('[production]\ntags = ["=payments"]\n', "production.tags", id="tag without a key"),
        pytest.param('[[suppress]]\ncheck = "ci-imds-v1"\nresource = "i-1"\nreason = "x"\nexpires = "31/01/2027"\n',
                     "suppress[0].expires", id="bad expires date"),
        pytest.param('[[suppress]]\ncheck = "ci-imds-v1"\nresource = "i-1"\nreason = "x"\nexpires = "2027-02-30"\n',
                     "suppress[0].expires", id="impossible expires date"),
        pytest.param('[[suppress]]\ncheck = "ci-imds-v1"\nresource = "i-1"\n', "suppress[0].reason",
                     id="suppression without a reason"),
        pytest.param('[[suppress]]\ncheck = "ci-imds-v1"\nresource = "i-1"\nreason = "x"\nuntil = 2027-01-31\n',
                     "suppress[0].until", id="unknown suppression key"),
        pytest.param('[suppress]\ncheck = "ci-imds-v1"\n', "suppress", id="suppress as a table, not an array"),
    ],
)
def test_every_validation_error_names_the_key_in_one_line(tmp_path, text, named):
    file = tmp_path / "guardrails.toml"
    file.write_text(text)

    with pytest.raises(UserError) as raised:
        load(cwd=tmp_path)

    message = str(raised.value)
    assert named in message
    assert message.startswith(str(file))
    assert "\n" not in message


def test_a_suppression_of_an_unknown_check_is_named_in_one_line(tmp_path):
    from guardrails.commands import load_config

    file = tmp_path / "guardrails.toml"
    file.write_text('[[suppress]]\ncheck = "*"\nresource = "i-1"\nreason = "x"\n[[suppress]]\n'
                    'check = "ci-imds-v9"\nresource = "i-1"\nreason = "x"\n')

    with pytest.raises(UserError) as raised:
        load_config(file)

    message = str(raised.value)
    assert message.startswith(str(file)) and "suppress[1].check" in message and "'ci-imds-v9'" in message
    assert "\n" not in message


def test_errors_in_pyproject_name_the_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.guardrails]\ncolour = "red"\n')

    with pytest.raises(UserError) as raised:
        load(cwd=tmp_path)

    assert "[tool.guardrails]" in str(raised.value) and "colour" in str(raised.value)


@pytest.mark.parametrize("text", ["[production\naccounts = []\n", 'colour = "red\n', "a = 1\na = 2\n", "= 3\n"])
def test_invalid_toml_is_one_line_naming_the_file(tmp_path, text):
    file = tmp_path / "guardrails.toml"
    file.write_text(text)

    with pytest.raises(UserError) as raised:
        load(file)

    message = str(raised.value)
    assert message.startswith(str(file)) and "TOML" in message
    assert "\n" not in message


# --- suppressions ---------------------------------------------------------------------------------------


def _suppression(**entry) -> Suppression:
    entry = {"check": "ci-imds-v1", "resource": "i-0abc", "reason": "x", **entry}
    (suppression,) = parse({"suppress": [entry]}).suppressions
    return suppression


@pytest.mark.parametrize(
    "entry, check_id, resource, applies",
    [
        pytest.param({}, "ci-imds-v1", "i-0abc", True, id="exact check and resource"),
        pytest.param({}, "ci-secret-in-user-data", "i-0abc", False, id="another check"),
        pytest.param({}, "ci-imds-v1", "i-0abcd", False, id="another resource"),
        pytest.param({"check": "*"}, "ci-secret-in-user-data", "i-0abc", True, id="every check"),
        pytest.param({"resource": "i-0ab*"}, "ci-imds-v1", "i-0abcd", True, id="resource glob"),
        pytest.param({"resource": "arn:aws:codebuild:*:project/build-*"}, "ci-imds-v1",
                     "arn:aws:codebuild:eu-west-1:123456789012:project/build-app", True, id="ARN glob"),
        pytest.param({"resource": "i-0ab*"}, "ci-imds-v1", "i-0xyz", False, id="glob not matching"),
    ],
)
def test_suppression_matches_check_and_resource(entry, check_id, resource, applies):
    assert _suppression(**entry).applies(check_id, resource, dt.date(2026, 6, 1)) is applies


@pytest.mark.parametrize(
    "today, applies",
    [(dt.date(2027, 1, 30), True), (dt.date(2027, 1, 31), True), (dt.date(2027, 2, 1), False)],
    ids=["before", "on the expiry date", "the day after"],
)
def test_suppression_stops_after_its_expiry_date(today, applies):
    for expires in ("2027-01-31", dt.date(2027, 1, 31)):  # a TOML string or a TOML date
        assert _suppression(expires=expires).applies("ci-imds-v1", "i-0abc", today) is applies
    assert _suppression().applies("ci-imds-v1", "i-0abc", dt.date(2099, 1, 1))


# --- end to end: a collected estate scanned with a configuration --------------------------------------


# moto's own copy of AdministratorAccess only, and its small built-in image list: loading every AWS
# managed policy and the thousands of latest images of the region costs twenty seconds and changes
# nothing this scan sees.
_USED_MANAGED_POLICIES = json.dumps(
    {name: document for name, document in json.loads(aws_managed_policies_data).items()
     if name == "AdministratorAccess"}
)


@pytest.fixture(scope="module")
def estate(tmp_path_factory, aws_test_environment) -> tuple[Path, str]:
    """A saved snapshot where exactly one finding fires: a private, autoscaled runner running as
    AdministratorAccess (ci-admin-identity, critical). Returns the file and the runner's id."""
    folder = tmp_path_factory.mktemp("estate")
    images = folder / "amis.json"
    images.write_text(json.dumps(moto.ec2.models.amis.AMIS, default=str))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto.iam.models, "aws_managed_policies_data", _USED_MANAGED_POLICIES)
        patch.setenv("MOTO_AMIS_PATH", str(images))
        with mock_aws():
            b = AwsBuilder(boto3.Session(region_name=REGION))
            vpc = b.vpc("10.0.0.0/16", name="ci")
            subnet = b.private_subnet(vpc, "10.0.1.0/24", name="ci-private")
            role = b.role("ci-runner", managed_policies=[ADMINISTRATOR_ACCESS])
            runner = b.instance("gitlab-runner", subnet=subnet, security_groups=[b.security_group(vpc, "ci-runner")],
                                imds="required", instance_profile=role)
            b.autoscaling_group("gitlab-runners", subnets=[subnet], instances=[runner])
            collected = aws_collect.collect(read_only_session(), [REGION], wants_user_data=_user_data_wanted(Config()))
    path = folder / "estate.json.gz"
    snapshot.save(collected, path)
    return path, runner.id


def _statuses(document: dict) -> set[tuple[str, str, str]]:
    return {(f["check_id"], f["resource"]["id"], f["status"]) for f in document["findings"]}


def test_suppression_holds_until_its_expiry_in_a_scan(estate):
    path, runner = estate
    collected = snapshot.load(path)
    # the runner is young at either date, so that the long-lived-runner check stays out of it
    config = parse({"runners": {"max_age_days": 3650},
                    "suppress": [{"check": "ci-admin-identity", "resource": "i-*", "reason": "migrating",
                                  "expires": "2027-01-31"}]})

    before = pipeline.scan_snapshots([collected], config, now=dt.datetime(2027, 1, 31, 23, tzinfo=dt.timezone.utc))
    after = pipeline.scan_snapshots([collected], config, now=dt.datetime(2027, 2, 1, 1, tzinfo=dt.timezone.utc))

    assert _statuses(before) == {("ci-admin-identity", runner, "suppressed")}
    assert before["findings"][0]["suppression"] == {"reason": "migrating", "expires": "2027-01-31"}
    assert _statuses(after) == {("ci-admin-identity", runner, "open")}
    assert after["findings"][0]["suppression"] is None


def _guardrails(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GUARDRAILS, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "text",
    ['[runners]\nmax_age_days = 0\n', "[production\n", '[[ci.nodes]]\nname = "x"\nrole = "boss"\n'],
    ids=["invalid value", "invalid TOML", "bad role"],
)
def test_cli_bad_config_exits_2_with_one_line(estate, tmp_path, text):
    path, _ = estate
    (tmp_path / "bad.toml").write_text(text)

    result = _guardrails("scan", "snapshot", str(path), "--config", "bad.toml", "--format", "json", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("guardrails: error: bad.toml")
    assert "Traceback" not in result.stderr


def test_cli_bad_guardrails_toml_in_cwd_exits_2(estate, tmp_path):
    path, _ = estate
    (tmp_path / "guardrails.toml").write_text('colour = "red"\n')

    result = _guardrails("scan", "snapshot", str(path), "--format", "json", cwd=tmp_path)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "colour" in result.stderr


def test_cli_suppressed_finding_is_reported_and_does_not_fail_the_run(estate, tmp_path):
    path, runner = estate
    (tmp_path / "guardrails.toml").write_text(
        f'[[suppress]]\ncheck = "ci-admin-identity"\nresource = "{runner}"\nreason = "break-glass runner"\n'
    )
    empty = tmp_path / "no-config"
    empty.mkdir()

    suppressed = _guardrails("scan", "snapshot", str(path), "--format", "json", "--fail-on", "high", cwd=tmp_path)
    unsuppressed = _guardrails("scan", "snapshot", str(path), "--format", "json", "--fail-on", "high", cwd=empty)

    assert suppressed.returncode == 0, suppressed.stderr
    document = json.loads(suppressed.stdout)
    assert _statuses(document) == {("ci-admin-identity", runner, "suppressed")}
    assert document["findings"][0]["suppression"]["reason"] == "break-glass runner"
    assert unsuppressed.returncode == 1, unsuppressed.stderr
    assert _statuses(json.loads(unsuppressed.stdout)) == {("ci-admin-identity", runner, "open")}
