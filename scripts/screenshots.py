"""The report's screenshots in docs/: the page's top on a laptop (1400 x 900), job 1's view on a laptop, and the
same view on a phone (390 x 844, twice the pixel density), taken in headless Chromium (Debian's package) from a page
bmnn wrote.

    .venv/bin/python scripts/screenshots.py [PAGE]

PAGE defaults to a quick report built in a temporary folder. Each image is written only where docs/ holds no file
of that name or one this script wrote (its PNG text chunk names bmnn).
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: name -> (viewport, device pixel ratio, where: an element to show, or None for the page's top)
SHOTS = {
    "report.png": ({"width": 1400, "height": 900}, 1, None),
    "interactive.png": ({"width": 1400, "height": 900}, 1, "#view-job1"),
    "report-phone.png": ({"width": 390, "height": 844}, 2, "#view-job1"),
}


def _ours(path: Path) -> bool:
    from PIL import Image

    try:
        return "bmnn" in Image.open(path).info.get("Software", "")
    except OSError:
        return False


def _save(png: bytes, path: Path) -> None:
    from PIL import Image, PngImagePlugin

    from bmnn import __version__
    from bmnn._files import atomic_write

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"bmnn {__version__} scripts/screenshots.py")
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True, pnginfo=info)
    atomic_write(path, buf.getvalue(), owned=_ours)


def shoot(page_path: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, (viewport, scale, where) in SHOTS.items():
            page = browser.new_page(viewport=viewport, device_scale_factor=scale)
            page.goto(page_path.as_uri(), wait_until="load")
            page.evaluate("window.bmnnReady.then(() => null)")
            if where:  # the view's figure, from its caption on, as far as the screen reaches
                page.locator(where).locator("xpath=..").scroll_into_view_if_needed()
                page.evaluate(f"document.querySelector('{where}').closest('figure').scrollIntoView()")
            _save(page.screenshot(), DOCS / name)
            written.append(DOCS / name)
            page.close()
        browser.close()
    return written


def main(argv: list[str]) -> int:
    if argv:
        paths = shoot(Path(argv[0]).resolve())
    else:
        from bmnn.cli import main as bmnn

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            if bmnn(["report", "--quick", "--out", str(out), "--runs", str(out / "runs")]) != 0:
                return 1
            paths = shoot(out / "index.html")
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
