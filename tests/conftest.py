from pathlib import Path

import numpy as np
import pytest


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
