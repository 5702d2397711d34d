"""Where the benchmarks' result files live and how they are read and written: one schema, shared by the scripts
in ``benchmarks/`` (which write them) and the report (which shows them). A leaf: imports only ``_files``.

The files are package data (``bmnn/results/*.json``, committed), so a clone and an installed wheel show the same
measured figures. Each carries its ``provenance``: the date, the commit, the machine and the command that measured
it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bmnn._files import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def provenance() -> dict[str, str]:
    """When, on which commit and machine, and by which command a figure was measured."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit or "unknown",
            "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
                       f"{platform.python_version()}",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def write(name: str, result: dict[str, Any], folder: Path = RESULTS) -> Path:
    """``folder/NAME.json``, written atomically (strict JSON), with its :func:`provenance` added."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {**result, "provenance": result.get("provenance") or provenance()}
    return atomic_write(folder / f"{name}.json", json.dumps(doc, indent=2, allow_nan=False))


def read(name: str, folder: Path = RESULTS) -> dict[str, Any] | None:
    """The result ``name`` if it was written and is readable, else ``None``."""
    path = folder / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- the figures as text: README's figures block and docs/benchmarks.md are generated from the result files ------

README_BEGIN = "<!-- figures: generated from src/bmnn/results by scripts/make_figures.py; do not edit -->"
README_END = "<!-- end of generated figures -->"


def _x(v: float) -> str:
    return f"{v:.0f}x" if v >= 100 else f"{v:.3g}x"


def _goal(ok: bool, goal: str) -> str:
    return f"goal {goal}" if ok else f"goal {goal}: **missed**"


def _lines(r: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(what, figure, anchor in docs/benchmarks.md) per measured figure, from the result files ``r``."""
    rows = []
    if (d := r.get("laplace")) is not None:
        rows.append(("Job 2 Gibbs against NumPyro's NUTS, diabetes (min bulk ESS/s)",
                     f"**{_x(d['ratio_ess_per_s'])}** ({_goal(d['ratio_ess_per_s'] >= 100, '100x')})", "laplace"))
        rows.append(("Job 2 MAP against one scikit-learn Lasso call (time)",
                     f"{d['map_over_lasso']:.2f}x ({_goal(d['map_over_lasso'] <= 1.0, '1x or less')})", "laplace"))
    if (d := r.get("laplace_scale")) is not None:
        goals = {(442, 10): 100, (1000, 100): 100, (200, 2000): 30}
        parts = []
        for s in d["sizes"]:
            key = (s["n"], s["p"])
            if "ratio" in s:
                ok = s["ratio"] >= goals.get(key, 0)
                parts.append(f"{s['n']} x {s['p']} **{_x(s['ratio'])}**" + ("" if ok else " (missed)"))
            else:
                parts.append(f"{s['n']} x {s['p']} {s['ours']['ess_per_s']:.0f} ESS/s (NUTS unfinished)")
        rows.append(("Job 2 at scale against NUTS (min bulk ESS/s; goals 100x, 100x, 30x)", "; ".join(parts),
                     "laplace-scale"))
        if "learned_1000x100" in d:
            rows.append(("Job 2 with sigma and tau learned, 1000 x 100, against NUTS",
                         f"**{_x(d['learned_1000x100']['ratio'])}**", "laplace-scale"))
    if (d := r.get("horseshoe")) is not None:
        parts = []
        for row in d["sizes"]:
            if "ratio" in row:
                ok = row["size"] != "200 x 2000" or row["ratio"] >= 10
                parts.append(f"{row['size']} **{_x(row['ratio'])}**" + ("" if ok else " (missed)"))
            elif row["ratio_at_least"] >= 10:
                parts.append(f"{row['size']} at least **{_x(row['ratio_at_least'])}** (NUTS unfinished)")
            else:  # a bound below the goal says nothing: NUTS drew nothing within the cap
                parts.append(f"{row['size']} {row['ours']['ess_per_s']:.2f} ESS/s; NUTS drew nothing in "
                             f"{d['cap_seconds']:.0f} s (ratio not measured)")
        rows.append(("Horseshoe Gibbs against NUTS (min bulk ESS/s over w, tau, sigma; goal 10x at 200 x 2000)",
                     "; ".join(parts), "horseshoe"))
    if (d := r.get("scale")) is not None:
        rows.append(("Dask, 2 workers against 1 (goal 1.8x)",
                     f"study **{d['study_speedup']:.2f}x**, sweep **{d['sweep_speedup']:.2f}x**"
                     + ("" if min(d["study_speedup"], d["sweep_speedup"]) >= 1.8 else " (missed)"), "scale"))
        big = d["statistics_pass"][-1]
        rows.append(("CSV glob statistics pass", f"{big['rows_per_s']:,.0f} rows/s at {big['rows']:,} rows, "
                     f"{big['peak_rss_bytes'] / 2**20:.0f} MiB peak", "scale"))
    if (d := r.get("report_page")) is not None:
        lat, goal = d["latency_ms"], d["goal_ms"]
        rows.append((f"Report views on a phone, CPU slowed {d['cpu_slowdown']}x: slider move to redrawn view",
                     f"median {lat['median']} ms ({_goal(lat['median'] <= goal, f'{goal:g} ms')}); "
                     f"page grows by {d['dom_growth']} elements over {LEAK_MOVES} moves", "report-page"))
        size = d["page_mb"]["full"] or d["page_mb"]["quick"]
        rows.append(("Report page size, network requests",
                     f"{size} MiB{'' if d['page_mb']['full'] else ' (quick report)'}, {d['network_requests']}",
                     "report-page"))
    if (d := r.get("sigmoid_mlp")) is not None:
        one, two = d["1 thread"]["ratio"], d["all threads"]["ratio"]
        rows.append(("Job 3 forward + hand backward against torch.autograd (time)",
                     f"{one:.2f}x, {two:.2f}x on 2 threads ({_goal(max(one, two) <= 1.0, '1x')})", "sigmoid-mlp"))
    if (d := r.get("scratch_mlp_accuracy")) is not None:
        acc = d["best_seeds"]["test_accuracy"]
        mean = sum(acc) / len(acc)
        sd = (sum((a - mean) ** 2 for a in acc) / (len(acc) - 1)) ** 0.5
        rows.append(("Job 4 recipe classic (the material's set-up), test accuracy",
                     f"{d['classic']['test_accuracy']}", "scratch-mlp"))
        rows.append((f"Job 4 recipe best, test accuracy over {len(acc)} seeds",
                     f"**{mean:.4f} +- {sd:.4f}** ({_goal(mean >= d['best_seeds']['goal_accuracy'], '0.91')})",
                     "scratch-mlp"))
    if (d := r.get("scratch_mlp")) is not None:
        one, two = d["1 thread"]["hand_over_torch_nn"], d["all threads"]["hand_over_torch_nn"]
        rows.append(("Job 4 hand step against torch.nn + torch.optim (time per epoch)",
                     f"{one:.2f}x, {two:.2f}x on 2 threads ({_goal(max(one, two) <= 0.7, '0.7x')})", "scratch-mlp"))
    return rows


#: the moves between the two counts of the page's elements in ``benchmarks/bench_page.py``
LEAK_MOVES = 96

NAMES = ("laplace", "laplace_scale", "horseshoe", "scale", "report_page", "sigmoid_mlp", "scratch_mlp_accuracy",
         "scratch_mlp")


def _all(folder: Path) -> dict[str, dict]:
    return {name: d for name in NAMES if (d := read(name, folder)) is not None}


def readme_block(folder: Path = RESULTS) -> str:
    """The README's figures table, one short line per figure, each linking to its section of docs/benchmarks.md."""
    out = [README_BEGIN, "", "| what | figure |", "| --- | --- |"]
    out += [f"| {what} | {fig} ([how](docs/benchmarks.md#{anchor})) |" for what, fig, anchor in _lines(_all(folder))]
    return "\n".join([*out, "", README_END])


def _table(rows: list[tuple]) -> list[str]:
    head, *body = rows
    return [f"| {' | '.join(map(str, head))} |", "|" + " --- |" * len(head)] + [
        f"| {' | '.join(map(str, r))} |" for r in body]


def _prov(d: dict) -> list[str]:
    p = d.get("provenance", {})
    note = f" ({p['recorded']})" if p.get("recorded") else ""
    return ["", f"Measured {p.get('date', '?')} at commit `{p.get('commit', '?')}` on {p.get('machine', '?')}, by "
            f"`{p.get('command', '?')}`{note}.", ""]


def benchmarks_doc(folder: Path = RESULTS) -> str:
    """docs/benchmarks.md: every result file's figures in full, with their provenance."""
    r = _all(folder)
    out = ["# Measured figures", "",
           "Generated from the result files in `src/bmnn/results/` (package data) by `scripts/make_figures.py`; "
           "each benchmark rewrites its file. One run each unless a spread is given.", ""]
    if (d := r.get("laplace")) is not None:
        out += ['<a id="laplace"></a>', "", "## Job 2 against NUTS on the diabetes data", "",
                f"sigma = {d['sigma']:.4g}, tau = {d['tau']:.4g}, lambda = sigma^2 / tau = {d['lambda']:.4g}.", ""]
        out += _table([("sampler", "chains x draws (warm-up)", "seconds", "min bulk ESS", "ESS/s", "max R-hat"),
                       *[(k, f"{v['chains']} x {v['draws']} ({v['warmup']})", f"{v['seconds']:.2f}",
                          f"{v['min_ess_bulk']:,.0f}", f"{v['ess_per_s']:,.0f}", f"{v['max_rhat']:.4f}")
                         for k, v in (("Gibbs (bmnn)", d["ours"]), ("NUTS (NumPyro)", d["nuts"]))]])
        out += ["", f"Ratio of ESS/s: **{d['ratio_ess_per_s']:.1f}x**. Posterior means agree within "
                f"{d['mean_agreement_max_abs_z']:.2f} combined MCSE. The MAP took {d['map_seconds'] * 1e3:.2f} ms, "
                f"{d['map_over_lasso']:.2f}x one scikit-learn Lasso call, optimality certificate "
                f"{d['map_certificate']:.1e}."]
        out += _prov(d)
    if (d := r.get("laplace_scale")) is not None:
        out += ['<a id="laplace-scale"></a>', "", "## Job 2 at scale against NUTS", "",
                f"One core each; NUTS capped at {d['cap_seconds']:.0f} s.", ""]
        rows = [("n x p", "draw", "Gibbs ESS/s", "NUTS ESS/s", "ratio", "min tail ESS (Gibbs, NUTS)",
                 "coordinate steps", "max abs z of the means")]
        for s in d["sizes"]:
            o, nu = s["ours"], s["nuts"]
            nuts = f"{nu['ess_per_s']:.1f}" if nu.get("finished") else (
                f"< {nu['ess_per_s_upper_bound']:.1f} (unfinished)")
            ratio = f"{s['ratio']:.1f}x" if "ratio" in s else f"> {s['ratio_at_least']:.1f}x"
            tail = f"{o['min_ess_tail']:,.0f}, {nu['min_ess_tail']:,.0f}" if "min_ess_tail" in nu else (
                f"{o['min_ess_tail']:,.0f}, -")
            z = f"{s['agreement']['max_abs_z']:.2f}" if "agreement" in s else "-"
            rows.append((f"{s['n']} x {s['p']}", o["algorithm"], f"{o['ess_per_s']:,.1f}", nuts, ratio, tail,
                         o["coordinate_steps"], z))
        out += _table(rows)
        if "learned_1000x100" in d:
            lv = d["learned_1000x100"]
            out += ["", f"sigma and tau learned at 1000 x 100: Gibbs {lv['ours']['ess_per_s']:,.0f} ESS/s, NUTS "
                    f"{lv['nuts']['ess_per_s']:,.0f}: **{lv['ratio']:.1f}x**, means within "
                    f"{lv['agreement']['max_abs_z']:.2f} combined MCSE."]
        out += _prov(d)
    if (d := r.get("horseshoe")) is not None:
        out += ['<a id="horseshoe"></a>', "", "## The horseshoe prior against NUTS", "",
                f"sigma and tau learned, no intercept; NUTS non-centred, target acceptance 0.99, capped at "
                f"{d['cap_seconds']:.0f} s. The figure is the smallest bulk ESS over w, tau and sigma. With p >> n "
                "and Jeffreys' prior on sigma^2 the posterior's mass sits on interpolating fits (sigma near 0, tau "
                "large), where neither sampler mixes, so that size has a proper prior.", ""]
        rows = [("n x p", "prior on sigma^2", "Gibbs ESS/s", "NUTS ESS/s", "ratio", "NUTS divergences",
                 "max abs z of the means")]
        for row in d["sizes"]:
            o, nu = row["ours"], row["nuts"]
            nuts = f"{nu['ess_per_s']:.2f}" if nu.get("finished") else (
                f"< {nu['ess_per_s_upper_bound']:.2f} (unfinished)")
            ratio = (f"{row['ratio']:.1f}x" if "ratio" in row else f"> {row['ratio_at_least']:.1f}x"
                     if row["ratio_at_least"] >= 10 else "not measured")
            div = (f"{nu['divergences']} ({nu['divergent_share']:.2%})" if nu.get("finished") else "-")
            z = f"{row['agreement']['max_abs_z']:.2f}" if "agreement" in row else "-"
            prior = "Jeffreys" if not o.get("noise_prior") else "InvGamma({:g}, {:g})".format(*o["noise_prior"])
            rows.append((row["size"], prior, f"{o['ess_per_s']:,.2f}", nuts, ratio, div, z))
        out += _table(rows)
        out += _prov(d)
    if (d := r.get("scale")) is not None:
        out += ['<a id="scale"></a>', "", "## Dask: one worker against two", ""]
        out += _table([("job", "1 worker (s)", "2 workers (s)", "speed-up"),
                       ("2.5 simulation study", f"{d['study_seconds']['1']:.2f}", f"{d['study_seconds']['2']:.2f}",
                        f"{d['study_speedup']:.2f}x"),
                       ("sweep of training runs", f"{d['sweep_seconds']['1']:.2f}", f"{d['sweep_seconds']['2']:.2f}",
                        f"{d['sweep_speedup']:.2f}x")])
        out += ["", "The statistics pass over a glob of CSV files (20 columns, 8 files):", ""]
        out += _table([("rows", "seconds", "rows/s", "peak resident memory"),
                       *[(f"{s['rows']:,}", f"{s['seconds']:.2f}", f"{s['rows_per_s']:,.0f}",
                          f"{s['peak_rss_bytes'] / 2**20:.0f} MiB") for s in d["statistics_pass"]]])
        out += _prov(d)
    if (d := r.get("report_page")) is not None:
        lat, fast, mb = d["latency_ms"], d["latency_ms_full_speed"], d["page_mb"]
        full = f"the full report {mb['full']} MiB, " if mb["full"] else "the full report not measured, "
        out += ['<a id="report-page"></a>', "", "## The report page", "",
                f"{d['machine']} at {d['viewport']} (a phone), every slider of the {len(lat['median_per_view'])} "
                f"views moved by keys; from the input event to the first animation frame after the view has run "
                f"(up to one frame, 16.7 ms, of waiting included). Goal: {d['goal_ms']:g} ms median with the CPU "
                f"slowed {d['cpu_slowdown']}x.", ""]
        out += _table([("CPU", "inputs", "median (ms)", "90th percentile (ms)", "largest (ms)"),
                       (f"slowed {d['cpu_slowdown']}x", lat["inputs"], lat["median"], lat["p90"], lat["max"]),
                       ("full speed", fast["inputs"], fast["median"], fast["p90"], fast["max"])])
        out += ["", "Median per view, CPU slowed: " + ", ".join(f"{v} {ms} ms" for v, ms in
                                                                lat["median_per_view"].items()) + ".", "",
                f"Page elements after 8 and after {LEAK_MOVES + 8} moves of each view's first slider (the slider at "
                f"the same place): growth {d['dom_growth']} (" + ", ".join(
                    f"{v} {a} → {b}" for v, (a, b) in d["dom_elements"].items()) + ").", "",
                f"Page size: {full}the quick report {mb['quick']} MiB (the inlined Vega script {mb['vega_script']} MiB "
                f"of each); {d['network_requests']} network requests."]
        out += _prov(d)
    if (d := r.get("sigmoid_mlp")) is not None:
        out += ['<a id="sigmoid-mlp"></a>', "", "## Job 3: hand backward against torch.autograd", "",
                f"Batch forward and backward, float64, N = {d['N']}, {d['M']} x {d['H']}; largest relative "
                f"difference of the gradients {d['max_relative_difference']:.1e}.", ""]
        out += _table([("threads", "bmnn (ms)", "autograd (ms)", "ratio", "numpy's two products alone (ms)"),
                       *[(v["threads"], f"{v['ours_s'] * 1e3:.1f}", f"{v['autograd_s'] * 1e3:.1f}",
                          f"{v['ratio']:.2f}x", f"{v['numpy_matmul_floor_s'] * 1e3:.1f}")
                         for v in (d["1 thread"], d["all threads"])]])
        out += _prov(d)
    if (d := r.get("scratch_mlp_accuracy")) is not None or r.get("scratch_mlp") is not None:
        out += ['<a id="scratch-mlp"></a>', "", "## Job 4: accuracy and speed", ""]
    if d is not None and "best_seeds" in d:
        b = d["best_seeds"]
        out += [f"Recipe classic (the material's set-up: {d['classic']['epochs']} epochs, lr {d['classic']['lr']}, "
                f"batch {d['classic']['batch_size']}): test accuracy {d['classic']['test_accuracy']}.", "",
                "Recipe best, one run per seed, one thread each, two at a time:", ""]
        out += _table([("seed", *b["seeds"]), ("test accuracy", *(f"{a:.4f}" for a in b["test_accuracy"]))])
        rep = d["reproducibility"]
        out += ["", f"Each run took {b['seconds_per_run'][0]}-{b['seconds_per_run'][1]} s (goal "
                f"{b['goal_accuracy']} in {b['goal_seconds']} s). Anchors: "
                + ", ".join(f"{k} {v}" for k, v in d["anchors"].items()) + ".", "",
                f"Reproducibility: the same seed gives the same weights on the same CPU with the same thread count "
                f"(and on any number of Dask workers), not across machines or thread counts: seed {rep['seed']} gave "
                f"{rep['one_thread']} with one thread and {rep['two_threads']} with two on one machine, "
                f"{rep['another_machine']:.4f} on another."]
        out += _prov(d)
    if (d := r.get("scratch_mlp")) is not None:
        out += [f"Seconds per epoch ({d['images']:,} images, batch {d['batch']}):", ""]
        out += _table([("threads", "hand backward", "autograd", "torch.nn + torch.optim", "bare products",
                        "hand / torch.nn", "hand / products"),
                       *[(v["threads"], *(f"{v['seconds_per_epoch'][k]:.3f}" for k in
                                          ("hand", "autograd", "torch.nn", "floor")),
                          f"{v['hand_over_torch_nn']:.2f}x", f"{v['hand_over_floor']:.2f}x")
                         for v in (d["1 thread"], d["all threads"])]])
        out += _prov(d)
    return "\n".join(out).rstrip() + "\n"
