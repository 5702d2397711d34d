"""The report as its readers meet it, in headless Chromium at a phone's width (390 x 844) and a laptop's
(1400 x 900): axe-core finds no serious or critical violation (WCAG 2.2 AA and best practice, both colour
schemes); nothing is wider than a phone's screen, every slider, its value and every readout on it; the text has no
raw TeX, no code-style maths and no over-long number; every control works from the keyboard and changes what is
shown; the page's number rule in the views is the tables' rule; moving a slider a hundred times does not grow the
page."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1400, "height": 900}
#: the axe-core rules run: WCAG 2.0-2.2 A and AA, and axe's best practices
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def _open(browser, report: Path, viewport, scheme="light"):
    page = browser.new_page(viewport=viewport, color_scheme=scheme)
    page.goto(report.as_uri(), wait_until="load")
    page.evaluate("window.bmnnReady.then(() => null)")
    return page


def _axe_script() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).parent / "axe.min.js")


@pytest.mark.parametrize(("viewport", "scheme"), [(PHONE, "light"), (LAPTOP, "light"), (PHONE, "dark"),
                                                  (LAPTOP, "dark")])
def test_axe_finds_no_serious_or_critical_violation(browser, quick_report, viewport, scheme):
    page = _open(browser, quick_report, viewport, scheme)
    page.add_script_tag(path=_axe_script())
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
                           "resultTypes: ['violations']})", AXE_TAGS)
    page.close()
    assert result["testEngine"]["version"].startswith("4.")
    bad = [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["target"]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == []


def test_nothing_is_wider_than_a_phone_and_every_control_and_readout_is_on_it(browser, quick_report):
    page = _open(browser, quick_report, PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    views = page.evaluate("""Array.from(document.querySelectorAll('.vega')).map(e => {
        const f = e.closest('figure'), s = getComputedStyle(f);
        return {id: e.id, scroll: e.scrollWidth, box: e.clientWidth, figure: f.scrollWidth <= f.clientWidth,
                right: e.querySelector('svg').getBoundingClientRect().right,
                inner: f.getBoundingClientRect().right - parseFloat(s.paddingRight) - parseFloat(s.borderRightWidth)};
        })""")
    assert len(views) == 7
    for v in views:  # inside its figure's content box, and the figure does not scroll
        assert v["scroll"] <= v["box"] and v["right"] <= v["inner"] + 0.5 and v["figure"], v
    outside = page.evaluate("""(w) => Array.from(document.querySelectorAll(
            '.vega-bind input, .vega-bind output, .readout dt, .readout dd, .readout td'))
        .filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > w || r.width === 0; })
        .map(e => e.outerHTML.slice(0, 80))""", PHONE["width"])
    assert outside == []
    readouts = page.evaluate("Array.from(document.querySelectorAll('.readout dl')).map(d => d.children.length)")
    assert len(readouts) == 7 and min(readouts) >= 3
    # every box that scrolls sideways is a labelled, focusable region ...
    scrollers = page.evaluate("""Array.from(document.querySelectorAll('body *')).filter(e => {
        const o = getComputedStyle(e).overflowX; return (o === 'auto' || o === 'scroll') &&
        e.scrollWidth > e.clientWidth; }).map(e => [e.tagName, e.className, e.tabIndex, e.getAttribute('role')])""")
    assert scrollers, "a phone has wide formulas and tables"
    for tag, cls, index, role in scrollers:
        assert index == 0 and role == "region", (tag, cls, index, role)
    # ... and one that fits is no tab stop
    stops = page.evaluate("""Array.from(document.querySelectorAll('[tabindex]')).filter(e => e.tabIndex >= 0)
        .map(e => [e.className, e.scrollWidth > e.clientWidth, e.getAttribute('role'),
                   e.getAttribute('aria-label')])""")
    for cls, scrolls, role, label in stops:
        assert scrolls and role == "region" and label and "scrolls sideways" in label, (cls, scrolls, role, label)
    # and it says so in words above it
    hints = page.evaluate("""Array.from(document.querySelectorAll('.overflows')).map(b =>
        !!(b.previousElementSibling && b.previousElementSibling.classList.contains('scroll-hint')))""")
    assert hints and all(hints)
    page.close()


#: what the visible text may not hold: raw TeX, code-style maths (powers, subscripts, Python's power and literals,
#: snake_case names outside code) and numbers with more than 8 decimals
FORBIDDEN = {
    "raw TeX": re.compile(r"\\[A-Za-z]+"),
    "caret power": re.compile(r"[\w)\]|}]\^"),
    "Python power": re.compile(r"\*\*"),
    "underscore subscript": re.compile(r"\b[A-Za-z]\w*_[\w{]"),
    "Python literal": re.compile(r"\b(True|False|None)\b"),
    "over-long number": re.compile(r"\d\.\d{9,}"),
}


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP])
def test_the_text_has_typeset_maths_and_short_numbers(browser, quick_report, viewport):
    page = _open(browser, quick_report, viewport)
    # the text a reader sees, without <code> (names a reader would type) and the formulas' own MathML
    text = page.evaluate("""() => { const body = document.body.cloneNode(true);
        body.querySelectorAll('code, script, style, math').forEach(e => e.remove());
        document.body.append(body); body.style.display = 'block';
        const t = body.innerText; body.remove(); return t; }""")
    maths = page.evaluate("Array.from(document.querySelectorAll('math')).map(m => m.textContent).join(' ')")
    page.close()
    assert "checks held" in text and len(text) > 20_000
    for name, pattern in FORBIDDEN.items():
        hits = [text[max(0, m.start() - 30):m.end() + 20] for m in pattern.finditer(text)]
        assert hits == [], (name, hits[:5])
    assert "\\" not in maths  # every LaTeX command was converted, none left as text


def test_every_slider_shows_the_quantity_it_sets(browser, quick_report):
    page = _open(browser, quick_report, LAPTOP)
    sliders = page.evaluate("""Array.from(document.querySelectorAll('.vega-bind input[type=range]')).map(i =>
        [i.name, i.nextElementSibling && i.nextElementSibling.tagName, i.nextElementSibling.textContent,
         i.getAttribute('aria-valuetext')])""")
    page.close()
    assert len(sliders) >= 11
    for name, tag, shown, spoken in sliders:
        assert tag == "OUTPUT" and re.fullmatch(r".+ = -?[0-9.,]+( × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?", shown), (name, shown)
        assert spoken == shown
    # an index slider shows the grid's value, not its index: tau's grid is log-spaced, so not 0, 1, 2, ...
    taus = [s[2] for s in sliders if s[0] == "tau_i"]
    assert taus and not re.fullmatch(r"τ = \d", taus[0])


def test_dark_mode_is_dark(browser, quick_report):
    page = _open(browser, quick_report, LAPTOP, "dark")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    fg = page.evaluate("getComputedStyle(document.body).color")
    page.close()

    def luminance(css):
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    assert luminance(bg) < 0.05 and (luminance(fg) + 0.05) / (luminance(bg) + 0.05) >= 7


def _state(page, vid):
    """What the readout says (a change the view shows is also said in words)."""
    return page.evaluate(f"document.getElementById('{vid}-readout').innerText")


def _redrawn(page, vid):
    page.evaluate(f"window.bmnnViews['{vid}'].runAsync().then(() => new Promise(r => requestAnimationFrame(r)))"
                  ".then(() => null)")


def test_every_control_works_from_the_keyboard(browser, quick_report):
    """Each radio group by arrow keys and each slider by keys alone (no pointer): what the view shows changes, and
    the readout says so."""
    page = _open(browser, quick_report, PHONE)
    controls = page.evaluate("""Array.from(document.querySelectorAll('.vega-bind input')).map(i =>
        [i.closest('figure').querySelector('.vega').id, i.type, i.name, i.value, i.min, i.max])""")
    radios = sorted({(vid, name) for vid, kind, name, *_ in controls if kind == "radio"})
    assert len(radios) >= 2
    for vid, name in radios:  # first, while every slider is where the page put it
        checked = page.locator(f"#{vid} input[name='{name}']:checked")
        first = checked.get_attribute("value")
        checked.focus()
        before = _state(page, vid)
        page.keyboard.press("ArrowDown")
        _redrawn(page, vid)
        assert page.locator(f"#{vid} input[name='{name}']:checked").get_attribute("value") != first
        assert _state(page, vid) != before, (vid, name)
        page.keyboard.press("ArrowUp")  # back: the sliders' effect is tested from the page's own setting
        _redrawn(page, vid)
        assert page.locator(f"#{vid} input[name='{name}']:checked").get_attribute("value") == first
    for vid, kind, name, value, lo, _hi in controls:
        if kind == "radio":
            continue
        box = page.locator(f"#{vid} input[name='{name}']")
        box.focus()
        key = "Home" if float(value) != float(lo) else "End"  # a key that moves it from where it is
        before = _state(page, vid)
        page.keyboard.press(key)
        _redrawn(page, vid)
        assert box.input_value() != value, (vid, name)
        assert _state(page, vid) != before, (vid, name, key)
    page.close()


def test_the_views_number_rule_is_the_tables_rule(browser, quick_report):
    from bmnn.report import _fmt

    rng = np.random.default_rng(20261207)
    values = [0.0, -0.0, 1.0, -1.0, 17.0, 999999.0, 1e6, 123456.7, 0.001, 0.00099999, 1e-300, -2.5e-7, 5e-324,
              1.7e308, float("inf"), float("-inf"), 2e6, 1234567.0, -98765432.0, 1e21,
              # exact ties at the sixth digit: Python rounds them to even
              1.140625, -1.140625, 100000.5, 123456.5, 123457.5, 1234565.0, 1234575.0, 0.0015703125, 2.5e-7 + 0.0]
    values += list(10 ** rng.uniform(-12, 12, 300) * rng.choice([-1, 1], 300))
    values += list(np.round(rng.uniform(-1000, 1000, 100), 3))
    page = _open(browser, quick_report, LAPTOP)
    shown = page.evaluate("(vs) => vs.map(v => window.bmnnFormat(v))", [_js(v) for v in values])
    nan = page.evaluate("window.bmnnFormat(NaN)")
    page.close()
    assert nan == _fmt(float("nan"))
    for v, text in zip(values, shown, strict=True):
        assert text == _fmt(float(v)), (v, text)


def _js(v: float):
    """A float as Playwright passes it (infinities as such)."""
    return float(v) if math.isfinite(v) else (math.inf if v > 0 else -math.inf)


def test_a_hundred_moves_do_not_grow_the_page(browser, quick_report):
    """Each view's first slider moved back and forth 88 times by key: with the slider back where it was after 8
    moves, the page has as many elements as then."""
    page = _open(browser, quick_report, LAPTOP)
    count = "document.getElementsByTagName('*').length"
    for vid in page.evaluate("Object.keys(window.bmnnViews)"):
        box = page.locator(f"#{vid} input[type=range]").first
        box.focus()
        page.keyboard.press("Home")
        sizes = []
        for i in range(88):
            page.keyboard.press("ArrowRight" if (i // 4) % 2 == 0 else "ArrowLeft")
            page.evaluate(f"window.bmnnViews['{vid}'].runAsync().then(() => null)")
            if i in (7, 87):
                sizes.append(page.evaluate(count))
        assert sizes[1] == sizes[0], (vid, sizes)
    page.close()


def test_turning_the_phone_keeps_what_the_reader_set(browser, quick_report):
    """From portrait to landscape and back: the views are redrawn for the width, every slider and choice keeps
    its value, the focus stays on the slider, the readouts say the same, nothing is logged as an error and the
    page does not grow."""
    page = _open(browser, quick_report, PHONE)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    box = page.locator("#view-job2 input[name='tau_i']")
    box.focus()
    page.keyboard.press("End")
    page.locator("#view-saturation input[name='label'][value='1']").check()
    _redrawn(page, "view-saturation")
    before = {vid: (_state(page, vid), page.evaluate(f"Array.from(document.querySelectorAll('#{vid} .vega-bind "
                                                       f"input')).map(i => i.type === 'radio' ? i.checked : i.value)"))
              for vid in page.evaluate("Object.keys(window.bmnnViews)")}
    box.focus()
    count = []
    for size in (LAPTOP, PHONE, LAPTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_timeout(400)  # the page waits 200 ms for the resizing to settle
        page.evaluate("Promise.all(Object.keys(window.bmnnViews).map(id => window.bmnnViews[id].runAsync()))"
                      ".then(() => null)")
        count.append(page.evaluate("document.getElementsByTagName('*').length"))
    for vid, (said, inputs) in before.items():
        assert _state(page, vid) == said, vid
        assert page.evaluate(f"Array.from(document.querySelectorAll('#{vid} .vega-bind input')).map(i => "
                             "i.type === 'radio' ? i.checked : i.value)") == inputs, vid
    assert page.evaluate("document.activeElement.name") == "tau_i"
    assert count[1] == count[3] and count[0] == count[2], count
    assert errors == []
    page.close()


def test_a_screen_reader_hears_what_changed_in_one_short_line(browser, quick_report):
    page = _open(browser, quick_report, LAPTOP)
    live = "#view-job2-readout ~ .announce"
    assert page.evaluate("document.querySelectorAll('[aria-live]').length") == 7
    assert page.inner_text(live) == ""  # nothing is read out when the page opens
    assert page.evaluate("document.querySelectorAll('.readout[aria-live], .readout [aria-live]').length") == 0
    page.locator("#view-job2 input[name='tau_i']").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(900)  # the line waits until the moves pause
    said = page.inner_text(live)
    assert said and said.count(";") <= 3 and "τ" in said, said
    page.close()
