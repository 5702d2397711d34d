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
