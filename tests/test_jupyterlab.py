"""The notebooks run the way the README says: in JupyterLab, cell by cell, in a browser.

`jupyter lab chapters/` is started headless on localhost from the project's venv;
Playwright drives Debian's /usr/bin/chromium to open a chapter, runs every cell
through the UI (Run > Run All Cells), and checks that every code cell ran and none
shows an error. The same is done with the .ipynb that the website's download
button serves. The notebooks run in a copy, so nothing is saved into chapters/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conftest import HTML, ROOT, chromium, tail

pytestmark = pytest.mark.slow

JUPYTER = Path(sys.executable).with_name("jupyter")
REPO_CHAPTER = "p1_sum_of_gaussians.ipynb"
DOWNLOADED_CHAPTER = "p3b_em_poisson.ipynb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def download_link(page: Path) -> str:
    """The .ipynb the page's download button links to, relative to the page."""
    links = set(re.findall(r'href="([^"]*_sources/[^"]*\.ipynb)"', page.read_text()))
    assert len(links) == 1, f"expected one notebook download link on {page.name}, found {links}"
    return links.pop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, html_build):
    """JupyterLab serving a copy of chapters/ plus the site's downloadable notebook."""
    assert html_build.returncode == 0, tail(html_build)
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "chapters"
    shutil.copytree(ROOT / "chapters", notebooks)
    page = HTML / "chapters" / DOWNLOADED_CHAPTER.replace(".ipynb", ".html")
    served = (page.parent / download_link(page)).resolve()
    (root / "downloaded").mkdir()
    shutil.copy(served, root / "downloaded" / DOWNLOADED_CHAPTER)

    # render every cell (JupyterLab 4 renders only those in view by default), no autosave
    settings = root / ".lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    docmanager = root / ".lab-settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text('{"autosave": false}')

    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-workspaces"),
    }
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, (root / "lab.log").read_text()[-3000:]
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start: " + (root / "lab.log").read_text()[-3000:])
        yield url, root
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def run_all_cells(browser, url: str, path: str, n_code: int) -> dict:
    """Open ``path`` in JupyterLab, run every cell through the menu, save, report what happened."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    external: list[str] = []

    def route(route_):
        if route_.request.url.startswith(url) or route_.request.url.startswith(("data:", "blob:", "ws://127.0.0.1")):
            route_.continue_()
        else:
            external.append(route_.request.url)
            route_.abort()

    page.route("**/*", route)
    # "?reset": a fresh workspace, so no notebook of an earlier test is reopened beside it
    page.goto(f"{url}/lab/tree/{path}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # the kernel is ready when the toolbar's status says so
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.wait_for_function(
        f"document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === {n_code}", timeout=60_000
    )
    # focus the notebook (Run All acts on the current one), then Run > Run All Cells;
    # on a busy machine the first click can land before the menu is wired: if no cell
    # has started a minute later (no "[*]" or "[n]" prompt), click again.
    started = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]" \
        ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"
    for _attempt in range(3):
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        try:
            page.wait_for_function(started, timeout=60_000)
            break
        except PlaywrightTimeoutError:
            continue

    # a cell has run when its prompt shows a number; "[*]" while it runs, "[ ]" before
    deadline = time.monotonic() + 300
    prompts: list[str] = []
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        done = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p.strip())]
        if len(done) == n_code and page.locator(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']"
        ).count():
            break
        page.wait_for_timeout(1000)
    counts = [int(p.strip()[1:-2]) for p in prompts if re.fullmatch(r"\[\d+\]:", p.strip())]
    errors = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()
    images = page.locator(".jp-OutputArea-output img").count()
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-mod-dirty", state="detached", timeout=30_000)
    page.close()
    return {"counts": counts, "errors": errors, "external": external, "images": images}


@pytest.mark.parametrize("path", [f"chapters/{REPO_CHAPTER}", f"downloaded/{DOWNLOADED_CHAPTER}"])
def test_notebook_runs_cell_by_cell_in_jupyterlab(lab, browser, path):
    url, root = lab
    n_code = sum(cell.cell_type == "code" for cell in nbformat.read(root / path, as_version=4).cells)
    assert n_code > 5
    result = run_all_cells(browser, url, path, n_code)
    # the UI showed every code cell run, in order, once, and no error
    assert result["counts"] == list(range(1, n_code + 1)), result
    assert result["errors"] == [], "\n\n".join(result["errors"])[:3000]
    assert result["images"] >= 1  # the figures were drawn
    assert result["external"] == [], result["external"]
    # and the notebook JupyterLab saved says the same
    saved = nbformat.read(root / path, as_version=4)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [out for cell in code for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error" or out.get("name") == "stderr"]
    assert any("image/png" in out.get("data", {}) for out in outputs)
