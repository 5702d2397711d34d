"""Where the benchmarks' result files live and how they are read and written: one schema, shared by the scripts
in ``benchmarks/`` (which write them) and the report (which shows them). A leaf: imports only ``_files``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bmnn._files import atomic_write

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def write(name: str, result: dict[str, Any], folder: Path = RESULTS) -> Path:
    """``folder/NAME.json``, written atomically (strict JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write(folder / f"{name}.json", json.dumps(result, indent=2, allow_nan=False))


def read(name: str, folder: Path = RESULTS) -> dict[str, Any] | None:
    """The result ``name`` if it was written and is readable, else ``None``."""
    path = folder / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
