"""The HTML report in a real browser: it renders the attack path and the findings table, its script
runs under its own Content-Security-Policy, and the page requests nothing but itself.

Every host name is resolved to a loopback server that records each request, so a load of any
external resource (a CDN script, a font, an image planted in an estate string) shows up as a request
instead of vanishing into a failed DNS lookup."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_reports_support import load

from guardrails.reports import render

REPORT_NAME = "report.html"


def chromium_binary() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _serve(directory: Path) -> tuple[ThreadingHTTPServer, list[str]]:
    requests: list[str] = []

    class Recorder(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            requests.append(f"{self.headers.get('Host', '')} {self.path}")
            super().do_GET()

        def log_message(self, format, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, requests


def check_html_in_browser(document: dict, workdir: Path) -> str:
    """Render the document's HTML report, open it in headless Chromium, and assert that the
    attack-path SVG (when the document has attack paths) and the findings table are in the DOM after
    load, that the report's script ran, and that the only request the page made was for itself.
    Returns the dumped DOM for further checks."""
    browser = chromium_binary()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must install it for the browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium); set CI=1 to make this a failure")
    site = workdir / "site"
    site.mkdir()
    (site / REPORT_NAME).write_text(render(document, "html"), encoding="utf-8")
    server, requests = _serve(site)
    host, port = server.server_address
    try:
        completed = subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-proxy-server", "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter",
                "--disable-default-apps", "--disable-extensions", f"--user-data-dir={workdir / 'profile'}",
                # every name resolves to the recording server, so any external load is seen
                f"--host-resolver-rules=MAP * {host}:{port}",
                "--virtual-time-budget=5000", "--dump-dom",
                f"http://{host}:{port}/{REPORT_NAME}",
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = completed.stdout
    assert f"{host}:{port} /{REPORT_NAME}" in requests
    assert requests == [f"{host}:{port} /{REPORT_NAME}"], requests

    parser = _Elements()
    parser.feed(dom)
    tags = parser.tags
    assert any(t == "table" and a.get("id") == "findings-table" for t, a in tags)
    rows = [a for t, a in tags if t == "tr" and "data-severity" in a]
    assert len(rows) == len(document.get("findings") or [])
    has_paths = any(f.get("status") != "suppressed" and (f.get("evidence") or {}).get("path")
                    and (f.get("check_id") == "ci-internet-to-admin-path" or f.get("severity") == "critical")
                    for f in document.get("findings") or [])
    assert any(t == "svg" and "attack-path" in a.get("class", "") for t, a in tags) == has_paths
    # the filter controls are hidden in the markup and shown by the script: it ran under the CSP
    filters = next(a for t, a in tags if a.get("id") == "filters")
    assert "hidden" not in filters
    assert not any(t in ("img", "iframe", "object", "embed") for t, _ in tags)
    assert [t for t, _ in tags].count("script") == 1
    return dom


def test_sample_report_in_a_browser(tmp_path):
    dom = check_html_in_browser(load("sample"), tmp_path)
    assert "jenkins-master-role" in dom


def test_hostile_report_in_a_browser(tmp_path):
    dom = check_html_in_browser(load("hostile"), tmp_path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


# --- layout, measured in the browser ----------------------------------------------------------

# Appended to a copy of the report (the report's CSP allows inline scripts): it measures, after
# layout, every attack-path drawing and every table against the box that holds it, and the page
# against the window, and leaves the numbers on <body> for --dump-dom to carry out.
MEASURE = """<script>
(function () {
  function right(el) { return el.getBoundingClientRect().right; }
  var out = {window: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
             paths: [], tables: []};
  document.querySelectorAll("svg.attack-path").forEach(function (svg) {
    var box = svg.parentElement, most = 0;
    svg.querySelectorAll("rect, text, line").forEach(function (el) { most = Math.max(most, right(el)); });
    out.paths.push({steps: svg.querySelectorAll("rect").length, drawn: most, svg: right(svg), box: right(box),
                    scroll: box.scrollWidth, client: box.clientWidth});
  });
  document.querySelectorAll("svg.trend").forEach(function (svg) {
    var box = svg.parentElement, most = 0, least = Infinity;
    svg.querySelectorAll("text, line, circle, polyline").forEach(function (el) {
      most = Math.max(most, right(el)); least = Math.min(least, el.getBoundingClientRect().left); });
    var frame = svg.getBoundingClientRect();
    out.trend = {drawn: most, leftmost: least, svg: frame.right, svgLeft: frame.left, box: right(box),
                 points: svg.querySelectorAll("circle").length, height: frame.height};
  });
  document.querySelectorAll(".table-box").forEach(function (box) {
    out.tables.push({id: box.querySelector("table").id, scroll: box.scrollWidth, client: box.clientWidth});
  });
  document.body.setAttribute("data-measured", JSON.stringify(out));
})();
</script>"""


def measure_in_browser(document: dict, width: int, workdir: Path, screenshot: Path | None = None,
                       trend: dict | None = None) -> dict:
    """The report (with the trend chart of `trend`) laid out in headless Chromium at `width` px:
    MEASURE's numbers (and a screenshot)."""
    from guardrails.reports import render_html

    import json
    import re

    browser = chromium_binary()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must install it for the browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium); set CI=1 to make this a failure")
    page = workdir / f"report-{width}.html"
    page.write_text(render_html(document, trend).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-proxy-server", "--disable-extensions", f"--user-data-dir={workdir / f'profile-{width}'}",
              "--host-resolver-rules=MAP * 127.0.0.1:9", "--virtual-time-budget=5000"]
    completed = subprocess.run([*common, f"--window-size={width},1000", "--dump-dom", page.as_uri()],
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = re.search(r'data-measured="([^"]*)"', completed.stdout)
    assert found, "the measuring script did not run"
    import html as html_module

    measured = json.loads(html_module.unescape(found.group(1)))
    if screenshot is not None:
        subprocess.run([*common, f"--window-size={width},2400", f"--screenshot={screenshot}", page.as_uri()],
                       capture_output=True, timeout=120, check=True)
    return measured


@pytest.fixture(scope="module")
def sample_trend(tmp_path_factory) -> dict:
    """Twelve recorded audits of the sample's scope, a finding fewer every few runs: a history long
    enough that the chart thins its dates."""
    import copy
    import datetime as dt

    from guardrails.diff import scope_of
    from guardrails.history import open_store

    sample = load("sample")
    scope = scope_of(sample["scan"]["sources"])
    store = open_store(str(tmp_path_factory.mktemp("history") / "history.sqlite"))
    start = dt.datetime(2026, 10, 1, 6, 0, tzinfo=dt.timezone.utc)
    for n in range(12):
        document = copy.deepcopy(sample)
        document["findings"] = document["findings"][: len(document["findings"]) - (n % 5)]
        store.record(f"run-{n:02d}", scope, document, [], start + dt.timedelta(days=n))
    trend = store.severity_trend(scope)
    store.close()
    assert len(trend["runs"]) == 12
    return trend


@pytest.mark.parametrize("width", [1280, 800])
@pytest.mark.parametrize("name", ["sample", "demo"])
def test_every_attack_path_fits_the_page_with_every_step(tmp_path, width, name, request):
    document = load(name)
    trend = request.getfixturevalue("sample_trend") if name == "sample" else None  # the sample's, with its history
    measured = measure_in_browser(document, width, tmp_path, screenshot=tmp_path / f"report-{width}.png",
                                  trend=trend)
    if trend is not None:
        # the whole chart inside its frame and the frame inside the page, a point per run and severity
        chart = measured["trend"]
        assert chart["points"] == 12 * 5, chart
        assert chart["svgLeft"] - 0.5 <= chart["leftmost"] and chart["drawn"] <= chart["svg"] + 0.5, chart
        assert chart["svg"] <= chart["box"] + 0.5 and chart["height"] >= 120, chart
    else:
        assert "trend" not in measured
    from guardrails.reports.view import attack_paths

    paths = attack_paths(document)
    assert [p["steps"] for p in measured["paths"]] == [len(f["evidence"]["path"]) for f in paths]
    for drawn in measured["paths"]:
        # every box, arrow and label inside the drawing (an SVG clips what passes its edge), and the
        # drawing inside its box
        assert drawn["drawn"] <= drawn["svg"] + 0.5 and drawn["svg"] <= drawn["box"] + 0.5, drawn
        assert drawn["scroll"] <= drawn["client"], drawn  # and no scrollbar to find the end behind
    assert measured["page"] <= measured["window"], measured  # the page itself never scrolls sideways
    for table in measured["tables"]:
        assert table["scroll"] <= table["client"], table
    if os.environ.get("GUARDRAILS_SCREENSHOTS"):
        shutil.copy(tmp_path / f"report-{width}.png", Path(os.environ["GUARDRAILS_SCREENSHOTS"]) / f"{name}-{width}.png")
