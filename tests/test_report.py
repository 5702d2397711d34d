"""The main job: bmnn report writes one self-contained page with every sub-question and no failed check."""

import math
import re

import numpy as np
import pytest

JOB1 = ["1.1", "1.2(a)", "1.2(b)", "1.2(c)", "1.2(d)", "1.2(e)", "1.3", "1.4"]
JOB2 = ["2.1", "2.2", "2.3", "2.4", "2.5"]
JOB3 = ["3.1", "3.2(a)", "3.2(b)", "3.2(c)", "3.2(d)"]
JOB4 = ["4"]


@pytest.fixture(scope="module")
def page(quick_report):
    return quick_report.read_text(encoding="utf-8")


def test_report_has_every_subquestion_in_order(page):
    positions = [page.find(f'<span class="id">{rid}</span>') for rid in JOB1 + JOB2 + JOB3 + JOB4]
    assert all(p > 0 for p in positions) and positions == sorted(positions)


def test_report_has_no_failed_check_and_a_summary(page):
    assert ">FAILED<" not in page and "class=\"failed\"" not in page
    m = re.search(r"(\d+) of (\d+) checks held", page)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) >= 30


def test_report_is_self_contained(page):
    assert "<math" in page and page.count("data:image/png;base64,") >= 5
    assert not re.search(r"""(src|href)=["']https?://""", page)
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{anchor}"' in page


def test_every_payload_type_is_drawn_or_viewed_or_nested_in_one():
    """Figures and views are found by the payload's type: each figure payload has a figure or a view, and each
    explore payload is a field of one that has."""
    import dataclasses
    import typing

    from bmnn import plots
    from bmnn.experiments import records as R
    from bmnn.report.interactive import VIEWS

    payloads = {c for c in vars(R).values() if isinstance(c, type) and issubclass(c, R.Payload) and c is not R.Payload}
    shown = set(plots.FIGURES) | set(VIEWS)
    nested = {typing.get_type_hints(c)[f.name] for c in shown for f in dataclasses.fields(c)}
    assert payloads <= shown | nested, payloads - shown - nested
    for c in payloads:  # frozen: a record's data cannot be changed after the experiment made it
        assert c.__dataclass_params__.frozen, c


def test_problem_4_says_what_the_best_recipe_changes_from_the_settings_table():
    from bmnn.experiments.scratch_mlp import _changes
    from bmnn.scratch_mlp import config as C

    classic, best = C.make_config("classic"), C.make_config("best")
    rows = {r[0]: r for r in _changes(classic, best)}
    changed = {name for name in C.FIELDS if getattr(classic, name) != getattr(best, name)}
    assert set(rows) == {f"`{n}`" for n in changed - {"recipe", "seed", "threads", "device", "validation"}}
    for name, value in C.RECIPES["best"].items():
        if getattr(classic, name) != value:
            shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            assert rows[f"`{name}`"][2] == shown and rows[f"`{name}`"][3] == C.FIELDS[name].metadata["meaning"]
    assert _changes(best, best) == []


def test_the_shipped_benchmark_figures_are_all_read():
    from bmnn.report.build import benchmark_rows

    rows = benchmark_rows()
    assert len(rows) >= 6 and all(r[1] != "unreadable" for r in rows), rows
    assert {r[0].split(":")[0] for r in rows} == {"job 2", "job 3", "job 4"}


def test_page_figures_are_twice_the_density_and_read_their_size():
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from bmnn import plots
    from bmnn.report import _png_size

    fig, ax = plt.subplots(figsize=(3.0, 2.0))
    ax.plot([0, 1], [1, 0])
    png = plots.page_png(fig)
    image = Image.open(io.BytesIO(png))
    assert _png_size(png) == image.size == (3 * plots.PAGE_DPI, 2 * plots.PAGE_DPI)
    assert image.mode == "P"  # a palette: small for line art
    with pytest.raises(ValueError, match="not a PNG"):
        _png_size(b"GIF89a" + bytes(30))


def test_each_figure_says_what_it_shows():
    from bmnn import plots
    from bmnn.experiments import records as R

    for kind, draw in plots.FIGURES.items():
        line = (draw.__doc__ or "").strip()
        assert len(line) > 20, kind
    rec = R.Record(id="x", title="t", statement="s", data=R.RatioData.__new__(R.RatioData))
    assert plots.describe(rec) == "MAP / MLE against n."


@pytest.mark.parametrize(("value", "se", "shown"), [
    (0.45213, 0.0013, "0.4521"), (2407.3, 35.0, "2407"), (-1.23456e-5, 3e-8, "-1.2346 × 10⁻⁵"),
    (0.9, 0.3, "0.90"), (3.14159, float("nan"), "≈ 3.1"), (3.14159, 0.0, "3.14159"), (12.5, 4e-7, "12.5000000"),
    (0.0003, 0.01, "0.000"), (9.996, 0.1, "10.00"), (0.0, 0.0013, "0.0000"), (-0.00004, 0.01, "0.000"),
    (0.1, 1e-20, "1.00000000 × 10⁻¹"), (2.5e7, 3e4, "2.5000 × 10⁷"), (0.5, 1e-9, "5.00000000 × 10⁻¹"),
])
def test_a_monte_carlo_value_shows_the_digits_its_error_supports(value, se, shown):
    from bmnn.experiments.records import Sampled
    from bmnn.report import _fmt, _supported

    assert _supported(value, se) == shown
    if se == 0:  # an exact value: shown as one
        assert _fmt(Sampled(value, se)) == _fmt(value)
    elif not (se > 0):  # no error known (NaN): two digits, marked as approximate, never a failure
        assert _fmt(Sampled(value, se)) == shown
    else:  # the error to two significant digits, trailing zeros kept: 0.40, not 0.4
        error = _fmt(Sampled(value, se)).split(" ± ")[1]
        assert _fmt(Sampled(value, se)) == f"{shown} ± {error}"
        mantissa = error.partition(" × ")[0]
        assert math.isclose(_number(error), float(f"{se:.2g}"), rel_tol=1e-12)
        assert "." not in mantissa or len(re.sub(r"[^0-9]", "", mantissa).lstrip("0")) == 2, error


def test_an_interval_of_sampled_values_shows_each_number_to_the_digits_its_own_error_supports():
    from bmnn.experiments.records import Interval, Sampled
    from bmnn.report import _fmt

    lo, hi = Sampled(19.71234, 0.011), Sampled(30.05671, 0.2)
    assert _fmt(Interval(lo, hi)) == "[19.712, 30.06]"
    assert _fmt(Interval(lo, hi, mean=Sampled(24.89012, 0.0123))) == "24.890 [19.712, 30.06]"
    assert _fmt(Interval(Sampled(-3.2e-5, 4e-7), Sampled(0.0123, float("nan")))) == "[-3.200 × 10⁻⁵, ≈ 0.012]"


def test_a_supported_value_shows_exactly_the_digits_its_error_supports():
    """Its last digit is at the decimal place one below the error's leading digit (not one more, not one less),
    so it is within a twentieth of the error of the estimate, and it never shows more than 8 decimals."""
    from bmnn.report import _supported

    rng = np.random.default_rng(7)
    for _ in range(3000):
        se = 10 ** rng.uniform(-9, 4)
        value = rng.normal() * 10 ** rng.uniform(-6, 8)
        text = _supported(value, se)
        m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?(?: × 10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
        assert m, text
        exp = int(m.group(4).translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))) if m.group(4) else 0
        decimals = len(m.group(3) or "")
        assert decimals <= 8, text
        last = math.floor(math.log10(se)) - 1
        if text.strip("0.") == "":  # zero to every digit supported
            assert abs(value) <= 0.5 * 10.0**last * (1 + 1e-9), (value, se, text)
            continue
        if len((m.group(2) + (m.group(3) or "")).lstrip("0")) == 9:  # cut at the most digits the page shows
            assert exp - decimals >= last, (value, se, text)
            continue
        if last > 0 and not decimals and not exp:  # a whole number rounded at tens, hundreds, ...
            assert int(text) % 10**last == 0, (value, se, text)
        else:
            assert exp - decimals == last, (value, se, text)
        assert abs(_number(text) - value) <= se / 20 * (1 + 1e-9), (value, se, text)


def _number(text: str) -> float:
    """A number as the page writes it (``1.5 × 10⁻⁵``) read back."""
    mant, _, exp = text.partition(" × 10")
    return float(mant) * 10.0 ** int(exp.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")) or 0)
