"""Every page of the website passes axe-core's accessibility checks, in light and dark mode.

axe-core (Deque's rule engine, the one browser dev tools use) comes bundled in the
PyPI package ``axe-playwright-python`` (``axe_playwright_python/axe.min.js``): the
test injects that file into each page, so nothing is downloaded at test time. Pages
are served on localhost and opened in Debian's /usr/bin/chromium through Playwright,
with every request to another host aborted; a request axe made would fail the test.

A violation of impact "serious" or "critical" fails the test, with the rule, the page
and the first offending elements. Folded content (hidden code cells, solutions) is
opened first, as a reader would. Moderate and minor ones are printed (``-rA`` or
``-s`` shows them) but do not fail: e.g. the empty corner cell of a pandas table.

The site follows the reader's colour scheme (``default_mode: auto``), so each page is
checked in both. The markup is the same in both; only colours differ, so dark mode
runs the colour-contrast rule alone.
"""

from __future__ import annotations

import json

import pytest

from conftest import chromium
from test_browser import DOCUMENTS

pytestmark = pytest.mark.slow

FAILING_IMPACTS = {"serious", "critical"}
NODES_SHOWN = 3
SCHEMES = {
    "light": {"resultTypes": ["violations"]},
    "dark": {"runOnly": {"type": "rule", "values": ["color-contrast"]}, "resultTypes": ["violations"]},
}
# Click every closed <details> summary (hide-input cells) and every togglebutton
# (sphinx-exercise solutions), as a reader would.
OPEN_FOLDS = """() => {
  document.querySelectorAll('details:not([open]) > summary').forEach(s => s.click());
  document.querySelectorAll('.toggle-hidden').forEach(e => {
    const button = document.querySelector(`button.toggle-button[data-target="${CSS.escape(e.id)}"]`);
    if (button) button.click();
  });
}"""
# Opening fades content in: wait until the colours are final (endless animations aside).
TRANSITIONS_DONE = (
    "() => document.getAnimations()"
    ".filter(a => a.effect && a.effect.getTiming().iterations !== Infinity).length === 0"
)
STILL_FOLDED = "() => document.querySelectorAll('.toggle-hidden, details:not([open])').length"


@pytest.fixture(scope="module")
def axe():
    module = pytest.importorskip("axe_playwright_python.sync_playwright")
    return module.Axe()


@pytest.fixture(scope="module")
def browser(served_site):
    with chromium() as browser:
        yield browser


def audit(browser, axe, url: str, site: str) -> tuple[dict[str, list[dict]], list[str]]:
    """axe-core's violations at ``url`` in each colour scheme, and any request axe made
    elsewhere. One page load serves both schemes: the theme follows the reader's
    setting (``default_mode: auto``) live, so the page switches when the emulated
    setting does."""
    page = browser.new_page(viewport={"width": 1280, "height": 1400}, color_scheme="light")
    external = []

    def route(route_):
        if route_.request.url.startswith((site, "data:")):
            route_.continue_()
        else:
            external.append(route_.request.url)
            route_.abort()

    page.route("**/*", route)
    violations = {}
    try:
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200, url
        # Check the page as a reader gets it: equations typeset, and every fold opened
        # (hidden code cells, solutions), since readers open them and axe skips what
        # is not displayed.
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        page.evaluate(OPEN_FOLDS)
        page.wait_for_function(TRANSITIONS_DONE)
        assert page.evaluate(STILL_FOLDED) == 0, "a fold did not open"
        # The page's own requests elsewhere are test_browser.py's business; here, only
        # what axe asks for counts (nothing: its script is the package's axe.min.js).
        before = len(external)
        for scheme, options in SCHEMES.items():
            page.emulate_media(color_scheme=scheme)
            page.wait_for_function(f"() => document.documentElement.dataset.theme === '{scheme}'")
            page.wait_for_function(TRANSITIONS_DONE)
            # Axe.run() passes its options through json.dumps: plain JSON, as axe expects.
            violations[scheme] = axe.run(page, options=options).response["violations"]
    finally:
        page.close()
    # (A stylesheet the page already asked for may be asked for again meanwhile.)
    return violations, [asked for asked in external[before:] if asked not in external[:before]]


def describe(violation: dict, doc: str) -> str:
    lines = [
        f"{violation['id']} ({violation['impact']}) on {doc}: {violation['help']}",
        f"  {violation['helpUrl']}",
        f"  {len(violation['nodes'])} element(s); the first:",
    ]
    for node in violation["nodes"][:NODES_SHOWN]:
        summary = " / ".join(
            line.strip() for line in node.get("failureSummary", "").splitlines()[1:3]
        )
        lines.append(f"  - {json.dumps(node['target'])}: {node['html'][:200]}")
        if summary:
            lines.append(f"      {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_page_has_no_serious_accessibility_violation(browser, axe, served_site, doc):
    by_scheme, external = audit(browser, axe, f"{served_site}/{doc}.html", served_site)
    assert external == [], "axe asked another host for something"
    assert set(by_scheme) == set(SCHEMES)
    failing = []
    for scheme, violations in by_scheme.items():
        for violation in violations:
            where = f"{doc} ({scheme} mode)"
            if violation["impact"] in FAILING_IMPACTS:
                failing.append(describe(violation, where))
            else:
                print(describe(violation, where))
    if failing:
        pytest.fail("axe-core reports:\n" + "\n".join(failing))
