"""Neo4j Browser exploration: the style file, the favourite queries and Browser itself.

A small simulated landscape is collected into a Neo4j of this module's own (the session server's
HTTP port, where Browser is served, is not exposed by conftest). Headless Chromium then opens the
Browser that this Neo4j serves, connects without authentication, applies deploy/neo4j/graphinv.grass
with `:style`, runs the orphan-VM favourite and checks the drawn graph against what the same query
returns through the driver. Screenshots go to the test's tmp dir on every run, and into
docs/screenshots/ when those files are missing or GRAPHINV_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import neo4j.graph
import pytest

from collectors.settings import SourcesSettings
from graphinv.commands.collect import collect_into
from graphinv.config import Config, Neo4jConnection
from graphinv.db import Graph
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jSettings
from graphinv.ports import free_port
from graphinv.queries import load_query
from graphinv.sim.generate import generate
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.chromium_cdp import Chromium, find_chromium
from tests.support.screenshots import publish

ROOT = Path(__file__).resolve().parents[1]
GRASS = ROOT / "deploy" / "neo4j" / "graphinv.grass"
FAVORITES = ROOT / "deploy" / "neo4j" / "favorites" / "graphinv"
EXPLORING = ROOT / "docs" / "exploring.md"
# Labels that only say which cloud a node lives in; they are left unstyled on purpose so the
# kind (Instance, Disk, ...) decides the colour.
PROVIDER_LABELS = {"AWS", "GCP", "Azure", "OpenStack"}
EDITOR = "[data-testid=activeEditor] textarea"
CTRL = 2


# -- the favourites as files ------------------------------------------------------------------
@dataclass
class Favorite:
    path: Path
    title: str
    params: dict[str, str]  # name -> the Cypher literal of its example value
    cypher: str  # the whole file: Browser and the driver both take // comments


def load_favorite(path: Path) -> Favorite:
    text = path.read_text()
    lines = text.splitlines()
    assert lines and lines[0].startswith("// graphinv: "), f"{path.name}: the first line names the favourite"
    # Parameters are set by a separate `:param` the user runs first: a favourite mixing `:param`
    # and Cypher would run in multi-statement mode, which shows no graph.
    params = dict(re.findall(r"^// first set: :param (\w+) => (.+)$", text, flags=re.M))
    assert not any(line.startswith(":") for line in lines), f"{path.name}: Browser commands belong in comments"
    used = set(re.findall(r"\$(\w+)", text))
    assert used == set(params), f"{path.name}: uses {used} but says to set {set(params)}"
    return Favorite(path, lines[0].removeprefix("// graphinv: "), params, text)


def favorites() -> list[Favorite]:
    return [load_favorite(p) for p in sorted(FAVORITES.glob("*.cypher"))]


def favorite(stem_part: str) -> Favorite:
    return next(f for f in favorites() if stem_part in f.path.stem)


def grass_rules(text: str) -> dict[str, dict[str, str]]:
    """The rules of a GraSS file, read the way Neo4j Browser 5.x reads them.

    Browser's parser drops quote characters (braces inside quotes are kept), glues every non-blank
    character outside braces into the next selector (so it knows no comments), and keeps only
    declarations that split at ':' into exactly two parts. Anything it would silently mangle or drop
    is an error here.
    """
    rules: dict[str, dict[str, str]] = {}
    in_quote = in_rule = False
    selector = body = ""
    for char in text:
        if char in "'\"":
            in_quote = not in_quote
        elif char == "{" and not in_quote:
            assert not in_rule, f"a brace inside the rule for {selector!r}"
            in_rule = True
        elif char == "}" and not in_quote:
            assert in_rule, f"a closing brace without a rule after {selector!r}"
            assert selector not in rules, f"{selector!r} is defined twice"
            rules[selector] = _declarations(selector, body)
            in_rule, selector, body = False, "", ""
        elif in_rule:
            body += char
        elif not char.isspace():
            selector += char
    assert not in_quote and not in_rule and not selector, "the file ends inside a rule or a quote"
    return rules


def _declarations(selector: str, body: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for declaration in body.split(";"):
        if not declaration.strip():
            continue
        parts = declaration.split(":")
        assert len(parts) == 2, f"{selector}: Browser would drop {declaration.strip()!r}"
        props[parts[0].strip()] = parts[1].strip()
    return props


def test_grass_file_is_plain_rules_browser_can_parse() -> None:
    rules = grass_rules(GRASS.read_text())
    assert {"node", "relationship"} <= set(rules)
    for selector, props in rules.items():
        assert re.fullmatch(r"(node|relationship)(\.\w+)?", selector), f"not a selector: {selector!r}"
        if selector.startswith("node."):
            assert {"color", "border-color", "diameter", "caption", "text-color-internal"} <= set(props), selector
        if selector.startswith("relationship."):
            assert {"color", "shaft-width", "caption"} <= set(props), selector


# -- a landscape in a Neo4j that serves Browser ----------------------------------------------
@pytest.fixture(scope="module")
def browser_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNeo4j]:
    settings = LocalNeo4jSettings(
        home=tmp_path_factory.mktemp("browser-neo4j"), bolt_port=free_port(), http_port=free_port(),
        heap="512m", pagecache="256m", tx_memory_max="256m",
    )
    server = LocalNeo4j(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def landscape_graph(browser_neo4j: LocalNeo4j) -> Iterator[Graph]:
    """The demo pipeline in small: generate, serve through the real APIs, collect."""
    cfg = Config(neo4j=Neo4jConnection(uri=browser_neo4j.bolt_uri))
    graph = Graph(cfg.neo4j)
    graph.verify()
    with tempfile.TemporaryDirectory(prefix="graphinv-browser-") as workdir, \
            SimulatedLandscape(generate(scale=0.05, seed=7), Path(workdir)) as sim:
        cfg.sources = SourcesSettings.model_validate(sim.config()["sources"])
        summary = collect_into(graph, cfg, [], show_progress=False)
    assert summary.written > 0
    yield graph
    graph.close()


def example_params(graph: Graph) -> dict[str, Any]:
    """Values for the favourites' parameters that exist in this landscape."""
    row = graph.run_read(
        "MATCH (p:Project)-[:HAS_SHOOT]->(:Shoot)-[:HAS_MACHINE]->(:Machine)-[:RUNS_ON]->(:Instance) "
        "WITH p LIMIT 1 "
        "MATCH (seed:Seed)-[:HOSTS]->(:Shoot) WITH p, seed LIMIT 1 "
        "MATCH (a:CloudAccount)-[:OWNS]->(i:Instance) RETURN p.name AS project, seed.name AS seed, "
        "a.uid AS account, i.uid AS vm LIMIT 1"
    )
    assert row, "the landscape has no project with machines on VMs, seed with shoots or account with VMs"
    return dict(row[0])


def node_ids(graph: Graph, cypher: str, params: dict[str, Any]) -> set[str]:
    """The element ids of every node a query returns, bare or inside paths (what Browser draws)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, neo4j.graph.Node):
            found.add(value.element_id)
        elif isinstance(value, neo4j.graph.Path):
            found.update(node.element_id for node in value.nodes)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    def work(tx: neo4j.ManagedTransaction) -> None:
        for record in tx.run(cypher, params):
            for value in record.values():
                walk(value)

    graph.read(work)
    return found


def bound_params(fav: Favorite, graph: Graph) -> dict[str, Any]:
    examples = example_params(graph)
    missing = set(fav.params) - set(examples)
    assert not missing, f"{fav.path.name}: no example value for {missing}"
    return {name: examples[name] for name in fav.params}


# -- the favourites against the collected landscape -------------------------------------------
def test_every_favorite_finds_something_in_the_demo_landscape(landscape_graph: Graph) -> None:
    found = favorites()
    assert len(found) >= 7
    for fav in found:
        rows = landscape_graph.run_read(fav.cypher, bound_params(fav, landscape_graph))
        assert rows, f"{fav.path.name} ({fav.title}) returned nothing on the demo landscape"


def test_orphan_favorite_agrees_with_the_orphan_report_query(landscape_graph: Graph) -> None:
    """The picture and the report must point at the same VMs (the report adds freshness checks)."""
    pictured = {r["uid"] for r in landscape_graph.run_read(
        favorite("orphan-vms").cypher.replace("RETURN i, owner, attached", "RETURN DISTINCT i.uid AS uid"))}
    report = landscape_graph.run_read(
        load_query("orphan_instances").text,
        {"provider": None, "account": None, "project": None, "cutoff": None, "fresh_after": None},
    )
    assert pictured, "the demo landscape has orphan VMs planted"
    assert pictured == {r["uid"] for r in report}


def test_style_covers_every_label_and_relationship_in_the_graph(landscape_graph: Graph) -> None:
    rules = grass_rules(GRASS.read_text())
    labels = {r["label"] for r in landscape_graph.run_read("CALL db.labels() YIELD label RETURN label")}
    types = {r["t"] for r in landscape_graph.run_read(
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS t")}
    assert {"Project", "Shoot", "Machine", "Instance", "Disk", "IP"} <= labels
    assert {f"node.{label}" for label in labels - PROVIDER_LABELS} <= set(rules)
    assert {f"relationship.{t}" for t in types} <= set(rules)


def test_docs_show_every_favorite_verbatim() -> None:
    text = EXPLORING.read_text()
    for fav in favorites():
        assert fav.path.read_text().strip() in text, f"docs/exploring.md does not show {fav.path.name} as shipped"


# -- Neo4j Browser in headless Chromium -------------------------------------------------------
@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        reason = "chromium is not installed (Debian: apt-get install chromium); Browser tests skipped"
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str, browser_neo4j: LocalNeo4j, landscape_graph: Graph,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """Browser served by the module's Neo4j, connected (no authentication) and styled with our grass."""
    with Chromium(chromium_path, tmp_path_factory.mktemp("chromium-profile")) as page:
        page.navigate(f"{browser_neo4j.http_url}/browser/?dbms={browser_neo4j.bolt_uri}&preselectAuthMethod=NO_AUTH")
        # With authentication off, Browser connects on its own and says so in a frame.
        page.wait_until("document.body && document.body.innerText.includes('Connected to Neo4j')",
                        what="Browser to connect to Neo4j")
        page.wait_until(f"!!document.querySelector({json.dumps(EDITOR)})", what="the Cypher editor")
        # The product-usage banner would cover the top of every screenshot.
        page.evaluate("document.querySelectorAll('[data-testid=main] button').forEach(b => "
                      "{ if (b.closest('div') && b.closest('div').innerText.includes('product usage')) b.click() })")
        run_command(page, ":style " + GRASS.read_text())
        yield page


def run_command(page: Chromium, text: str) -> None:
    """Clear the stream, paste a command into the editor and run it (Ctrl+Enter)."""
    page.paste(EDITOR, ":clear")
    page.press("Enter", "Enter", 13, CTRL)
    page.wait_until("document.querySelectorAll('[data-testid=frame]').length === 0", what=":clear")
    page.paste(EDITOR, text)
    page.press("Enter", "Enter", 13, CTRL)
    page.wait_until("document.querySelectorAll('[data-testid=frame]').length === 1", what=f"a frame for {text[:40]!r}")


def drawn_nodes(page: Chromium) -> list[dict[str, str]]:
    """Every node circle in the graph view with its fill colour and caption text."""
    value = page.evaluate(
        "[...document.querySelectorAll('svg g.node')].map(g => ({"
        " fill: (g.querySelector('circle.b-outline') || {getAttribute: () => ''}).getAttribute('fill'),"
        " caption: [...g.querySelectorAll('text.caption')].map(t => t.textContent.trim()).join(' ').trim(),"
        " at: (r => `${Math.round(r.x)},${Math.round(r.y)},${Math.round(r.width)}`)(g.getBoundingClientRect()) }))"
    )
    assert isinstance(value, list)
    return value


def wait_for_layout(page: Chromium, expected_nodes: int) -> list[dict[str, str]]:
    """Wait until the graph view shows the expected number of nodes and the force layout rests."""
    page.wait_until(f"document.querySelectorAll('svg g.node').length >= {expected_nodes}",
                    what=f"{expected_nodes} nodes in the graph view")
    previous: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = drawn_nodes(page)
        # Screen positions: they settle only when both the force layout and any zoom have.
        positions = [n["at"] for n in nodes]
        if positions == previous:
            return nodes
        previous = positions
        time.sleep(0.5)
    return drawn_nodes(page)  # still drifting a little: good enough for the checks and the picture


def show_fullscreen(page: Chromium, expected_nodes: int, step_back: bool = False) -> None:
    """Blow the result frame up to the whole window and fit the resting graph into it.

    Browser fits the graph to the whole frame, under the overview panel on the right; `step_back`
    zooms out once more so a wide graph clears the panel.
    """
    page.evaluate("document.querySelector('[data-testid=frame] button[title=Fullscreen]').click()")
    page.wait_until("!!document.querySelector('button[aria-label=zoom-to-fit]')", what="the zoom controls")
    wait_for_layout(page, expected_nodes)
    page.evaluate("document.querySelector('button[aria-label=zoom-to-fit]').click()")
    if step_back:
        wait_for_layout(page, expected_nodes)
        page.evaluate("document.querySelector('button[aria-label=zoom-out]').click()")
    wait_for_layout(page, expected_nodes)


def save_screenshot(page: Chromium, tmp_path: Path, name: str) -> Path:
    shot = page.screenshot(tmp_path / name)
    publish(shot, name)
    print(f"screenshot: {shot}")
    return shot


@pytest.mark.browser
def test_browser_draws_orphan_vms_in_graphinv_style(browser: Chromium, landscape_graph: Graph,
                                                    tmp_path: Path) -> None:
    # The style frame echoes the rules Browser kept: every label we style must have survived parsing.
    fav = favorite("orphan-vms")
    expected = node_ids(landscape_graph, fav.cypher, {})
    labels = {r["label"]: r["n"] for r in landscape_graph.run_read(
        "UNWIND $ids AS id MATCH (n) WHERE elementId(n) = id UNWIND labels(n) AS label "
        "RETURN label, count(*) AS n", {"ids": sorted(expected)})}
    orphan_names = [r["name"] for r in landscape_graph.run_read(
        fav.cypher.replace("RETURN i, owner, attached", "RETURN DISTINCT i.name AS name"))]
    shoot_names = {r["name"] for r in landscape_graph.run_read(
        "UNWIND $ids AS id MATCH (s:Shoot) WHERE elementId(s) = id RETURN s.name AS name", {"ids": sorted(expected)})}
    assert labels.get("Instance") and labels.get("Shoot"), "the demo landscape has orphan VMs of live shoots"

    run_command(browser, fav.path.read_text())
    nodes = wait_for_layout(browser, len(expected))
    assert len(nodes) == len(expected), "Browser draws exactly the nodes the query returns"
    overview = browser.evaluate("document.querySelector('[data-testid=vizInspector]').innerText")
    assert f"Displaying {len(expected)} nodes" in overview

    rules = grass_rules(GRASS.read_text())
    fills = [n["fill"].upper() for n in nodes]
    for label, count in labels.items():
        if label in PROVIDER_LABELS:
            continue
        assert fills.count(rules[f"node.{label}"]["color"].upper()) == count, f"{label} nodes in our colour"

    def captions(label: str) -> list[str]:
        colour = rules[f"node.{label}"]["color"].upper()
        return [n["caption"] for n in nodes if n["fill"].upper() == colour]

    # Shoots are captioned by their (short) name; VMs by theirs, cut with an ellipsis to fit.
    assert set(captions("Shoot")) == shoot_names
    for caption in captions("Instance"):
        assert caption, "a VM without a caption"
        assert any(name.startswith(caption.rstrip("…").strip()) for name in orphan_names), caption
    if labels.get("Disk"):
        assert all(re.match(r"\d+ GB", c) for c in captions("Disk")), captions("Disk")

    show_fullscreen(browser, len(expected))
    # A click on a VM shows what its cut caption cannot: the full name and every property.
    instance_colour = json.dumps(rules["node.Instance"]["color"].upper())
    browser.evaluate(
        "(() => { const g = [...document.querySelectorAll('svg g.node')].find(g =>"
        f" g.querySelector('circle.b-outline').getAttribute('fill').toUpperCase() === {instance_colour});"
        " for (const type of ['mousedown', 'mouseup', 'click'])"
        " g.dispatchEvent(new MouseEvent(type, {bubbles: true}));"
        " return true })()"
    )
    inspector = browser.wait_until(
        "(() => { const t = document.querySelector('[data-testid=vizInspector]').innerText;"
        " return t.includes('Node properties') && t })()", what="the clicked VM's properties")
    assert any(name in inspector.replace("\n", "") for name in orphan_names), inspector[:300]
    save_screenshot(browser, tmp_path, "neo4j-browser-orphans.png")


@pytest.mark.browser
def test_browser_draws_a_projects_shoots_machines_and_vms(browser: Chromium, landscape_graph: Graph,
                                                          tmp_path: Path) -> None:
    fav = favorite("project-shoots")
    params = bound_params(fav, landscape_graph)
    expected = node_ids(landscape_graph, fav.cypher, params)
    # As a user would: set the parameter the favourite names, then paste the favourite as shipped.
    for name, value in params.items():
        run_command(browser, f":param {name} => {json.dumps(value)}")
        browser.wait_until(f"document.body.innerText.includes({json.dumps(name)})", what=f":param {name}")
    run_command(browser, fav.cypher)
    nodes = wait_for_layout(browser, len(expected))
    assert len(nodes) == len(expected)
    rules = grass_rules(GRASS.read_text())
    project_colour = rules["node.Project"]["color"].upper()
    assert [n["caption"] for n in nodes if n["fill"].upper() == project_colour] == [params["project"]]
    show_fullscreen(browser, len(expected), step_back=True)
    save_screenshot(browser, tmp_path, "neo4j-browser-project.png")
