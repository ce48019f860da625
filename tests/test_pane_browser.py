"""The Workspace pane in a real browser: JupyterLab started here, Debian's chromium driven by Playwright.

The example notebooks are opened and run as a user does (the file browser, Run > Run All
Cells); the pane must list their variables and mark what ``%run -i`` did, and the
browser's console must stay free of errors.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from conftest import Project, stop

# One JupyterLab and one browser for the module: under pytest-xdist its tests share a worker.
pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 120_000  # a Run All on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def example(baked, project_venv, tmp_path_factory) -> Project:
    """A copy of the baked example with its data loaded and kmeans.py extracted, by its own tasks."""
    copy = tmp_path_factory.mktemp("pane") / baked.path.name
    shutil.copytree(baked.path, copy, symlinks=True)
    project = Project(copy, project_venv)
    project.run("invoke", "etl")
    project.run("invoke", "extract-cell", "notebooks/explore.ipynb", "10", "--name", "kmeans")
    return project


@pytest.fixture(scope="module")
def lab(example, tmp_path_factory):
    """``jupyter lab`` of the project's venv on 127.0.0.1, a free port, no token; stopped afterwards."""
    home = tmp_path_factory.mktemp("jupyter")
    port = free_port()
    command = [
        example.venv.bin("jupyter"),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={example.path}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    # The user's own Jupyter and IPython settings and lab state stay out of the test.
    isolated = {
        name: str(home / name.lower())
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
    }
    isolated["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
    env = {**os.environ, **example.env, **isolated, "VIRTUAL_ENV": str(example.venv.path)}
    log = open(home / "lab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, cwd=example.path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((home / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def browser_page(lab):
    """One chromium page on JupyterLab, with every console message and page error collected."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.console_errors = []
        page.on(
            "console",
            lambda message: message.type == "error" and page.console_errors.append(message.text),
        )
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        page.set_default_timeout(WAIT_MS)
        try:
            yield page
        finally:
            browser.close()


def wait_for_kernel(page) -> None:
    """Accept the kernel dialog if JupyterLab asks, then wait for the kernel to be idle."""
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=5000)
        accept.click()
    except Exception:  # Playwright's TimeoutError: no dialog this time
        pass
    wait_for_idle(page)


def wait_for_idle(page) -> None:
    """The notebook on screen has a kernel and nothing running (other notebooks may be open)."""
    # the status bar speaks of the notebook on screen (a narrow toolbar hides its own indicator)
    page.locator(".jp-StatusBar-Item", has_text=re.compile(r"\| Idle$")).first.wait_for()


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def pane_row(page, name: str):
    """The row of ``name`` in the pane on screen (each notebook's kernel has its own pane)."""
    return page.locator(f".ws-pane:visible tr[data-name='{name}']")


def cell_text(row, column: str) -> str:
    return row.locator(f"td[data-column='{column}']").inner_text().strip()


def widen_the_sidebar(page) -> None:
    """Drag the right sidebar's edge to the left, as a user does to see every column."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:visible").last
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 420, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


def test_run_all_in_explore_lists_the_penguins_with_344_rows_in_the_pane(lab, browser_page, tmp_path):
    page = browser_page
    page.goto(f"{lab}/lab/tree/notebooks/explore.ipynb")
    wait_for_kernel(page)
    run_all(page)
    penguins = pane_row(page, "penguins")
    penguins.wait_for()
    assert cell_text(penguins, "type") == "DataFrame"
    assert cell_text(penguins, "shape").split("×")[0] == "344"
    assert cell_text(penguins, "set_by") == "cell 5"  # the 5th cell, as `invoke cells` counts
    wait_for_idle(page)
    purity = pane_row(page, "purity")
    purity.wait_for()
    assert cell_text(purity, "set_by") == "cell 10"
    # modules and functions are hidden until asked for
    assert pane_row(page, "pd").count() == 0
    page.locator(".ws-pane:visible .ws-code").check()
    pane_row(page, "pd").wait_for()
    page.locator(".ws-pane:visible .ws-code").uncheck()
    page.locator(".ws-pane:visible").screenshot(path=tmp_path / "explore-pane.png")
    assert page.console_errors == []


def test_run_all_in_results_marks_k_overwritten_and_purity_created_by_kmeans(lab, browser_page, tmp_path):
    page = browser_page
    if "lab" not in page.url:  # run alone: start from JupyterLab itself
        page.goto(f"{lab}/lab/tree/notebooks")
    page.locator(".jp-DirListing-itemText", has_text="results.ipynb").dblclick()
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").wait_for()
    wait_for_kernel(page)
    run_all(page)
    purity = page.locator(".ws-pane:visible tr[data-name='purity'].ws-created")
    purity.wait_for()
    k = pane_row(page, "k")
    assert k.get_attribute("class") == "ws-overwritten"
    assert k.locator(".ws-mark").get_attribute("title") == "int 0  →  int 4"
    assert cell_text(purity, "set_by") == "kmeans.py (cell 5)"
    marks_of = page.locator(".ws-pane:visible .ws-run").inner_text()
    assert marks_of.startswith("Marks from %run -i ../scripts/kmeans.py --k 4 (cell 5)")
    # the filter box and the column headers work in the browser alone
    page.locator(".ws-pane:visible .ws-filter").fill("pur*")
    names = page.locator(".ws-pane:visible tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert names == ["purity"]
    page.locator(".ws-pane:visible .ws-filter").fill("")
    size = page.locator(".ws-pane:visible th[data-sort='bytes']")
    size.click()  # largest first
    assert size.get_attribute("aria-sort") == "descending"
    by_size = page.locator(".ws-pane:visible tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    # a 342×4 array, then an int (28 B), then a float (24 B)
    assert by_size.index("features") < by_size.index("k") < by_size.index("purity")
    page.locator(".ws-pane:visible th[data-sort='name']").click()
    no_news = page.locator(".jp-toast-button", has_text="No")  # JupyterLab's news question
    if no_news.count():
        no_news.first.click()
        no_news.first.wait_for(state="hidden")
    widen_the_sidebar(page)
    page.locator(".ws-pane:visible").screenshot(path=tmp_path / "results-pane.png")
    assert page.console_errors == []


def test_a_kernel_restart_retires_the_pane_and_the_first_cell_opens_a_new_one(lab, browser_page):
    page = browser_page
    explore = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="explore.ipynb")
    if explore.count():
        explore.first.click()
    else:  # run alone
        page.goto(f"{lab}/lab/tree/notebooks/explore.ipynb")
        wait_for_kernel(page)
        run_all(page)
    pane_row(page, "penguins").wait_for()
    wait_for_idle(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.get_by_role("menuitem", name=re.compile("^Restart Kernel")).first.click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    stale = page.locator(".ws-pane:visible .ws-foot", has_text="The kernel restarted or stopped")
    stale.wait_for()
    assert page.locator(".ws-pane:visible tbody tr").count() == 0  # nothing stale is listed
    wait_for_idle(page)
    run_all(page)
    fresh = page.locator(".ws-pane:visible tr[data-name='purity']")
    fresh.wait_for()
    tabs = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab:visible")
    captions = tabs.evaluate_all("tabs => tabs.map(t => t.title)")
    assert captions.count("The variables of explore.ipynb") == 1  # the old pane's tab is hidden
    # JupyterLab's debugger logs this one itself when a kernel restarts under it
    debugger = "Could not restore the debugger state: Canceled future for debug_request"
    assert [e for e in page.console_errors if not e.startswith(debugger)] == []
