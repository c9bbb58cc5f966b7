"""The estate graph, or the subgraph of the findings' evidence paths, written for other tools:
GraphML (Gephi, yEd, networkx), node-link JSON (networkx, d3), Graphviz DOT, and Cypher statements
for a Neo4j import.

Every node carries its kind, name, provider, account and region, whether it is CI (and as what),
production (and why) and exposed to the internet (true, false or unknown); every edge its kind,
and on an evidence path the `via` that lets the hop through and the checks whose paths use it.
Estate strings are cleaned of control characters and quoted for each format, never trusted.
"""

from __future__ import annotations

import json
import re

from guardrails.reports.text import one_line

FORMATS = ("graphml", "json", "dot", "cypher")


def _flag(value: object) -> str:
    """True, False or "unknown" as the text every format can hold."""
    return "unknown" if value == "unknown" else "true" if value else "false"


def estate_graph(estate, findings: list[dict] | None = None, paths_only: bool = False):
    """A flat networkx MultiDiGraph of the analysed estate: every node and edge, or with
    `paths_only` the nodes and hops of the findings' evidence paths."""
    import networkx as nx

    if estate.identities is not None:
        estate.identities.write_edges()
    graph = estate.graph
    out = nx.MultiDiGraph(name="estate")
    if paths_only:
        return _with_estate_facts(paths_graph(findings or []), estate)
    for node in graph.nodes():
        out.add_node(node.id, **_node_attributes(node.id, node.kind, node.name, node.get("provider"),
                                                 node.get("account"), node.get("region")))
    for node in graph.nodes():
        for target, attrs in graph.out(node.id):
            out.add_edge(node.id, target.id, **{k: _scalar(v) for k, v in attrs.items() if _scalar(v) is not None})
    return _with_estate_facts(out, estate)


def _scalar(value: object):
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return one_line(value)
    return None


def _node_attributes(node_id: str, kind: object, name: object, provider: object, account: object,
                     region: object) -> dict:
    return {"kind": one_line(kind), "name": one_line(name) or one_line(node_id), "provider": one_line(provider),
            "account": one_line(account), "region": one_line(region), "ci": "false", "ci_role": "",
            "production": "false", "production_reason": "", "exposed": "false"}


def _with_estate_facts(out, estate):
    """CI role, production and exposure of each node, as the analysis found them."""
    for node_id, attrs in out.nodes(data=True):
        verdict = estate.ci.get(node_id)
        if verdict is not None:
            attrs.update(ci="true", ci_role=verdict.role, exposed=_flag(estate.exposed(node_id)))
        if node_id in estate.production:
            attrs.update(production="true", production_reason=one_line(estate.production[node_id]))
    return out


def paths_graph(findings: list[dict], inventory: list[dict] | None = None):
    """The subgraph the open findings' evidence paths walk: one node per step, one edge per hop
    (kind `path`, its `via`, and the checks whose evidence uses it)."""
    import networkx as nx

    out = nx.MultiDiGraph(name="attack paths")
    hops: dict[tuple[str, str, str], dict] = {}
    for finding in findings:
        if finding.get("status") == "suppressed":
            continue
        steps = [s for s in (finding.get("evidence") or {}).get("path") or [] if isinstance(s, dict) and s.get("id")]
        for index, step in enumerate(steps):
            node_id = one_line(step["id"])
            if node_id not in out:
                out.add_node(node_id, **_node_attributes(node_id, step.get("kind"), step.get("name"), "", "", ""))
            if index:
                # One edge per hop and `via`: two findings may pass the same hop by different rules.
                key = (one_line(steps[index - 1]["id"]), node_id, one_line(step.get("via")))
                hop = hops.setdefault(key, {"kind": "path", "via": key[2], "checks": []})
                if finding.get("check_id") not in hop["checks"]:
                    hop["checks"].append(str(finding.get("check_id")))
        resource = finding.get("resource") or {}
        if resource.get("id") in out:
            out.nodes[resource["id"]].update(provider=one_line(resource.get("provider")),
                                             account=one_line(resource.get("account")),
                                             region=one_line(resource.get("region")))
    for (src, dst, _), hop in hops.items():
        out.add_edge(src, dst, kind="path", via=hop["via"], checks=",".join(hop["checks"]))
    for item in inventory or []:
        if item.get("id") in out:
            out.nodes[item["id"]].update(ci="true", ci_role=one_line(item.get("ci_role")),
                                         exposed=_flag(item.get("exposed")),
                                         production=_flag(bool(item.get("production"))))
    return out


def render(graph, fmt: str) -> str:
    """The graph in one of FORMATS."""
    if fmt == "graphml":
        import networkx as nx

        return "\n".join(nx.generate_graphml(graph, prettyprint=True)) + "\n"
    if fmt == "json":
        import networkx as nx

        return json.dumps(nx.node_link_data(graph, edges="edges"), indent=2, ensure_ascii=False) + "\n"
    if fmt == "dot":
        return _dot(graph)
    if fmt == "cypher":
        return _cypher(graph)
    raise ValueError(f"unknown graph format {fmt!r}; choose one of: {', '.join(FORMATS)}")


# --- Graphviz -----------------------------------------------------------------------------------

_FILL = {"internet": "#fde2e1", "gateway": "#fff1cc", "route_table": "#fff1cc", "subnet": "#e8f0fe",
         "network": "#e8f0fe", "firewall": "#ffe8cc", "load_balancer": "#e6f4ea", "compute": "#e6f4ea",
         "identity": "#f3e8fd", "account": "#fce8f3"}


def _dot_string(value: object) -> str:
    """A DOT quoted string holding the value literally (escString escapes such as \\N stay text)."""
    return '"' + one_line(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(graph) -> str:
    lines = ["digraph estate {", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for node_id, attrs in graph.nodes(data=True):
        label = f"{attrs.get('kind', '')}: {attrs.get('name', '')}"
        extras = [f"{key}={_dot_string(attrs.get(key, ''))}" for key in ("kind", "ci", "ci_role", "production", "exposed")]
        border = ', color="#d93025", penwidth=2' if attrs.get("exposed") == "true" and attrs.get("ci") == "true" else ""
        lines.append(f"  {_dot_string(node_id)} [label={_dot_string(label)}, tooltip={_dot_string(node_id)}, "
                     f"fillcolor={_dot_string(_FILL.get(attrs.get('kind', ''), '#f1f3f4'))}{border}, "
                     f"{', '.join(extras)}];")
    for src, dst, attrs in graph.edges(data=True):
        via = one_line(attrs.get("via", ""))
        short = via if len(via) <= 40 else via[:39] + "\u2026"
        label = f"label={_dot_string(short)}, tooltip={_dot_string(via)}, " if via else ""
        lines.append(f"  {_dot_string(src)} -> {_dot_string(dst)} [{label}kind={_dot_string(attrs.get('kind', ''))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- Neo4j --------------------------------------------------------------------------------------

def _cypher_string(value: object) -> str:
    return '"' + one_line(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cypher_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return _cypher_string(value)


def _cypher_name(value: object) -> str:
    """A label or relationship type made of letters only: never a quoted estate string."""
    words = re.findall(r"[A-Za-z]+", str(value)) or ["Other"]
    return "".join(word.capitalize() for word in words)


def _cypher_map(attrs: dict) -> str:
    keys = [key for key in attrs if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key))]
    return "{" + ", ".join(f"{key}: {_cypher_value(attrs[key])}" for key in keys) + "}"


def _cypher(graph) -> str:
    """Statements for cypher-shell or the Neo4j browser: an index, one CREATE per node (label
    EstateNode plus its kind), one MATCH ... CREATE per edge (its kind as the relationship type)."""
    lines = ["CREATE INDEX estate_node_id IF NOT EXISTS FOR (n:EstateNode) ON (n.id);"]
    for node_id, attrs in graph.nodes(data=True):
        lines.append(f"CREATE (:EstateNode:{_cypher_name(attrs.get('kind'))} {_cypher_map({'id': node_id, **attrs})});")
    for src, dst, attrs in graph.edges(data=True):
        kind = _cypher_name(attrs.get("kind")).upper()
        lines.append(f"MATCH (a:EstateNode {{id: {_cypher_string(src)}}}), (b:EstateNode {{id: {_cypher_string(dst)}}}) "
                     f"CREATE (a)-[:{kind} {_cypher_map(attrs)}]->(b);")
    return "\n".join(lines) + "\n"
