"""The report's interactive views: Vega-Lite specifications built with Altair from the records' data.

Each view is a declarative chart whose sliders are Vega-Lite parameters bound to inputs. Where the material has a
closed form (job 1, the 2-d log posterior of 2.1) the page computes it with Vega expressions from the slider values;
where it needs sampling or training (the Gibbs posterior means, the 2.5 study, the training history) the page shows
grids the experiments computed with the library, and the slider selects among them. Nothing here computes a
number a reader sees: it arranges the records' numbers and the formulas the page evaluates, and writes sampled
values as text by the page's rule (to the digits their Monte Carlo errors support).

Every view has a readout: the values a reader would otherwise have to read off the axes. The view computes them
(a hidden text mark per line, its datum ``{label, value}``) and the page writes them as an HTML list (and a table
for rows of named values), announcing the values that changed in one short live line, each number by the page's
one rule (:func:`bmnn.report._fmt`) and its full value kept in a
``data-value`` attribute, so that the browser tests can compare it with the library's number for the same inputs.
Each slider shows the quantity it sets (``tau = 1.47``), not its grid index (``View.shown``).

The charts are laid out for a laptop; on a narrow screen the page puts side-by-side panels under each other and
narrows them to the screen (the page's ``fit``), so that no view is wider than a phone.

Why Altair and Vega-Lite (not Bokeh): the specifications are plain JSON, so the page stays one static file with one
inlined script (``vl-convert-python`` bundles Vega, Vega-Lite and vega-embed, with no network access, once per
page), and closed forms bound to sliders need no server and no hand-written JavaScript.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bmnn.experiments import records as R
from bmnn.experiments.records import Record, Section

#: the width of one panel, in pixels; panels wrap on narrow screens (vega-embed scales nothing)
PANEL = 300


@dataclass(frozen=True)
class View:
    """One interactive view: its element id, the record it belongs to, a caption, the Vega-Lite spec, what to
    watch (one line, also the charts' text alternative), and how each slider shows its value: parameter name ->
    ``[quantity, how]`` with ``how`` a list of the grid's values as text (an index slider), ``"pow10"`` (a log10
    slider), ``"pow10round"`` (a log10 slider of a count) or ``None`` (the value itself); and what the rows of its
    readout's table are (``"feature"``), if it has one."""

    id: str
    record: str
    caption: str
    spec: dict[str, Any]
    watch: str = ""
    shown: dict[str, tuple[str, Any]] | None = None
    rows: str = ""


def _alt():
    import altair as alt

    return alt


def _num(v: float) -> float | str:
    """A number for the page's JSON (which has no NaN or infinity): a non-finite value as the text 3.S's table
    shows for it."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    return v


class Expr(str):
    """A readout label that is a Vega expression (``datum.feature``), not a text."""


def _readout(alt, chart, lines: list[tuple[str, str]], name: str = "readout"):
    """The readout of ``chart`` (a chart whose data, after its transforms, holds the rows to read): one hidden
    text item per row and line, its datum ``item = {label, value}`` with ``value`` a Vega expression (a number, a
    text, a list of numbers, or an object of named numbers). Layer it on a panel of the view; the page finds it by
    ``name`` and writes it out as text (see the module's docstring)."""
    calc = {f"r{i}": f"{{label: {label if isinstance(label, Expr) else json.dumps(label)}, value: {expr}}}"
            for i, (label, expr) in enumerate(lines)}
    return (chart.transform_calculate(**calc)
            .transform_fold(list(calc), as_=["line", "item"])
            .mark_text(opacity=0, aria=False)
            .encode(text=alt.value(""), x=alt.value(0), y=alt.value(0))
            .properties(name=name))


def _grid_text(values) -> list[str]:
    """A grid's values as the page shows them (the page's one number rule)."""
    from bmnn.report import _fmt

    return [_fmt(float(v)) for v in values]


# ---- job 1 -------------------------------------------------------------------------------------------------------

def job1_view(rec: Record) -> View | None:
    """Sliders for sigma, log10 tau, n and |x bar|, a sign switch for sum x; prior, likelihood and posterior of mu,
    the three predictives, the readouts and the coverage of each 95% interval against n: all computed in the
    page from the closed forms of :mod:`bmnn.gaussian` (prior mean 0, as in the material)."""
    alt = _alt()
    ex = rec.data.explore
    z = float(_ndtri(0.5 + ex.level / 2))
    sigma = alt.param(name="sigma", value=ex.noise_sd,
                      bind=alt.binding_range(min=0.1, max=5, step=0.01, name="noise sd σ"))
    logtau = alt.param(name="log10_tau", value=math.log10(ex.prior_sd),  # the example exactly, not the step
                       bind=alt.binding_range(min=-2, max=2, step=0.01, name="prior sd τ (log scale)"))
    logn = alt.param(name="log10_n", value=math.log10(ex.n),
                     bind=alt.binding_range(min=0, max=3, step=0.01, name="sample size n (log scale)"))
    n = alt.param(name="n", expr="round(pow(10, log10_n))")
    xbar = alt.param(name="xbar_abs", value=abs(float(ex.xbar)),
                     bind=alt.binding_range(min=0, max=3, step=0.01, name="size of the sample mean |x̄|"))
    sign = alt.param(name="sign", value=1 if ex.xbar >= 0 else -1,
                     bind=alt.binding_radio(options=[1, 0, -1], labels=["Σx > 0", "Σx = 0", "Σx < 0"],
                                            name="sign of the sum (1.3)"))
    params = [sigma, logtau, logn, n, xbar, sign]
    # the closed forms, each once, as expressions of the sliders (m0 = 0)
    base = {
        "tau": "pow(10, log10_tau)",
        "xbar": "sign * xbar_abs",
        "r": "pow(sigma / datum.tau, 2)",  # sigma^2 / tau^2: the prior as r pseudo-observations
        "v": "sigma * sigma / (n + datum.r)",  # posterior variance v_n
        "map": "n * datum.xbar / (n + datum.r)",  # m_n = sum x / (n + sigma^2 / tau^2)
        "pred_var": "sigma * sigma + datum.v",
        "ratio": "n / (n + datum.r)",
        "cov_mle": f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / n)) - 1",
        "cov_map": f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / (n + datum.r))) - 1",
    }

    def with_base(chart):
        for k, e in base.items():
            chart = chart.transform_calculate(**{k: e})
        return chart

    one = alt.Data(values=[{"k": 0}])
    def densities(axis, where, curves, group, title, dashed=False):
        """Normal densities (name -> expression of ``datum[axis]``) on 201 points of a range (``where``: the
        calculations that place ``datum[axis]`` from ``datum.t`` in [0, 1]), one line each."""
        chart = with_base(alt.Chart(alt.sequence(0, 1.0001, 0.005, as_="t")))
        for k, e in where:
            chart = chart.transform_calculate(**{k: e})
        legend = alt.Legend(orient="top", title=None)
        enc = {"x": alt.X(f"{axis}:Q", title=title[0]), "y": alt.Y("density:Q", title="density"),
               "color": alt.Color(f"{group}:N", legend=legend)}
        if dashed:
            enc["strokeDash"] = alt.StrokeDash(f"{group}:N", legend=legend)
        return (chart.transform_calculate(**curves).transform_fold(list(curves), as_=[group, "density"])
                .mark_line().encode(**enc).properties(width=PANEL, height=200, title=title[1]))

    spread = "4 * max(sigma / sqrt(n), sqrt(datum.v))"
    mu_curves = densities(
        "mu", [("lo", f"min(min(datum.xbar, datum.map), 0) - {spread}"),
               ("hi", f"max(max(datum.xbar, datum.map), 0) + {spread}"),
               ("mu", "datum.lo + datum.t * (datum.hi - datum.lo)")],
        {"prior": "densityNormal(datum.mu, 0, datum.tau)",
         "likelihood": "densityNormal(datum.mu, datum.xbar, sigma / sqrt(n))",
         "posterior": "densityNormal(datum.mu, datum.map, sqrt(datum.v))"},
        "curve", ("μ", "prior, likelihood (normalised) and posterior of μ"))
    x_curves = densities(
        "x", [("half", "4.5 * sqrt(datum.pred_var) + abs(datum.xbar - datum.map)"),
              ("x", "datum.map - datum.half + 2 * datum.t * datum.half")],
        {"full predictive": "densityNormal(datum.x, datum.map, sqrt(datum.pred_var))",
         "MLE plug-in": "densityNormal(datum.x, datum.xbar, sigma)",
         "MAP plug-in": "densityNormal(datum.x, datum.map, sigma)"},
        "predictive", ("new x", "full predictive against the plug-ins"), dashed=True)
    grid_n = alt.sequence(0, 3.0001, 0.05, as_="e")
    cov = (alt.Chart(grid_n).transform_calculate(m="round(pow(10, datum.e))")
           .transform_calculate(r=base["r"].replace("datum.tau", "pow(10, log10_tau)"))
           .transform_calculate(**{"full predictive": repr(float(ex.level)),
                                   "MLE plug-in": f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / datum.m)) - 1",
                                   "MAP plug-in":
                                       f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / (datum.m + datum.r))) - 1"})
           .transform_fold(["full predictive", "MLE plug-in", "MAP plug-in"], as_=["predictive", "coverage"])
           .mark_line().encode(x=alt.X("m:Q", scale=alt.Scale(type="log"), title="n"),
                               y=alt.Y("coverage:Q", scale=alt.Scale(zero=False), title="coverage"),
                               color=alt.Color("predictive:N", legend=alt.Legend(orient="top", title=None)))
           .properties(width=PANEL, height=200, title="coverage of each 95% predictive interval"))
    now = (alt.Chart(one).transform_calculate(m="n").mark_rule(color="black", strokeDash=[3, 3])
           .encode(x="m:Q"))
    lines = [("n", "n"), ("μ̂ MLE", "datum.xbar"), ("μ̂ MAP", "datum.map"),
             ("posterior variance vₙ", "datum.v"), ("predictive variance σ² + vₙ", "datum.pred_var"),
             ("MAP / MLE", "datum.xbar == 0 ? 'undefined (Σx = 0: MAP = MLE = 0)' : datum.map / datum.xbar"),
             ("coverage, MLE plug-in", "datum.cov_mle"), ("coverage, MAP plug-in", "datum.cov_map")]
    read = _readout(alt, with_base(alt.Chart(one)), lines)
    top = alt.hconcat(mu_curves + read, x_curves).resolve_scale(color="independent", strokeDash="independent")
    chart = (alt.vconcat(top, cov + now)
             .resolve_scale(color="independent", strokeDash="independent").add_params(*params))
    return View("view-job1", rec.id, "Move the sliders: the posterior, the predictives and the coverage are "
                "computed in the page from the closed forms.", _spec(chart),
                watch="Raise n and watch the posterior narrow onto the sample mean and the plug-in predictives' "
                      "coverage climb to 95%; a wide prior (large τ) makes the MAP equal the MLE.",
                shown={"sigma": ("σ", None), "log10_tau": ("τ", "pow10"), "log10_n": ("n", "pow10round"),
                       "xbar_abs": ("|x̄|", None)})


def _ndtri(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


# ---- job 2 -------------------------------------------------------------------------------------------------------

def _index_slider(alt, name: str, count: int, label: str, value: int = 0):
    return alt.param(name=name, value=value, bind=alt.binding_range(min=0, max=count - 1, step=1, name=label))


def diabetes_view(rec: Record) -> View | None:
    """2.4 on the diabetes data: a tau slider over the grid; every coefficient's MAP and posterior mean with its
    90% interval, tau* marked, and the count of exact zeros."""
    alt = _alt()
    ex = rec.data.explore
    taus, names = np.asarray(ex.taus), ex.names
    k = len(taus)
    from bmnn.report import _fmt

    # the sampled values as text, to the digits their Monte Carlo standard errors support (the page's rule)
    rows = [{"i": i, "tau": float(taus[i]), "feature": names[j], "map": float(ex.map[i][j]),
             "mean": float(ex.mean[i][j]), "q05": float(ex.q05[i][j]), "q95": float(ex.q95[i][j]),
             "mean_text": _fmt(R.Sampled(float(ex.mean[i][j]), float(ex.mcse[i][j]))),
             "interval_text": _fmt(R.Interval(R.Sampled(float(ex.q05[i][j]), float(ex.mcse_interval[i][j])),
                                              R.Sampled(float(ex.q95[i][j]), float(ex.mcse_interval[i][j]))))}
            for i in range(k) for j in range(len(names))]
    taurows = [{"i": i, "tau": float(taus[i]), "zeros": int(ex.zeros[i])} for i in range(k)]
    data, tdata = alt.Data(values=rows), alt.Data(values=taurows)
    ti = _index_slider(alt, "tau_i", k, "prior scale τ (log grid)", value=k // 2)
    path = (alt.Chart(data).mark_line(strokeWidth=1.2)
            .encode(x=alt.X("tau:Q", scale=alt.Scale(type="log"), title="τ (log scale)"), y=alt.Y("map:Q", title="MAP"),
                    color=alt.Color("feature:N", legend=alt.Legend(columns=5, orient="top", title=None)))
            .properties(width=PANEL, height=220, title="the exact MAP path (Lasso)"))
    star = alt.Chart(alt.Data(values=[{"tau_star": float(ex.tau_star)}])).mark_rule(color="gray").encode(
        x="tau_star:Q")
    now = alt.Chart(tdata).transform_filter("datum.i == tau_i").mark_rule(color="black", strokeDash=[3, 3]).encode(
        x="tau:Q")
    sel = alt.Chart(data).transform_filter("datum.i == tau_i")
    bars = (sel.mark_rule().encode(y=alt.Y("feature:N", title=None), x=alt.X("q05:Q", title="w"), x2="q95:Q")
            + sel.mark_point(shape="circle", filled=True, size=50).encode(y="feature:N", x="mean:Q")
            + sel.mark_point(shape="diamond", color="crimson", size=60).encode(y="feature:N", x="map:Q")
            ).properties(width=PANEL, height=220, title="posterior mean, 90% interval (bars), MAP (red)")
    lines = [("τ", "datum.tau"), ("τ* (at or below it every MAP weight is zero)", repr(float(ex.tau_star))),
             ("exact zeros in the MAP", "datum.zeros")]
    read = _readout(alt, alt.Chart(tdata).transform_filter("datum.i == tau_i"), lines)
    table = _readout(alt, sel, [(Expr("datum.feature"), "{MAP: datum.map, 'posterior mean ± MCSE': "
                                                  "datum.mean_text, '90% interval': datum.interval_text}")],
                     name="readout_w")
    chart = alt.hconcat(path + star + now + read, bars + table).add_params(ti)
    chart = chart.resolve_scale(color="independent")
    return View("view-job2", rec.id, f"Diabetes data (σ = {ex.noise_sd:.4g}, the least-squares residual sd): "
                "the MAP is the exact Lasso; the posterior means and intervals are the Gibbs sampler's.", _spec(chart),
                watch="Lower τ and watch the MAP set weights exactly to zero one by one while the posterior means "
                      "only shrink: no mean is ever exactly zero.",
                shown={"tau_i": ("τ", _grid_text(taus))}, rows="feature")


def location_view(rec: Record) -> View | None:
    """2.3: the MAP's error as the location mu moves from w_true, for the chosen tau."""
    alt = _alt()
    ex = rec.data.explore
    taus, dist, err = np.asarray(ex.taus), np.asarray(ex.dist), np.asarray(ex.err)
    rows = [{"i": i, "tau": float(taus[i]), "d": j, "dist": float(dist[j]), "err": float(err[i, j])}
            for i in range(len(taus)) for j in range(len(dist))]
    data = alt.Data(values=rows)
    ti = _index_slider(alt, "loc_tau_i", len(taus), "prior scale τ (log grid)", value=len(taus) // 3)
    di = _index_slider(alt, "loc_d", len(dist), "distance ‖μ − wₜᵣᵤₑ‖", value=0)
    curve = (alt.Chart(data).transform_filter("datum.i == loc_tau_i").mark_line()
             .encode(x=alt.X("dist:Q", title="‖μ − wₜᵣᵤₑ‖"), y=alt.Y("err:Q", title="MAP's error ‖ŵ − wₜᵣᵤₑ‖")))
    dot = (alt.Chart(data).transform_filter("datum.i == loc_tau_i && datum.d == loc_d")
           .mark_point(filled=True, size=80, color="black").encode(x="dist:Q", y="err:Q"))
    ols = alt.Chart(alt.Data(values=[{"ols": float(ex.ols)}])).mark_rule(color="gray", strokeDash=[4, 4]).encode(
        y="ols:Q")
    lines = [("τ", "datum.tau"), ("‖μ − wₜᵣᵤₑ‖", "datum.dist"), ("MAP's error ‖ŵ − wₜᵣᵤₑ‖", "datum.err"),
             ("least squares' error", repr(float(ex.ols)))]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.i == loc_tau_i && datum.d == loc_d"), lines)
    chart = (curve + dot + ols + read).properties(width=PANEL, height=220,
                                                  title="prior knowledge through the location").add_params(ti, di)
    return View("view-location", rec.id, "The location μ moves along a line away from the true weights w_true; "
                "the MAP's error for "
                "the chosen τ (gray: least squares).", _spec(chart),
                watch="With a small τ a good location pulls the MAP below least squares' error; a far one pushes "
                      "it above. A large τ makes the location not matter.",
                shown={"loc_tau_i": ("τ", _grid_text(taus)), "loc_d": ("‖μ − wₜᵣᵤₑ‖", _grid_text(dist))})


def posterior2d_view(rec: Record) -> View | None:
    """2.1: the 2-d posterior for the chosen tau, evaluated in the page from X^T X, X^T y and y^T y; the MAP and
    the Gibbs posterior mean marked."""
    alt = _alt()
    ex = rec.data.explore
    G, q = np.asarray(ex.gram), np.asarray(ex.xty)
    s, n, yty = float(ex.noise_sd), int(ex.n), float(ex.yty)
    taus = [float(t) for t in ex.taus]
    axis = np.asarray(ex.axis)
    h = float(axis[1] - axis[0])
    grid = alt.Data(values=[{"w1": float(a), "w2": float(b)} for a in axis for b in axis])
    from bmnn.report import _fmt

    marks = alt.Data(values=[{"i": i, "tau": t, "map1": float(m[0]), "map2": float(m[1]), "mean1": float(e[0]),
                              "mean2": float(e[1]),
                              "mean_text": _fmt([R.Sampled(float(a), float(b)) for a, b in zip(e, se, strict=True)])}
                             for i, (t, m, e, se) in enumerate(zip(taus, ex.map, ex.mean, ex.mcse, strict=True))])
    ti = _index_slider(alt, "post_tau_i", len(taus), "prior scale τ (log grid)", value=len(taus) // 2)
    tau = f"{json.dumps(taus)}[post_tau_i]"

    def logpost(w1: str, w2: str) -> str:
        """The log posterior of :func:`bmnn.laplace.log_posterior`, normalising constants included."""
        quad = (f"({yty!r} - 2 * ({w1} * {float(q[0])!r} + {w2} * {float(q[1])!r}) + {w1} * {w1} * {float(G[0, 0])!r}"
                f" + 2 * {w1} * {w2} * {float(G[0, 1])!r} + {w2} * {w2} * {float(G[1, 1])!r})")
        return (f"-{n / 2!r} * log(2 * PI * {s * s!r}) - {quad} / (2 * {s * s!r}) - 2 * log(2 * {tau})"
                f" - (abs({w1}) + abs({w2})) / {tau}")

    heat = (alt.Chart(grid).transform_calculate(lp=logpost("datum.w1", "datum.w2"))
            .transform_joinaggregate(top="max(lp)").transform_calculate(density="exp(datum.lp - datum.top)")
            .transform_calculate(w1b=f"datum.w1 + {h!r}", w2b=f"datum.w2 + {h!r}")
            .mark_rect().encode(x=alt.X("w1:Q", title="w₁"), x2="w1b:Q", y=alt.Y("w2:Q", title="w₂"), y2="w2b:Q",
                                color=alt.Color("density:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                                legend=alt.Legend(title="relative density")))
            .properties(width=PANEL, height=PANEL, title="posterior of (w1, w2), up to a constant"))
    sel = alt.Chart(marks).transform_filter("datum.i == post_tau_i")
    pts = (sel.mark_point(shape="diamond", color="crimson", size=90, filled=True).encode(x="map1:Q", y="map2:Q")
           + sel.mark_point(shape="circle", color="black", size=70).encode(x="mean1:Q", y="mean2:Q"))
    lines = [("τ", "datum.tau"), ("MAP", "[datum.map1, datum.map2]"),
             ("posterior mean (Gibbs) ± MCSE", "datum.mean_text"),
             ("log p(ŵ | X, y) + log p(y | X), ŵ the MAP", logpost("datum.map1", "datum.map2"))]
    read = _readout(alt, sel, lines)
    chart = (heat + pts + read).add_params(ti)
    return View("view-posterior2d", rec.id, "The density is evaluated in the page from the formula of 2.1; red: "
                "the MAP, black: the Gibbs posterior mean.", _spec(chart),
                watch="Lower τ: the density's ridge bends toward the axes and the MAP (red) lands on one, while the "
                      "posterior mean (black) stays off it.",
                shown={"post_tau_i": ("τ", _grid_text(taus))})


def mse_view(rec: Record) -> View | None:
    """2.5: an n slider over the simulation study's grid: test MSE of MAP and posterior mean, the paired
    difference and its standard error."""
    alt = _alt()
    d = rec.data
    from bmnn.report import _fmt

    rows = [{"i": i, "n": int(d.n[i]), "MAP": float(d.mse_map[i]), "posterior mean": float(d.mse_mean[i]),
             "diff": float(d.diff[i]), "se": float(d.se[i]),
             "texts": [_fmt(R.Sampled(float(v), float(e))) for v, e in ((d.mse_map[i], d.se_map[i]),
                                                                       (d.mse_mean[i], d.se_mean[i]),
                                                                       (d.diff[i], d.se[i]))]}
            for i in range(len(d.n))]
    data = alt.Data(values=rows)
    ni = _index_slider(alt, "mse_i", len(rows), "sample size n (log grid)")
    lines_ = (alt.Chart(data).transform_fold(["MAP", "posterior mean"], as_=["estimator", "mse"])
              .mark_line(point=True).encode(x=alt.X("n:Q", scale=alt.Scale(type="log"), title="n (log scale)"),
                                            y=alt.Y("mse:Q", title="test MSE", scale=alt.Scale(zero=False)),
                                            color=alt.Color("estimator:N", legend=alt.Legend(orient="top",
                                                                                            title=None))))
    now = alt.Chart(data).transform_filter("datum.i == mse_i").mark_rule(color="black", strokeDash=[3, 3]).encode(
        x="n:Q")
    # Monte Carlo averages: each to the digits its standard error supports, with it
    lines = [("n", "datum.n"), ("test MSE, MAP", "datum.texts[0]"), ("test MSE, posterior mean", "datum.texts[1]"),
             ("paired difference (MAP − mean)", "datum.texts[2]")]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.i == mse_i"), lines)
    chart = (lines_ + now + read).properties(width=PANEL, height=220, title="expected test MSE").add_params(ni)
    return View("view-mse", rec.id, f"The simulation study ({d.reps:,} replicates per n, p = 10, τ = σ = 1).",
                _spec(chart),
                watch="For small n the posterior mean's test error is below the MAP's; the gap closes as n grows.",
                shown={"mse_i": ("n", [str(int(v)) for v in d.n])})


# ---- job 3 -------------------------------------------------------------------------------------------------------

def _runs(a2, values) -> list[tuple[float, float, str]]:
    """Where a column of the gradient table is a number, NaN or infinite: maximal runs of ``a2`` with one status,
    each ``(first, last, status)``."""
    status = ["NaN" if math.isnan(v) else "infinite" if math.isinf(v) else "a number" for v in map(float, values)]
    runs, start = [], 0
    for i in range(1, len(status) + 1):
        if i == len(status) or status[i] != status[start]:
            runs.append((float(a2[start]), float(a2[i - 1]), status[start]))
            start = i
    return runs


#: the forms of dL/da2 in 3.S's view, as the table names them and as the page labels them
_FORMS = {"expanded64": "expanded, float64", "simplified64": "ŷ − y, float64", "expanded32": "expanded, float32",
          "simplified32": "ŷ − y, float32"}


def saturation_view(rec: Record) -> View | None:
    """3.S: the output pre-activation a2 as a slider, and y: where each form of dL/da2 (expanded or simplified,
    float32 or float64) gives a number, and the values at the chosen a2."""
    alt = _alt()
    ex = rec.data.tables
    rows = []
    for y, t in ex.items():
        for i, a in enumerate(t["a2"]):
            rows.append({"y": int(y), "a2": float(a), **{k: _num(t[k][i]) for k in t if k != "a2"}})
    runs = [{"y": int(y), "form": _FORMS[k], "from": lo - 0.5, "to": hi + 0.5, "status": st}
            for y, t in ex.items() for k in _FORMS for lo, hi, st in _runs(t["a2"], t[k])]
    data = alt.Data(values=rows)
    lo, hi = float(ex[0]["a2"][0]), float(ex[0]["a2"][-1])
    a2 = alt.param(name="a2", value=20, bind=alt.binding_range(min=lo, max=hi, step=1, name="output pre-activation a₂"))
    yy = alt.param(name="label", value=0, bind=alt.binding_radio(options=[0, 1], name="label y"))
    # a fixed colour per status, and a symmetric-log axis marked at the break points, so that each can be read
    ticks = sorted({-700.0, -100.0, -10.0, 0.0, 10.0, *(b for pair in rec.data.breaks.values() for b in pair
                                                        if b > 0)})
    strip = (alt.Chart(alt.Data(values=runs)).transform_filter("datum.y == label")
             .mark_bar(height=18).encode(
                 x=alt.X("from:Q", title="a₂ (symmetric log scale)",
                         scale=alt.Scale(type="symlog", domain=[lo - 0.5, hi + 0.5], nice=False),
                         axis=alt.Axis(values=ticks, labelOverlap=True)), x2="to:Q",
                 y=alt.Y("form:N", sort=list(_FORMS.values()), title=None),
                 color=alt.Color("status:N", scale=alt.Scale(domain=["a number", "NaN", "infinite"],
                                                             range=["#2da44e", "#cf222e", "#8250df"]),
                                 legend=alt.Legend(orient="top", title="∂L/∂a₂ is"))))
    now = alt.Chart(alt.Data(values=[{"k": 0}])).transform_calculate(a2="a2").mark_rule(
        color="black", strokeDash=[3, 3], strokeWidth=2).encode(x="a2:Q")
    lines = [("a₂", "datum.a2"), ("ŷ (float64)", "datum.y_hat64"), ("1 − ŷ (float64)", "datum.one_minus64"),
             ("expanded (float64)", "datum.expanded64"), ("ŷ − y (float64)", "datum.simplified64"),
             ("ŷ (float32)", "datum.y_hat32"), ("1 − ŷ (float32)", "datum.one_minus32"),
             ("expanded (float32)", "datum.expanded32"), ("ŷ − y (float32)", "datum.simplified32")]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.y == label && datum.a2 == a2"), lines)
    chart = (strip + now + read).properties(width=PANEL, height=160,
                                            title="where each form of ∂L/∂a₂ gives a number").add_params(a2, yy)
    return View("view-saturation", rec.id, "The expanded form divides by y_hat and y_hat - 1: it breaks once the "
                "sigmoid rounds to 1 or is so small that dividing by it overflows, much sooner in float32.",
                _spec(chart),
                watch=f"Move a2 to {rec.data.breaks['32'][1]:g}: float32's expanded form turns to NaN (red) while "
                      f"float64's holds until {rec.data.breaks['64'][1]:g}; the simplified form y_hat - y is a "
                      "number everywhere.",
                shown={"a2": ("a₂", None)})


# ---- job 4 -------------------------------------------------------------------------------------------------------

def _png(img: np.ndarray) -> str:
    import matplotlib.image

    buf = io.BytesIO()
    matplotlib.image.imsave(buf, np.asarray(img, dtype=np.float64).reshape(28, 28), cmap="gray_r", format="png",
                            vmin=0, vmax=255)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def training_view(rec: Record) -> View | None:
    """4: an epoch slider over the best recipe's history (curves with the epoch marked, the confusion matrix at
    that epoch), and the gallery: hovering a test image shows its ten predicted probabilities."""
    alt = _alt()
    d = rec.data
    hist = d.best
    classes = list(d.classes)
    rows = [{"epoch": int(h["epoch"]), **{k: float(h[k]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")}}
            for h in hist]
    # one row per epoch with its 100 counts (row-major: true class, then predicted), unpacked in the page for the
    # chosen epoch only: the page stays small for runs of hundreds of epochs
    cm = [{"epoch": int(h["epoch"]), "counts": [int(c) for row in h["test_confusion"] for c in row]}
          for h in hist if "test_confusion" in h]
    data, cdata = alt.Data(values=rows), alt.Data(values=cm)
    ep = alt.param(name="epoch", value=len(rows), bind=alt.binding_range(min=1, max=len(rows), step=1, name="epoch"))
    # the same colours as the static figure (matplotlib's first two: training blue, test orange)
    curves = alt.Scale(domain=["training", "test"], range=["#1f77b4", "#ff7f0e"])
    now = alt.Chart(alt.Data(values=[{"k": 0}])).transform_calculate(epoch="epoch").mark_rule(
        color="black", strokeDash=[3, 3]).encode(x="epoch:Q")
    def curve(kind: str, title: str):
        return (alt.Chart(data).transform_fold([f"train_{kind}", f"test_{kind}"], as_=["key", title])
                .transform_calculate(curve="indexof(datum.key, 'train') == 0 ? 'training' : 'test'").mark_line()
                .encode(x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
                        y=alt.Y(f"{title}:Q", scale=alt.Scale(zero=False)),
                        color=alt.Color("curve:N", scale=curves, legend=alt.Legend(orient="top", title=None))))

    lines = [("epoch", "datum.epoch"), ("test accuracy", "datum.test_acc"), ("test loss", "datum.test_loss"),
             ("training accuracy", "datum.train_acc"), ("training loss", "datum.train_loss")]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.epoch == epoch"), lines)
    top = alt.hconcat((curve("loss", "loss") + now + read).properties(width=PANEL, height=200, title="loss"),
                      (curve("acc", "accuracy") + now).properties(width=PANEL, height=200, title="accuracy"))
    panels = [top]
    if cm:
        names = json.dumps(classes)
        cells = (alt.Chart(cdata).transform_filter("datum.epoch == epoch").transform_flatten(["counts"], as_=["count"])
                 .transform_window(cell="row_number()")
                 .transform_calculate(true=f"{names}[floor((datum.cell - 1) / 10)]",
                                      predicted=f"{names}[(datum.cell - 1) % 10]"))
        conf = (cells.mark_rect()
                .encode(x=alt.X("predicted:N", sort=classes), y=alt.Y("true:N", sort=classes),
                        color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="greens"), legend=None),
                        tooltip=["true:N", "predicted:N", "count:Q"])
                .properties(width=PANEL, height=PANEL, title="test confusion at this epoch"))
        # white on the dark cells (the diagonal), black on the light ones: contrast above 4.5:1 on the greens scale
        text = (cells.mark_text(fontSize=9)
                .encode(x=alt.X("predicted:N", sort=classes), y=alt.Y("true:N", sort=classes), text="count:Q",
                        color=alt.condition("datum.count >= 300", alt.value("white"), alt.value("black"))))
        panels.append(conf + text)
    # the gallery: point at an image, or choose it with the slider, and read its ten probabilities
    imgs = [{"k": k, "col": k % 8, "row": k // 8, "url": _png(im), "index": int(i), "true": classes[int(t)],
             "predicted": classes[int(p)], **{f"p{c}": float(d.proba[k][c]) for c in range(10)}}
            for k, (im, i, t, p) in enumerate(zip(d.images, d.index, d.true, d.pred, strict=True))]
    gdata = alt.Data(values=imgs)
    hover = alt.selection_point(name="image", on="pointerover", fields=["k"], value=[{"k": 0}], empty=False,
                                bind=alt.binding_range(min=0, max=len(imgs) - 1, step=1, name="test image"))
    gallery = (alt.Chart(gdata).mark_image(width=34, height=34)
               .encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None), url="url:N")
               .add_params(hover).properties(width=PANEL, height=90, title="test images (point at one)"))
    probs = (alt.Chart(gdata).transform_filter(hover)
             .transform_fold([f"p{c}" for c in range(10)], as_=["c", "probability"])
             .transform_calculate(cls=f"{json.dumps(classes)}[toNumber(slice(datum.c, 1))]")
             .mark_bar().encode(y=alt.Y("cls:N", sort=classes, title=None), x=alt.X("probability:Q",
                                                                                  scale=alt.Scale(domain=[0, 1])))
             .properties(width=PANEL, height=200, title="its predicted probabilities"))
    plines = [("test image", "datum.index"), ("true class", "datum.true"), ("predicted", "datum.predicted")]
    plines += [(f"p({c})", f"datum.p{i}") for i, c in enumerate(classes)]
    pread = _readout(alt, alt.Chart(gdata).transform_filter(hover), plines, name="readout_image")
    panels.append(alt.hconcat(gallery, probs + pread))
    chart = alt.vconcat(*panels).resolve_scale(color="independent").add_params(ep)
    note = "" if cm else (" (This run was trained before bmnn kept each epoch's confusion counts: train it again "
                          "to see them.)")
    return View("view-training", rec.id, "The best recipe's run: move the epoch slider; point at a test image or "
                "choose it with its slider." + note, _spec(chart),
                watch="Early epochs mix up shirts, T-shirts, pullovers and coats; later ones sharpen the diagonal. "
                      "The training loss stays above the test loss because it is averaged over the epoch, with "
                      "dropout on.",
                shown={"epoch": ("epoch", None), "image_k": ("test image", [str(int(i)) for i in d.index])})


# ---- assembly ----------------------------------------------------------------------------------------------------

def _spec(chart) -> dict[str, Any]:
    spec = chart.to_dict()
    spec.pop("$schema", None)  # a URL: the page makes no request, and vega-embed needs no schema
    # the marks and axes stay out of the accessibility tree (a heat map is 1,681 cells): the view's text
    # alternative is its description and its readout
    spec["config"] = {**spec.get("config", {}), "view": {"continuousWidth": PANEL}, "aria": False,
                      "mark": {"aria": False}}
    return spec


#: the view of each payload type (:mod:`bmnn.experiments.records`)
VIEWS = {R.VariancesData: job1_view, R.LaplacePosteriorData: posterior2d_view, R.PriorLocationData: location_view,
         R.TauPathData: diabetes_view, R.MseGapData: mse_view, R.SaturationData: saturation_view,
         R.ScratchMlpData: training_view}


def views(sections: list[Section]) -> dict[str, View]:
    """Record id -> its interactive view, for every record whose payload has one."""
    out = {}
    for s in sections:
        for r in s.records:
            build = VIEWS.get(type(r.data))
            if build is not None:
                v = build(r)
                v.spec["description"] = f"{v.caption} {v.watch}".strip()  # the charts' text alternative
                out[r.id] = v
    return out


def script() -> str:
    """Vega, Vega-Lite and vega-embed as one script (assigned to ``window``), bundled by vl-convert offline."""
    import vl_convert

    return vl_convert.javascript_bundle()
