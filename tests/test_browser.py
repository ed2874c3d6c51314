"""Every page of the website, opened in headless Chromium as a reader would.

Playwright drives Debian's /usr/bin/chromium (no browser download) against the site
served on localhost. For each page in the table of contents: it loads, logs no
console error, typesets its mathematics, loads every image, links only to pages and
anchors that exist, and asks nothing of any other host. A screenshot of each page is
saved under _build/screenshots/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

from conftest import HTML, ROOT, chromium, tail

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "_build" / "screenshots"


def toc_documents() -> list[str]:
    """Every document named in _toc.yml, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return found


DOCUMENTS = toc_documents()


@pytest.fixture(scope="module")
def browser(served_site, pdf_build):
    # After the PDF build, which copies the handouts into the site for its links.
    assert pdf_build.returncode == 0, tail(pdf_build)
    with chromium() as browser:
        yield browser


def visit(browser, url: str, site: str, screenshot: Path):
    """Open ``url``; return what the page did."""
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    record = {"external": [], "console": [], "failed": []}

    def route(route_):
        if route_.request.url.startswith(site) or route_.request.url.startswith("data:"):
            route_.continue_()
        else:
            record["external"].append(route_.request.url)
            route_.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and record["console"].append(m.text))
    page.on("pageerror", lambda e: record["console"].append(str(e)))
    page.on("requestfailed", lambda r: record["failed"].append(r.url))
    response = page.goto(url, wait_until="networkidle")
    record["status"] = response.status if response else None
    # Wait for MathJax to finish typesetting, when the page loads it.
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    record["math"] = page.evaluate("() => document.querySelectorAll('.math').length")
    record["typeset"] = page.evaluate("() => document.querySelectorAll('mjx-container').length")
    record["raw_tex"] = page.evaluate(
        r"() => Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container') && /\\\(|\\\[|\$\$/.test(e.textContent)).length"
    )
    record["broken_images"] = page.evaluate(
        "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    record["images"] = page.evaluate("() => document.images.length")
    record["missing_alt"] = page.evaluate(
        "() => Array.from(document.querySelectorAll('article img'))"
        "  .filter(i => !i.alt || /\\.(png|jpe?g|svg)$/i.test(i.alt)).map(i => i.src)"
    )
    record["links"] = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
    )
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=False)
    page.close()
    return record


def broken_internal_links(page_url: str, links: list[str], site: str) -> list[str]:
    broken = []
    for href in links:
        target = urljoin(page_url, href)
        if not target.startswith(site) or href.startswith(("mailto:", "javascript:")):
            continue
        parsed = urlparse(target)
        path = HTML / unquote(parsed.path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            broken.append(href)
        elif parsed.fragment and path.suffix == ".html":
            text = path.read_text(encoding="utf-8", errors="ignore")
            if f'id="{parsed.fragment}"' not in text:
                broken.append(href)
    return broken


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_page_works_in_a_browser(browser, served_site, html_build, doc):
    assert html_build.returncode == 0, tail(html_build)
    url = f"{served_site}/{doc}.html"
    record = visit(browser, url, served_site, SCREENSHOTS / f"{doc.replace('/', '__')}.png")
    assert record["status"] == 200
    assert record["external"] == [], "the page asked another host for something"
    assert record["console"] == []
    assert record["failed"] == []
    if record["math"]:
        assert record["typeset"] >= record["math"], "some equations were not typeset"
        assert record["raw_tex"] == 0
    assert record["broken_images"] == []
    assert record["missing_alt"] == [], "every figure needs alt text (not its file name)"
    assert broken_internal_links(url, record["links"], served_site) == []
