"""GraphiQL in headless Chromium (Debian's package) against a real server and the real Neo4j.

The page and all of its scripts come from our server (no CDN is reachable here); a query is typed
into the editor, run with the toolbar button, and the answer read back from the result pane. A
screenshot goes to the test's tmp dir (and to docs/screenshots/, see tests/support/screenshots.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphinv.api import create_app
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.db import Graph
from tests.support.api_landscape import PROJECTS, SHOOTS, Landscape, build_landscape
from tests.support.graph import wipe
from tests.support.screenshots import publish
from tests.support.watching import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,900")
TYPED = '{ stats { projects shoots } project(name: "alpha") { shoots { name } } }'

pytestmark = pytest.mark.browser


@pytest.fixture
def landscape(session_graph: Graph) -> Landscape:
    wipe(session_graph)
    land = build_landscape()
    land.write(session_graph)
    return land


@pytest.fixture
def chromium() -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = (f"headless Chromium not installed ({', '.join(missing)} missing): "
                  "apt-get install chromium chromium-driver")
        print(reason)
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="graphinv-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # An explicit driver path: selenium then never tries to download a driver or a browser.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_graphiql_runs_a_typed_query(chromium: Any, session_graph: Graph, landscape: Landscape,
                                     tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = chromium
    with serving(create_app(session_graph, ApiSettings())) as base:
        driver.get(f"{base}/graphql")
        editor = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror"),
                          what="the GraphiQL query editor")[0]
        # The schema is fetched by introspection before the editor knows field names.
        wait_for(lambda: driver.execute_script(
            "return document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
            ".getOption('lint') !== undefined"), what="the editor's setup")
        editor.click()
        body = driver.switch_to.active_element
        body.send_keys(Keys.CONTROL, "a")
        body.send_keys(Keys.DELETE)
        body.send_keys(TYPED)
        typed = driver.execute_script(
            "return document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")
        assert typed == TYPED, typed  # the editor closes brackets itself; typing over them must end the same
        driver.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()

        def answer() -> dict[str, Any] | None:
            text = driver.execute_script(
                "const cm = document.querySelector('.graphiql-response .CodeMirror');"
                "return cm ? cm.CodeMirror.getValue() : ''")
            try:
                parsed: dict[str, Any] = json.loads(text) if text else {}
            except ValueError:
                return None  # still streaming in
            return parsed if "data" in parsed or "errors" in parsed else None

        result = wait_for(answer, what="the query's result in the response pane")
        assert result is not None  # wait_for returns only what is truthy
        # Prettify spreads the one-line query over lines, so the screenshot shows it whole.
        driver.find_element(By.CSS_SELECTOR, "button[aria-label^='Prettify']").click()
        wait_for(lambda: "\n" in driver.execute_script(
            "return document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"),
            what="the prettified query")
        time.sleep(0.3)  # let the panes paint before the screenshot
        driver.save_screenshot(str(tmp_path / "graphiql.png"))
        publish(tmp_path / "graphiql.png", "graphiql.png")
        logs = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

    assert "errors" not in result, result
    assert result["data"]["stats"] == {"projects": len(PROJECTS), "shoots": len(SHOOTS)}
    assert [s["name"] for s in result["data"]["project"]["shoots"]] == sorted(n for p, n, _ in SHOOTS if p == "alpha")
    assert (tmp_path / "graphiql.png").stat().st_size > 10_000
    assert not logs, logs  # no failed script or asset load (everything is served locally)
