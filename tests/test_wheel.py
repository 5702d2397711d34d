"""The wheel, built offline from this checkout and installed outside it, works from an empty folder: the README's
command-line examples give the same output as here, ``bmnn report --quick`` runs, and the package data (report
template, measured figures, licence) are inside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder with the wheel's bmnn, the wheel's path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q",
                    "-w", str(tmp / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("bmnn-*.whl")
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return site, wheel


def _run(site: Path, args: list[str], cwd: Path, stdin: str = "", timeout: int = 600):
    """``python -m bmnn ARGS`` with the wheel's bmnn first and this environment's dependencies, no site hooks (so
    the checkout's editable install is not seen)."""
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), deps])}
    return subprocess.run([sys.executable, "-S", "-m", "bmnn", *args], cwd=cwd, env=env, input=stdin, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.slow
def test_the_wheel_holds_its_data_and_metadata(installed):
    site, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "bmnn/report/page.html.j2" in names and "bmnn/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    results = sorted(p.name for p in (ROOT / "src" / "bmnn" / "results").glob("*.json"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("bmnn/results/")) == results
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta and "Classifier: Intended Audience :: Education" in meta
    assert "pip install bmnn" in meta and "](docs/" not in meta  # a description with no links into the checkout
    code = ("import bmnn, bmnn.report, bmnn.bench_results as b; print(bmnn.__file__); "
            "print(b.RESULTS)")
    deps = sysconfig.get_paths()["purelib"]
    out = subprocess.run([sys.executable, "-S", "-c", code], env={**os.environ, "PYTHONPATH": f"{site}:{deps}"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith(str(site)) and out[1].startswith(str(site))


@pytest.mark.slow
def test_the_readmes_examples_give_the_same_output_from_the_wheel(installed, tmp_path):
    site, _ = installed
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\$ echo \"1 2 3 4\" \| bmnn gaussian (.*?)\n(.*?)\n\n", readme, re.S)
    args, expected = block.group(1).split(), block.group(2)
    p = _run(site, ["gaussian", *args], tmp_path, stdin="1 2 3 4\n")
    assert p.returncode == 0 and p.stdout.strip() == expected.strip()
    for line in re.findall(r"^\$ bmnn (lasso .*|gradcheck .*)$", readme, re.M):
        p = _run(site, line.split(), tmp_path)
        assert p.returncode == 0 and p.stderr == "", (line, p.stderr)
    assert sorted(os.listdir(tmp_path)) == []  # nothing written where the examples ran


@pytest.mark.slow
@pytest.mark.data
def test_the_quick_report_runs_from_an_empty_folder(installed, tmp_path):
    site, _ = installed
    p = _run(site, ["report", "--quick", "--strict"], tmp_path, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    page = (tmp_path / "report" / "index.html").read_text()
    assert '<meta name="generator" content="bmnn ' in page
    for name in ("laplace", "sigmoid_mlp", "scratch_mlp"):  # the speed figures shipped in the wheel are shown
        if (ROOT / "src" / "bmnn" / "results" / f"{name}.json").exists():
            assert 'id="speed"' in page
    if (ROOT / "src" / "bmnn" / "results" / "laplace_scale.json").exists():
        assert "ours: min bulk" in page and "ESS</abbr>/s" in page  # the 2.S table (terms defined in place)
