"""`guardrails graph`: the estate graph and its attack paths, opened by the tools they are for:
GraphML and node-link JSON in networkx, DOT in Graphviz (`dot -Tsvg`), Cypher parsed with the
openCypher grammar (no Neo4j server runs here: it needs a JVM and gigabytes for one import)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from bench_modules import generator
from test_reports_support import FIXTURES, load

from guardrails import snapshot

GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
DEMO = FIXTURES / "demo.json"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*GUARDRAILS, "graph", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def estate_snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "estate.json.gz"
    snapshot.save(generator.generate(40, seed=3), path)
    return path


def graphviz() -> str:
    found = shutil.which("dot")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz is not installed; CI must install it (apt-get install graphviz)")
        pytest.skip("Graphviz is not installed (apt-get install graphviz); set CI=1 to make this a failure")
    return found


def test_the_attack_paths_of_a_findings_document_open_in_networkx(tmp_path):
    demo = load("demo")
    out = tmp_path / "paths.graphml"
    assert run(str(DEMO), "-o", str(out)).returncode == 0
    graph = nx.read_graphml(out)
    steps = {s["id"] for f in demo["findings"] if f["status"] == "open" for s in f["evidence"]["path"]}
    assert set(graph.nodes) == steps
    legacy = next(i for i in demo["inventory"] if i["name"] == "jenkins-legacy")
    assert graph.nodes[legacy["id"]]["ci_role"] == "server" and graph.nodes[legacy["id"]]["exposed"] == "true"
    assert graph.nodes["internet"]["kind"] == "internet"
    path = next(f for f in demo["findings"] if f["check_id"] == "ci-internet-to-admin-path")["evidence"]["path"]
    for before, after in zip(path, path[1:]):
        data = graph.get_edge_data(before["id"], after["id"])
        hops = list(data.values()) if graph.is_multigraph() else [data]  # as read_graphml finds it
        assert data and any(h["via"] == after["via"] and "ci-internet-to-admin-path" in h["checks"] for h in hops)


def test_a_snapshot_exports_the_whole_estate_and_its_paths(estate_snapshot, tmp_path):
    whole, paths = tmp_path / "estate.graphml", tmp_path / "paths.json"
    assert run(str(estate_snapshot), "-o", str(whole)).returncode == 0
    assert run(str(estate_snapshot), "--paths", "--format", "json", "-o", str(paths)).returncode == 0
    estate = nx.read_graphml(whole)
    subgraph = nx.node_link_graph(json.loads(paths.read_text()), edges="edges")
    kinds = {attrs["kind"] for _, attrs in estate.nodes(data=True)}
    assert {"internet", "compute", "subnet", "firewall", "identity"} <= kinds
    # The identity graph's edges are part of the whole graph: who can become whom, and what each holds.
    edge_kinds = {attrs["kind"] for _, _, attrs in estate.edges(data=True)}
    assert {"runs_as", "can_assume", "acts_as", "grants"} <= edge_kinds
    assert any(attrs["ci"] == "true" for _, attrs in estate.nodes(data=True))
    assert any(attrs["production"] == "true" for _, attrs in estate.nodes(data=True))
    assert 0 < subgraph.number_of_nodes() < estate.number_of_nodes()
    assert set(subgraph.nodes) <= set(estate.nodes)
    assert all(attrs["kind"] == "path" for _, _, attrs in subgraph.edges(data=True))


@pytest.mark.parametrize("source", ["demo", "snapshot"])
def test_dot_renders_in_graphviz(source, estate_snapshot, tmp_path):
    dot = graphviz()
    given = DEMO if source == "demo" else estate_snapshot
    result = run(str(given), "--format", "dot", "--paths")
    assert result.returncode == 0, result.stderr
    svg = subprocess.run([dot, "-Tsvg"], input=result.stdout, capture_output=True, text=True, timeout=120)
    assert svg.returncode == 0, svg.stderr
    lines = result.stdout.splitlines()
    assert svg.stdout.count('class="node"') == sum(1 for line in lines if " [label=" in line and " -> " not in line)
    assert svg.stdout.count('class="edge"') == sum(1 for line in lines if " -> " in line)
    assert "internet" in svg.stdout


def test_estate_strings_cannot_break_out_of_any_format(tmp_path):
    hostile = load("hostile")
    for fmt in ("graphml", "json", "dot", "cypher"):
        out = tmp_path / f"hostile.{fmt}"
        result = subprocess.run([*GUARDRAILS, "graph", str(FIXTURES / "hostile.json"), "-f", fmt, "-o", str(out)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert "\x1b" not in text
        if fmt == "graphml":
            nx.read_graphml(out)
        elif fmt == "json":
            nx.node_link_graph(json.loads(text), edges="edges")
        elif fmt == "dot" and shutil.which("dot"):
            assert subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True).returncode == 0
        else:
            # one statement per line, each ending its own strings: no quote left open
            for line in text.splitlines():
                assert line.endswith(";")
                assert len(line.replace('\\\\', '').replace('\\"', '').split('"')) % 2 == 1, line
                assert NEO4J_INDEX.match(line) or cypher_syntax_errors(line) == [], line
    assert hostile["findings"]


# Neo4j's index command (Cypher 5), which the openCypher grammar leaves to each database.
NEO4J_INDEX = re.compile(r"^CREATE INDEX [a-z_]+ IF NOT EXISTS FOR \(n:[A-Za-z]+\) ON \(n\.[a-z_]+\);$")


def cypher_syntax_errors(statement: str) -> list[str]:
    """What the openCypher grammar (ANTLR4) finds wrong in one statement."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.atn.PredictionMode import PredictionMode
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4_cypher import CypherLexer, CypherParser

    errors: list[str] = []

    class Collect(ErrorListener):
        def syntaxError(self, recognizer, symbol, line, column, message, exc):  # noqa: N802 (ANTLR's name)
            errors.append(f"{column}: {message}")

    lexer = CypherLexer(InputStream(statement))
    parser = CypherParser(CommonTokenStream(lexer))
    for part in (lexer, parser):
        part.removeErrorListeners()
        part.addErrorListener(Collect())
    parser._interp.predictionMode = PredictionMode.SLL  # several times faster; these statements are not ambiguous
    parser.script()  # one query, then the end of the input
    return errors


def test_every_cypher_statement_parses_with_the_opencypher_grammar(estate_snapshot, tmp_path):
    assert cypher_syntax_errors('CREATE (:A {id: "x});') and cypher_syntax_errors("CREATE (:A); DROP x")
    # (the hostile document's statements are parsed in test_estate_strings_cannot_break_out_of_any_format)
    out = tmp_path / "graph.cypher"
    result = run(str(estate_snapshot), "--format", "cypher", "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert NEO4J_INDEX.match(lines[0]), lines[0]
    statements = lines[1:]
    assert any(s.startswith("CREATE (:EstateNode") for s in statements)
    assert any(s.startswith("MATCH (a:EstateNode") for s in statements)
    # one statement of each shape (labels or relationship type, and keys): the parser is slow
    shapes = {re.sub(r'"(?:[^"\\]|\\.)*"|-?\d+(\.\d+)?', "V", s): s for s in statements}
    for statement in shapes.values():
        assert cypher_syntax_errors(statement) == [], statement
