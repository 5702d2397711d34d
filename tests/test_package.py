"""Package-level promises: a light import, a typed package."""

import subprocess
import sys
from pathlib import Path

import bmnn


def test_import_does_not_pull_in_torch_or_matplotlib():
    code = "import sys, bmnn, bmnn.gaussian; print(any(m in sys.modules for m in ('torch', 'matplotlib')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_py_typed_marker_and_version():
    assert (Path(bmnn.__file__).parent / "py.typed").exists()
    assert bmnn.__version__.count(".") == 2
