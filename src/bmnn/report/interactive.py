"""The report's interactive views: Vega-Lite specifications built with Altair from the records' data.

Each view is a declarative chart whose sliders are Vega-Lite parameters bound to inputs. Where the material has a
closed form (job 1, the 2-d log posterior of 2.1) the page computes it with Vega expressions from the slider values;
where it needs sampling or training (the Gibbs posterior means, the 2.5 study, the training history) the page shows
grids the experiments computed with the library, and the slider selects among them. Nothing here computes a
number a reader sees: it arranges the records' numbers and the formulas the page evaluates.

Every view has a readout: text marks ``label: value`` whose values are printed in full (JavaScript's shortest
round-trip form), so that the browser tests can compare them with the library's numbers for the same inputs.

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
    """One interactive view: its element id, the record it belongs to, a caption, and the Vega-Lite spec."""

    id: str
    record: str
    caption: str
    spec: dict[str, Any]


def _alt():
    import altair as alt

    return alt


def _num(v: float) -> float | str:
    """A number for the page's JSON: non-finite values as the strings JavaScript prints for them."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _readout(alt, chart, lines: list[tuple[str, str]], width: int = PANEL):
    """Text marks, one line each: ``label: value`` with the value an expression (printed in full), on ``chart``
    (a chart whose data, after its transforms, is the one row to read)."""
    calc = {f"r{i}": f"'{label}: ' + ({expr})" for i, (label, expr) in enumerate(lines)}
    return (chart.transform_calculate(**calc)
            .transform_fold(list(calc), as_=["line", "text"])
            .transform_calculate(order="toNumber(slice(datum.line, 1))")
            .mark_text(align="left", baseline="top", fontSize=13, font="monospace")
            .encode(y=alt.Y("order:O", axis=None), text="text:N", x=alt.value(0))
            .properties(width=width, height=20 * len(lines), title="readout", view=alt.ViewBackground(stroke=None)))


def _full(expr: str) -> str:
    """An expression's value printed in full (JavaScript's shortest round-trip form)."""
    return f"toString({expr})"


# ---- job 1 -------------------------------------------------------------------------------------------------------

def job1_view(rec: Record) -> View | None:
    """Sliders for sigma, log10 tau, n and |x bar|, a sign switch for sum x; prior, likelihood and posterior of mu,
    the three predictives, the readouts and the coverage of each 95% interval against n: all computed in the
    page from the closed forms of :mod:`bmnn.gaussian` (prior mean 0, as in the material)."""
    alt = _alt()
    ex = rec.data.explore
    z = float(_ndtri(0.5 + ex.level / 2))
    sigma = alt.param(name="sigma", value=ex.noise_sd,
                      bind=alt.binding_range(min=0.1, max=5, step=0.01, name="sigma (noise sd) "))
    logtau = alt.param(name="log10_tau", value=round(math.log10(ex.prior_sd), 2),
                       bind=alt.binding_range(min=-2, max=2, step=0.01, name="log10 tau (prior sd) "))
    n = alt.param(name="n", value=ex.n, bind=alt.binding_range(min=1, max=1000, step=1, name="n "))
    xbar = alt.param(name="xbar_abs", value=round(abs(ex.xbar), 2),
                     bind=alt.binding_range(min=0, max=3, step=0.01, name="|x bar| (sample mean) "))
    sign = alt.param(name="sign", value=1 if ex.xbar >= 0 else -1,
                     bind=alt.binding_radio(options=[1, 0, -1], labels=["sum x > 0", "sum x = 0", "sum x < 0"],
                                            name="sign of sum x (1.3) "))
    params = [sigma, logtau, n, xbar, sign]
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
        "curve", ("mu", "prior, likelihood (normalised) and posterior of mu"))
    x_curves = densities(
        "x", [("half", "4.5 * sqrt(datum.pred_var) + abs(datum.xbar - datum.map)"),
              ("x", "datum.map - datum.half + 2 * datum.t * datum.half")],
        {"full": "densityNormal(datum.x, datum.map, sqrt(datum.pred_var))",
         "plugin_mle": "densityNormal(datum.x, datum.xbar, sigma)",
         "plugin_map": "densityNormal(datum.x, datum.map, sigma)"},
        "predictive", ("new x", "full predictive against the plug-ins"), dashed=True)
    grid_n = alt.sequence(0, 3.0001, 0.05, as_="e")
    cov = (alt.Chart(grid_n).transform_calculate(m="round(pow(10, datum.e))")
           .transform_calculate(r=base["r"].replace("datum.tau", "pow(10, log10_tau)"))
           .transform_calculate(full=repr(float(ex.level)),
                                plugin_mle=f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / datum.m)) - 1",
                                plugin_map=f"2 * cumulativeNormal({z!r} / sqrt(1 + 1 / (datum.m + datum.r))) - 1")
           .transform_fold(["full", "plugin_mle", "plugin_map"], as_=["predictive", "coverage"])
           .mark_line().encode(x=alt.X("m:Q", scale=alt.Scale(type="log"), title="n"),
                               y=alt.Y("coverage:Q", scale=alt.Scale(zero=False), title="coverage"),
                               color=alt.Color("predictive:N", legend=alt.Legend(orient="top", title=None)))
           .properties(width=PANEL, height=200, title="coverage of each 95% predictive interval"))
    now = (alt.Chart(one).transform_calculate(m="n").mark_rule(color="black", strokeDash=[3, 3])
           .encode(x="m:Q"))
    lines = [("mu_MLE", _full("datum.xbar")), ("mu_MAP", _full("datum.map")),
             ("posterior variance v_n", _full("datum.v")),
             ("predictive variance sigma^2 + v_n", _full("datum.pred_var")),
             ("MAP / MLE",
              f"datum.xbar == 0 ? 'undefined (sum x = 0: MAP = MLE = 0)' : {_full('datum.map / datum.xbar')}"),
             ("coverage, MLE plug-in", _full("datum.cov_mle")), ("coverage, MAP plug-in", _full("datum.cov_map"))]
    read = _readout(alt, with_base(alt.Chart(one)), lines)
    top = alt.hconcat(mu_curves, x_curves).resolve_scale(color="independent", strokeDash="independent")
    chart = (alt.vconcat(top, alt.hconcat(cov + now, read))
             .resolve_scale(color="independent", strokeDash="independent").add_params(*params))
    return View("view-job1", rec.id, "Move the sliders: the posterior, the predictives and the coverage are "
                "computed in the page from the closed forms.", _spec(chart))


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
    rows = [{"i": i, "tau": float(taus[i]), "feature": names[j], "map": float(ex.map[i][j]),
             "mean": float(ex.mean[i][j]), "q05": float(ex.q05[i][j]), "q95": float(ex.q95[i][j])}
            for i in range(k) for j in range(len(names))]
    taurows = [{"i": i, "tau": float(taus[i]), "zeros": int(ex.zeros[i])} for i in range(k)]
    data, tdata = alt.Data(values=rows), alt.Data(values=taurows)
    ti = _index_slider(alt, "tau_i", k, "tau (grid step) ", value=k // 2)
    path = (alt.Chart(data).mark_line(strokeWidth=1.2)
            .encode(x=alt.X("tau:Q", scale=alt.Scale(type="log"), title="tau"), y=alt.Y("map:Q", title="MAP"),
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
    lines = [("tau", _full("datum.tau")), ("tau*", _full(repr(float(ex.tau_star)))),
             ("exact zeros in the MAP", _full("datum.zeros"))]
    read = _readout(alt, alt.Chart(tdata).transform_filter("datum.i == tau_i"), lines)
    table = (sel.transform_calculate(text="datum.feature + ': MAP ' + toString(datum.map) + ', mean ' + "
                                          "toString(datum.mean) + ', 90% [' + toString(datum.q05) + ', ' + "
                                          "toString(datum.q95) + ']'")
             .mark_text(align="left", baseline="top", fontSize=11, font="monospace")
             .encode(y=alt.Y("feature:N", axis=None), text="text:N", x=alt.value(0))
             .properties(width=2 * PANEL, height=16 * len(names), title="at this tau",
                         view=alt.ViewBackground(stroke=None)))
    chart = alt.vconcat(alt.hconcat(path + star + now, bars), read, table).add_params(ti)
    chart = chart.resolve_scale(color="independent")
    return View("view-job2", rec.id, f"Diabetes data (sigma = {ex.noise_sd:.4g}, the least-squares residual sd): "
                "the MAP is the exact Lasso; the posterior means and intervals are the Gibbs sampler's.", _spec(chart))


def location_view(rec: Record) -> View | None:
    """2.3: the MAP's error as the location mu moves from w_true, for the chosen tau."""
    alt = _alt()
    ex = rec.data.explore
    taus, dist, err = np.asarray(ex.taus), np.asarray(ex.dist), np.asarray(ex.err)
    rows = [{"i": i, "tau": float(taus[i]), "d": j, "dist": float(dist[j]), "err": float(err[i, j])}
            for i in range(len(taus)) for j in range(len(dist))]
    data = alt.Data(values=rows)
    ti = _index_slider(alt, "loc_tau_i", len(taus), "tau (grid step) ", value=len(taus) // 3)
    di = _index_slider(alt, "loc_d", len(dist), "||mu - w_true|| (grid step) ", value=0)
    curve = (alt.Chart(data).transform_filter("datum.i == loc_tau_i").mark_line()
             .encode(x=alt.X("dist:Q", title="||mu - w_true||"), y=alt.Y("err:Q", title="||w_MAP - w_true||")))
    dot = (alt.Chart(data).transform_filter("datum.i == loc_tau_i && datum.d == loc_d")
           .mark_point(filled=True, size=80, color="black").encode(x="dist:Q", y="err:Q"))
    ols = alt.Chart(alt.Data(values=[{"ols": float(ex.ols)}])).mark_rule(color="gray", strokeDash=[4, 4]).encode(
        y="ols:Q")
    lines = [("tau", _full("datum.tau")), ("||mu - w_true||", _full("datum.dist")),
             ("||w_MAP - w_true||", _full("datum.err")),
             ("least squares ||w_OLS - w_true||", _full(repr(float(ex.ols))))]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.i == loc_tau_i && datum.d == loc_d"), lines)
    chart = alt.hconcat((curve + dot + ols).properties(width=PANEL, height=220,
                                                       title="prior knowledge through the location"),
                        read).add_params(ti, di)
    return View("view-location", rec.id, "The location mu moves along a line away from w_true; the MAP's error for "
                "the chosen tau (gray: least squares).", _spec(chart))


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
    marks = alt.Data(values=[{"i": i, "tau": t, "map1": float(m[0]), "map2": float(m[1]), "mean1": float(e[0]),
                              "mean2": float(e[1])} for i, (t, m, e) in enumerate(zip(taus, ex.map, ex.mean,
                                                                                       strict=True))])
    ti = _index_slider(alt, "post_tau_i", len(taus), "tau (grid step) ", value=len(taus) // 2)
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
            .mark_rect().encode(x=alt.X("w1:Q", title="w1"), x2="w1b:Q", y=alt.Y("w2:Q", title="w2"), y2="w2b:Q",
                                color=alt.Color("density:Q", scale=alt.Scale(scheme="blues"),
                                                legend=alt.Legend(title="relative density")))
            .properties(width=PANEL, height=PANEL, title="posterior of (w1, w2), up to a constant"))
    sel = alt.Chart(marks).transform_filter("datum.i == post_tau_i")
    pts = (sel.mark_point(shape="diamond", color="crimson", size=90, filled=True).encode(x="map1:Q", y="map2:Q")
           + sel.mark_point(shape="circle", color="black", size=70).encode(x="mean1:Q", y="mean2:Q"))
    lines = [("tau", _full("datum.tau")), ("MAP", _full("datum.map1") + " + ', ' + " + _full("datum.map2")),
             ("posterior mean (Gibbs)", _full("datum.mean1") + " + ', ' + " + _full("datum.mean2")),
             ("log p(w_MAP | X, y) + log p(y | X)", _full(logpost("datum.map1", "datum.map2")))]
    read = _readout(alt, sel, lines)
    chart = alt.hconcat(heat + pts, read).add_params(ti)
    return View("view-posterior2d", rec.id, "The density is evaluated in the page from the formula of 2.1; red: "
                "the MAP, black: the Gibbs posterior mean.", _spec(chart))


def mse_view(rec: Record) -> View | None:
    """2.5: an n slider over the simulation study's grid: test MSE of MAP and posterior mean, the paired
    difference and its standard error."""
    alt = _alt()
    d = rec.data
    rows = [{"i": i, "n": int(d.n[i]), "MAP": float(d.mse_map[i]), "posterior mean": float(d.mse_mean[i]),
             "diff": float(d.diff[i]), "se": float(d.se[i])} for i in range(len(d.n))]
    data = alt.Data(values=rows)
    ni = _index_slider(alt, "mse_i", len(rows), "n (grid step) ")
    lines_ = (alt.Chart(data).transform_fold(["MAP", "posterior mean"], as_=["estimator", "mse"])
              .mark_line(point=True).encode(x=alt.X("n:Q", scale=alt.Scale(type="log")),
                                            y=alt.Y("mse:Q", title="test MSE", scale=alt.Scale(zero=False)),
                                            color=alt.Color("estimator:N", legend=alt.Legend(orient="top",
                                                                                            title=None))))
    now = alt.Chart(data).transform_filter("datum.i == mse_i").mark_rule(color="black", strokeDash=[3, 3]).encode(
        x="n:Q")
    lines = [("n", _full("datum.n")), ("test MSE, MAP", _full("datum.MAP")),
             ("test MSE, posterior mean", _full("datum['posterior mean']")),
             ("paired difference (MAP - mean)", _full("datum.diff")), ("its standard error", _full("datum.se"))]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.i == mse_i"), lines)
    chart = alt.hconcat((lines_ + now).properties(width=PANEL, height=220, title="expected test MSE"),
                        read).add_params(ni)
    return View("view-mse", rec.id, f"The simulation study ({d.reps:,} replicates per n, p = 10, tau = sigma = 1).",
                _spec(chart))


# ---- job 3 -------------------------------------------------------------------------------------------------------

def saturation_view(rec: Record) -> View | None:
    """3.S: the output pre-activation a2 as a slider, and y: the expanded and the simplified dL/da2 in float32
    and float64, where the expanded one becomes NaN or infinite."""
    alt = _alt()
    ex = rec.data.tables
    rows = []
    for y, t in ex.items():
        for i, a in enumerate(t["a2"]):
            rows.append({"y": int(y), "a2": float(a), **{k: _num(t[k][i]) for k in t if k != "a2"}})
    data = alt.Data(values=rows)
    a2 = alt.param(name="a2", value=20, bind=alt.binding_range(min=float(ex[0]["a2"][0]),
                                                              max=float(ex[0]["a2"][-1]), step=1, name="a2 "))
    yy = alt.param(name="label", value=0, bind=alt.binding_radio(options=[0, 1], name="y "))
    keys = ["expanded64", "simplified64", "expanded32", "simplified32"]
    curve = (alt.Chart(data).transform_filter("datum.y == label && datum.a2 >= a2 - 60 && datum.a2 <= a2 + 60")
             .transform_fold(keys, as_=["form", "value"]).transform_filter("isNumber(datum.value)")
             .mark_line(point=alt.OverlayMarkDef(size=12)).encode(
                 x=alt.X("a2:Q"), y=alt.Y("value:Q", title="dL/da2"),
                 color=alt.Color("form:N", legend=alt.Legend(orient="top", title=None, columns=2)),
                 strokeDash="form:N")
             .properties(width=PANEL, height=220, title="dL/da2 near a2 (not-finite values left out)"))
    now = alt.Chart(alt.Data(values=[{"k": 0}])).transform_calculate(a2="a2").mark_rule(
        color="black", strokeDash=[3, 3]).encode(x="a2:Q")
    lines = [("a2", _full("datum.a2")), ("y_hat (float64)", _full("datum.y_hat64")),
             ("expanded (float64)", _full("datum.expanded64")), ("y_hat - y (float64)", _full("datum.simplified64")),
             ("y_hat (float32)", _full("datum.y_hat32")), ("expanded (float32)", _full("datum.expanded32")),
             ("y_hat - y (float32)", _full("datum.simplified32"))]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.y == label && datum.a2 == a2"), lines)
    chart = alt.hconcat(curve + now, read).add_params(a2, yy)
    return View("view-saturation", rec.id, "The expanded form divides by y_hat and y_hat - 1: it breaks once the "
                "sigmoid rounds to 1 or underflows to 0, much sooner in float32.", _spec(chart))


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
    ep = alt.param(name="epoch", value=len(rows), bind=alt.binding_range(min=1, max=len(rows), step=1, name="epoch "))
    now = alt.Chart(alt.Data(values=[{"k": 0}])).transform_calculate(epoch="epoch").mark_rule(
        color="black", strokeDash=[3, 3]).encode(x="epoch:Q")
    loss = (alt.Chart(data).transform_fold(["train_loss", "test_loss"], as_=["curve", "loss"]).mark_line()
            .encode(x=alt.X("epoch:Q"), y=alt.Y("loss:Q", scale=alt.Scale(zero=False)),
                    color=alt.Color("curve:N", legend=alt.Legend(orient="top", title=None))))
    acc = (alt.Chart(data).transform_fold(["train_acc", "test_acc"], as_=["curve", "accuracy"]).mark_line()
           .encode(x=alt.X("epoch:Q"), y=alt.Y("accuracy:Q", scale=alt.Scale(zero=False)),
                   color=alt.Color("curve:N", legend=alt.Legend(orient="top", title=None))))
    lines = [("epoch", _full("datum.epoch")), ("test accuracy", _full("datum.test_acc")),
             ("test loss", _full("datum.test_loss")), ("training accuracy", _full("datum.train_acc")),
             ("training loss", _full("datum.train_loss"))]
    read = _readout(alt, alt.Chart(data).transform_filter("datum.epoch == epoch"), lines)
    top = alt.hconcat((loss + now).properties(width=PANEL, height=200, title="loss"),
                      (acc + now).properties(width=PANEL, height=200, title="accuracy")).resolve_scale(
                          color="independent")
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
        panels.append(alt.hconcat(conf + text, read))
    else:
        panels.append(read)
    # the gallery: hover an image, read its ten probabilities
    imgs = [{"k": k, "col": k % 8, "row": k // 8, "url": _png(im), "index": int(i), "true": classes[int(t)],
             "predicted": classes[int(p)], **{f"p{c}": float(d.proba[k][c]) for c in range(10)}}
            for k, (im, i, t, p) in enumerate(zip(d.images, d.index, d.true, d.pred, strict=True))]
    gdata = alt.Data(values=imgs)
    hover = alt.selection_point(name="image", on="pointerover", fields=["k"], value=[{"k": 0}], empty=False)
    gallery = (alt.Chart(gdata).mark_image(width=34, height=34)
               .encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None), url="url:N")
               .add_params(hover).properties(width=PANEL, height=90, title="test images (hover one)"))
    probs = (alt.Chart(gdata).transform_filter(hover)
             .transform_fold([f"p{c}" for c in range(10)], as_=["c", "probability"])
             .transform_calculate(cls=f"{json.dumps(classes)}[toNumber(slice(datum.c, 1))]")
             .mark_bar().encode(y=alt.Y("cls:N", sort=classes, title=None), x=alt.X("probability:Q",
                                                                                  scale=alt.Scale(domain=[0, 1])))
             .properties(width=PANEL, height=200, title="its predicted probabilities"))
    plines = [("test image", _full("datum.index")), ("true class", "datum.true"), ("predicted", "datum.predicted")]
    plines += [(f"p({c})", _full(f"datum.p{i}")) for i, c in enumerate(classes)]
    pread = _readout(alt, alt.Chart(gdata).transform_filter(hover), plines)
    panels.append(alt.hconcat(alt.vconcat(gallery, probs), pread))
    chart = alt.vconcat(*panels).resolve_scale(color="independent").add_params(ep)
    note = "" if cm else (" (This run was trained before bmnn kept each epoch's confusion counts: train it again "
                          "to see them.)")
    return View("view-training", rec.id, "The best recipe's run: move the epoch slider; hover a test image." + note,
                _spec(chart))


# ---- assembly ----------------------------------------------------------------------------------------------------

def _spec(chart) -> dict[str, Any]:
    spec = chart.to_dict()
    spec.pop("$schema", None)  # a URL: the page makes no request, and vega-embed needs no schema
    spec["config"] = {**spec.get("config", {}), "view": {"continuousWidth": PANEL}}
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
                out[r.id] = build(r)
    return out


def script() -> str:
    """Vega, Vega-Lite and vega-embed as one script (assigned to ``window``), bundled by vl-convert offline."""
    import vl_convert

    return vl_convert.javascript_bundle()
