"""Shared fixtures: the book built once per test session, and a local web server."""

from __future__ import annotations

import shutil
import subprocess
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "latex" / "emfit-notes.pdf"
PDF_STUDENT = ROOT / "_build" / "student" / "_build" / "latex" / "emfit-notes-student.pdf"
PDF_LETTER = ROOT / "_build" / "letter" / "_build" / "latex" / "emfit-notes.pdf"
CHAPTER = "chapters/p1_sum_of_gaussians.html"
# Every notebook of the book: the landing page and the chapters.
NOTEBOOKS = [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]
# Debian's Chromium, driven by Playwright (never a browser download)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def make(target: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def tail(proc: subprocess.CompletedProcess, lines: int = 60) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-lines:])


BUILD_FIXTURES = {"html_build", "pdf_build", "pdf_letter_build", "served_site"}


def pytest_collection_modifyitems(config, items):
    """A test that builds the book must be marked slow, so `make test-fast` never builds."""
    unmarked = [
        item.nodeid
        for item in items
        if BUILD_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that build the book need @pytest.mark.slow: " + ", ".join(unmarked)
        )


@pytest.fixture(scope="session")
def html_build() -> subprocess.CompletedProcess:
    return make("html")


@pytest.fixture(scope="session")
def pdf_build(html_build) -> subprocess.CompletedProcess:
    # After the HTML build, so the notebooks come from the execution cache.
    return make("pdf")


@pytest.fixture(scope="session")
def pdf_letter_build(pdf_build) -> subprocess.CompletedProcess:
    # The instructor edition on US Letter (the student edition has less on each page).
    return make("pdf", "PAPER=letter", "EDITIONS=instructor")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextmanager
def chromium():
    """Headless Chromium under Playwright, with no network of its own."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(directory: Path):
    handler = partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def served_site(html_build):
    assert html_build.returncode == 0, tail(html_build)
    with serve(HTML) as url:
        yield url


