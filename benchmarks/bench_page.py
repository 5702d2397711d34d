"""The report page on a slow phone: headless Chromium (Debian's package) at 390 x 844 with the CPU slowed 4x
(``Emulation.setCPUThrottlingRate``), and at full speed for reference, in one run.

Latency: every range slider of every view moved by key presses (real input events), 20 moves each; for each, the
time from the input event to the first animation frame after the view's dataflow has run (so it includes up to one
frame, 16.7 ms, of waiting). DOM growth: each view's first slider moved back and forth; the page's element count
with the slider at the same place after 8 moves and ``LEAK_MOVES`` moves later (a leak grows it). Page size: the
quick report built here, and the full report at ``--full PATH`` if given (``make report`` writes
``report/index.html``).

    cd benchmarks && ../.venv/bin/python bench_page.py [--full ../report/index.html]

Last line: "median <ms> ms per slider move with the CPU slowed 4x (goal 50 ms)".
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import save

from bmnn.bench_results import LEAK_MOVES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
GOAL_MS = 50.0
MOVES = 20
RATE = 4


def _latency(page, moves: int) -> dict[str, list[float]]:
    page.evaluate("""() => { window.benchLatency = [];
        document.addEventListener('input', (e) => {
          const view = window.bmnnViews[e.target.closest('.vega').id];
          const t0 = e.timeStamp;
          view.runAsync().then(() => requestAnimationFrame(() => window.benchLatency.push(
            [e.target.closest('.vega').id, performance.now() - t0])));
        }); }""")
    for vid in page.evaluate("Object.keys(window.bmnnViews)"):
        names = page.evaluate(f"Array.from(document.querySelectorAll('#{vid} input[type=range]')).map(i => i.name)")
        for name in names:
            box = page.locator(f"#{vid} input[name='{name}']")
            box.focus()
            page.keyboard.press("Home")
            for i in range(moves):
                page.keyboard.press("ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft")
                page.evaluate(f"window.bmnnViews['{vid}'].runAsync().then(() => new Promise(r => "
                              "requestAnimationFrame(() => requestAnimationFrame(r)))).then(() => null)")
    per_view: dict[str, list[float]] = {}
    for vid, ms in page.evaluate("window.benchLatency"):
        per_view.setdefault(vid, []).append(ms)
    return per_view


def _growth(page) -> dict[str, list[int]]:
    out = {}
    count = "document.getElementsByTagName('*').length"
    for vid in page.evaluate("Object.keys(window.bmnnViews)"):
        page.locator(f"#{vid} input[type=range]").first.focus()
        page.keyboard.press("Home")
        sizes = []
        for i in range(LEAK_MOVES + 8):
            page.keyboard.press("ArrowRight" if (i // 4) % 2 == 0 else "ArrowLeft")
            page.evaluate(f"window.bmnnViews['{vid}'].runAsync().then(() => null)")
            if i in (7, LEAK_MOVES + 7):
                sizes.append(page.evaluate(count))
        out[vid] = sizes
    return out


def _summary(per_view: dict[str, list[float]]) -> dict:
    every = sorted(ms for v in per_view.values() for ms in v)
    return {"median": round(statistics.median(every), 1),
            "p90": round(every[int(0.9 * (len(every) - 1))], 1), "max": round(every[-1], 1), "inputs": len(every),
            "median_per_view": {v: round(statistics.median(ms), 1) for v, ms in per_view.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", type=Path, help="the full report's index.html, to record its size")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from bmnn.cli import main as bmnn
    from bmnn.report import interactive

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        assert bmnn(["report", "--quick", "--out", str(out), "--runs", str(out / "runs")]) == 0
        page_path = out / "index.html"
        quick_mb = page_path.stat().st_size / 2**20
        result = {"machine": "", "goal_ms": GOAL_MS, "cpu_slowdown": RATE, "viewport": "390 x 844"}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            result["machine"] = f"headless Chromium {browser.version}"
            requests = []
            for rate in (1, RATE):
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else requests.append(r.url))
                cdp = page.context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                page.goto(page_path.as_uri(), wait_until="load")
                page.evaluate("window.bmnnReady.then(() => null)")
                result["latency_ms" if rate == RATE else "latency_ms_full_speed"] = _summary(_latency(page, MOVES))
                if rate == RATE:
                    result["dom_elements"] = _growth(page)
                page.close()
            browser.close()
    result["dom_growth"] = max(b - a for a, b in result["dom_elements"].values())
    result["page_mb"] = {"quick": round(quick_mb, 2),
                         "full": round(args.full.stat().st_size / 2**20, 2) if args.full else None,
                         "vega_script": round(len(interactive.script().encode()) / 2**20, 2)}
    result["network_requests"] = len(requests)
    save("report_page", result)
    lat = result["latency_ms"]
    print(f"per view (ms, slowed {RATE}x): {lat['median_per_view']}; DOM growth over {LEAK_MOVES} moves: "
          f"{result['dom_growth']} elements; page {result['page_mb']} MiB")
    print(f"median {lat['median']} ms per slider move with the CPU slowed {RATE}x (goal {GOAL_MS:.0f} ms)")


if __name__ == "__main__":
    main()
