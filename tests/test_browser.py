"""The report as a person sees it: headless Chromium (Debian's package) opens the page, takes a screenshot, and
checks that it rendered, that every figure loaded, that nothing was logged as an error, and that every link of
the table of contents resolves."""

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_report_renders_in_chromium(browser, quick_report, tmp_path, viewport):
    page = browser.new_page(viewport=viewport)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.goto(quick_report.as_uri(), wait_until="load")
    shot = tmp_path / f"report-{viewport['width']}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
    text = page.inner_text("body")
    assert "checks held" in text and "Problem 4" in text
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(images) >= 10 and all(done and width > 0 for done, width in images)
    broken = page.evaluate("""Array.from(document.querySelectorAll('#toc a')).map(a => a.getAttribute('href'))
        .filter(h => !document.getElementById(h.slice(1)))""")
    assert broken == []
    assert page.evaluate("document.querySelectorAll('math').length") > 20
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"] + 1  # no sideways scrolling of the page itself on a phone
    assert errors == []
    page.close()
