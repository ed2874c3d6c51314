"""The book builds strictly, as a website and as PDFs, and the website is offline.

The fixtures in conftest.py build the real book with the Makefile's own targets (so
these tests check the commands a reader runs); the tests look at what was built.
All but the asset scanner's own test build the book or start Chromium: marked slow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import CHAPTER, HTML, NOTEBOOKS, PDF, PDF_LETTER, PDF_STUDENT, ROOT, make, serve, tail

# --- strict builds ---------------------------------------------------------------


@pytest.mark.slow
def test_html_build_succeeds_without_warnings(html_build):
    assert html_build.returncode == 0, tail(html_build)
    sphinx_warnings = re.findall(r"(?m)^.*(?:: |^)WARNING: .*$", html_build.stdout + html_build.stderr)
    assert sphinx_warnings == []
    assert (HTML / "index.html").exists()
    assert (HTML / CHAPTER).exists()


@pytest.mark.slow
def test_pdf_build_succeeds_and_has_no_undefined_references(pdf_build):
    assert pdf_build.returncode == 0, tail(pdf_build)
    text = subprocess.run(["pdftotext", str(PDF), "-"], capture_output=True, text=True).stdout
    assert "??" not in text
    assert "Sums of independent Gaussian vectors" in text
    assert "Errata for the sheet" in text
    # cells tagged html-only (the EM animation) are dropped, not printed as "<IPython...>"
    assert "IPython.core.display" not in text
    # the handout prints the SymPy derivations, not the plotting or the plumbing
    assert "sp.simplify" in text
    assert "house_style()" not in text and "plt.show()" not in text


@pytest.mark.slow
def test_student_edition_has_the_exercises_but_no_solutions(pdf_build):
    assert pdf_build.returncode == 0, tail(pdf_build)
    read = lambda pdf: subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    instructor, student = read(PDF), read(PDF_STUDENT)
    assert "??" not in student
    assert "(student edition)" in student
    exercises = instructor.count("Exercise ")
    assert exercises >= 3 and student.count("Exercise ") >= 3
    assert instructor.count("Solution to Exercise") >= 3
    assert "Solution to Exercise" not in student


def notebook_figures() -> Counter:
    """Pixel size (width, height) of every distinct figure the notebooks make."""
    figures = {}
    for notebook in NOTEBOOKS:
        cells = json.loads(notebook.read_text())["cells"]
        for output in (o for c in cells for o in c.get("outputs", [])):
            if "image/png" in output.get("data", {}):
                png = base64.b64decode(output["data"]["image/png"])
                assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", notebook.name
                figures[hashlib.sha256(png).hexdigest()] = struct.unpack(">II", png[16:24])
    return Counter(figures.values())


def pdf_images(pdf: Path) -> Counter:
    """Pixel size (width, height) of every image object in the PDF, each object once.

    ``pdfimages -list`` has one row per image drawn on a page (an RGBA figure adds an
    ``smask`` row); the object number identifies the image, however often it is drawn.
    """
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    objects = {}
    for row in (line.split() for line in listing.stdout.splitlines()[2:]):
        if row and row[2] == "image":  # page num type width height ... object ID ...
            objects[(row[10], row[11])] = (int(row[3]), int(row[4]))
    return Counter(objects.values())


@pytest.mark.slow
def test_pdfs_contain_exactly_the_notebook_figures(pdf_build):
    assert pdf_build.returncode == 0, tail(pdf_build)
    figures = notebook_figures()
    assert sum(figures.values()) >= 15  # the book has this many at least
    for pdf in (PDF, PDF_STUDENT):
        # every figure, at its own pixel size, and no other image
        assert pdf_images(pdf) == figures, pdf.name


def page_size(pdf: Path) -> str:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    return re.search(r"Page size:.*\((\w+)\)", info).group(1)


@pytest.mark.slow
def test_the_handouts_are_on_a4_and_on_letter_when_asked(pdf_build, pdf_letter_build):
    assert pdf_letter_build.returncode == 0, tail(pdf_letter_build)
    assert [page_size(pdf) for pdf in (PDF, PDF_STUDENT, PDF_LETTER)] == ["A4", "A4", "letter"]


@pytest.mark.slow
def test_no_text_runs_off_the_page(pdf_build, pdf_letter_build):
    assert pdf_build.returncode == 0, tail(pdf_build)
    assert pdf_letter_build.returncode == 0, tail(pdf_letter_build)
    for pdf in (PDF, PDF_STUDENT, PDF_LETTER):
        log = pdf.with_suffix(".log").read_text(errors="ignore")
        too_wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", log)]
        assert [w for w in too_wide if w > 1.0] == [], f"{pdf.name}: lines wider than the page"


@pytest.mark.slow
def test_a_raising_notebook_cell_fails_the_build(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book)
    shutil.copy(ROOT / "references.bib", book)
    shutil.copytree(ROOT / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: bad\n")
    (book / "intro.md").write_text("# A book with a broken notebook\n")
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Bad"},
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": "raise ValueError('this cell raises')",
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (book / "bad.ipynb").write_text(json.dumps(notebook))
    proc = make("html", f"BOOK={book}")
    assert proc.returncode != 0
    assert "this cell raises" in proc.stdout + proc.stderr or "Executing notebook failed" in (
        proc.stdout + proc.stderr
    )


# --- offline website -------------------------------------------------------------

ASSET_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "link": ("href",),
}
# <link rel=...> values that only name a relation and make no request.
NON_FETCHING_LINK_RELS = {"canonical", "index", "search", "next", "prev", "author", "license"}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and set((attrs.get("rel") or "").lower().split()) <= NON_FETCHING_LINK_RELS:
            return
        for name in ASSET_ATTRIBUTES.get(tag, ()):
            if attrs.get(name):
                self.assets.append(attrs[name])
        style = attrs.get("style") or ""
        self.assets += re.findall(r"url\(\s*['\"]?([^'\")]+)", style)


def external_assets_of_page(path: Path) -> list[str]:
    collector = AssetCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return [url for url in collector.assets if EXTERNAL.match(url)]


def test_the_asset_scanner_catches_external_assets(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/x.css">'
        '<a href="https://doi.org/10.1/x">a cited paper</a>'
        '<link rel="next" href="https://example.org/next.html">'
        '<img src="_images/local.png">'
    )
    assert external_assets_of_page(page) == [
        "https://cdn.example.org/mathjax.js",
        "//fonts.example.org/x.css",
    ]


@pytest.mark.slow
def test_no_page_loads_assets_from_another_host(html_build):
    assert html_build.returncode == 0, tail(html_build)
    pages = sorted(HTML.rglob("*.html"))
    assert len(pages) >= 4
    offenders = {str(p.relative_to(HTML)): external_assets_of_page(p) for p in pages}
    assert {page: urls for page, urls in offenders.items() if urls} == {}


@pytest.mark.slow
def test_stylesheets_import_nothing_from_another_host(html_build):
    assert html_build.returncode == 0, tail(html_build)
    remote = re.compile(r"(@import\s+(url\()?\s*['\"]?|url\(\s*['\"]?)(https?:)?//", re.IGNORECASE)
    bad = [str(css.relative_to(HTML)) for css in HTML.rglob("*.css") if remote.search(css.read_text(errors="ignore"))]
    assert bad == []


@pytest.mark.slow
def test_mathjax_is_served_locally(html_build):
    assert html_build.returncode == 0, tail(html_build)
    page = (HTML / CHAPTER).read_text(encoding="utf-8")
    src = re.search(r'<script[^>]+src="([^"]*mathjax[^"]*)"', page, re.IGNORECASE)
    assert src is not None and not EXTERNAL.match(src.group(1))
    assert (HTML / "chapters" / src.group(1).split("?")[0]).resolve().exists()


def read_netlog(path: Path) -> list[dict]:
    """The URL_REQUEST_START_JOB events of a Chromium net log (tolerating a cut tail)."""
    text = path.read_text(errors="ignore").rstrip()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # Chromium may stop before closing the events list
        log = json.loads(text.rstrip(",") + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    return [
        event["params"]
        for event in log["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in event.get("params", {})
    ]


def chromium_dump(url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every URL the page made the browser request.

    The browser's own housekeeping requests (update checks, network time) have neither
    the page as initiator nor the page's site for cookies; everything the page loads,
    from any host, has one of the two.
    """
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: run `make browser` (Debian package chromium)"
    netlog = tmp_path / "netlog.json"
    proc = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}",
            "--virtual-time-budget=15000", "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    origin = "/".join(url.split("/")[:3])
    site = origin.rsplit(":", 1)[0]
    page_requests = [
        params["url"]
        for params in read_netlog(netlog)
        if str(params.get("initiator", "")).startswith(origin)
        or f"site={site}" in str(params.get("site_for_cookies", ""))
    ]
    return proc.stdout, page_requests


@pytest.mark.slow
def test_chromium_typesets_the_equations_offline(served_site, tmp_path):
    dom, requested = chromium_dump(f"{served_site}/{CHAPTER}", tmp_path)
    assert dom.count("<mjx-container") >= 20  # MathJax turned the TeX into its own elements
    assert "\\(" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S)  # no raw TeX left
    assert any("mathjax" in u for u in requested), "the net log shows no MathJax request"
    assert [u for u in requested if not u.startswith(served_site)] == []


@pytest.mark.slow
def test_the_request_log_sees_a_third_party_request(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(
        '<html><body><script src="http://cdn.example.invalid/lib.js"></script></body></html>'
    )
    with serve(site) as url:
        _, requested = chromium_dump(f"{url}/page.html", tmp_path)
    assert "http://cdn.example.invalid/lib.js" in requested
