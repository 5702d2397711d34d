from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# for make mutation: the same examples on every run, and none remembered between runs
settings.register_profile("mutation", derandomize=True, database=None, print_blob=False)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory) -> Path:
    """``bmnn report --quick`` written once per session; its index.html path."""
    from bmnn.cli import main

    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--quick", "--strict", "--out", str(out), "--runs", str(out / "runs")]) == 0
    return out / "index.html"


def write_tiny_set(folder: Path, n_train: int = 500, n_test: int = 200) -> dict[str, str]:
    """A learnable synthetic data set in Fashion-MNIST's file format in ``folder``; returns the files' SHA-256."""
    import gzip
    import hashlib

    from tests.test_idx import idx_bytes

    rng = np.random.default_rng(0)
    protos = rng.integers(0, 256, size=(10, 28, 28))
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, 10, size=n)
        x = np.clip(protos[y] + rng.normal(0, 50, size=(n, 28, 28)), 0, 255).astype(np.uint8)
        for name, arr in ((f"{split}-images-idx3-ubyte", x), (f"{split}-labels-idx1-ubyte", y.astype(np.uint8))):
            raw = idx_bytes(arr)
            hashes[name] = hashlib.sha256(raw).hexdigest()
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
    return hashes


@pytest.fixture
def tiny_dir(tmp_path, monkeypatch):
    """A learnable synthetic data set in the real files' format, with the hash table pointed at it."""
    import bmnn.datasets as ds

    folder = tmp_path / "data"
    monkeypatch.setattr(ds, "FASHION_MNIST", write_tiny_set(folder))
    return folder


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's package, driven by Playwright), one per test module."""
    import shutil

    from tests.test_browser import CHROMIUM, FLAGS

    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed: make setup installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
