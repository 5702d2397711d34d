"""Job 4's sweeps: one full training run per (setting, seed), as Dask tasks (:mod:`bmnn.cluster`), one thread each.

Every run has its own folder ``OUT/<setting>/seed-<k>`` and is exactly ``bmnn train --recipe R --seed k --set ...
--threads 1`` into it: a finished run with the same settings is reused, an interrupted one resumed (so a sweep that
was stopped, or whose worker died and whose task Dask retried, ends with the same results), and a folder holding a
run with other settings is refused. The run's seed is the user's seed, so any run can be reproduced on its own.
``sweep.json`` (written atomically) lists every run and, per setting, the mean and sd of the test accuracy over the
seeds; ``sweep.png`` shows every seed's point and the mean +- sd.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import statistics
from pathlib import Path
from typing import Any

from bmnn._checks import InputError


def parse_seeds(text: str) -> list[int]:
    """``"0-4"``, ``"3"`` or ``"0,2,7"`` (ranges and lists may mix) -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"([0-9]{1,19})(?:-([0-9]{1,19}))?", part)
        if not m:
            shown = repr(text) if len(text) <= 60 else repr(text[:60]) + "..."
            raise InputError(f"seeds must be numbers or ranges like 0-4, separated by commas; got {shown}",
                             param="seeds")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo or hi - lo > 10_000:
            raise InputError(f"the seed range {part!r} must go up, by at most 10000 seeds", param="seeds")
        seeds += [k for k in range(lo, hi + 1) if k not in seeds]
    return seeds


def parse_grid(texts: list[str]) -> list[dict[str, Any]]:
    """``["dropout=0.1,0.2", "augment=cross"]`` -> every combination of the values, each a dict of settings (typed
    and checked against the settings table)."""
    from bmnn.scratch_mlp.config import parse_setting

    axes = []
    for text in texts:
        key, sep, raw = text.partition("=")
        if not sep:
            raise InputError(f"expected KEY=V1,V2,..., got {text!r}", param="set")
        if key.strip().replace("-", "_") == "seed":
            raise InputError("seeds are given separately (the list of seeds), not as a setting", param="set")
        values = [parse_setting(f"{key}={v}") for v in raw.split(",")]
        name = values[0][0]
        if name in [axis[0][0] for axis in axes]:
            raise InputError(f"{name} is given twice; give all its values once, as {name}=V1,V2", param="set")
        seen = [v for _, v in values]
        twice = next((v for i, v in enumerate(seen) if v in seen[:i]), _NONE)
        if twice is not _NONE:
            raise InputError(f"{name} lists the value {twice!r} twice ({raw.strip()!r}): each run would be made "
                             "twice", param="set")
        axes.append(values)
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


_NONE = object()


def is_sweep_json(path: Path) -> bool:
    """Whether ``path`` is a ``sweep.json`` that bmnn wrote."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and {"recipe", "seeds", "runs", "summary"} <= set(doc)


def label(settings: dict[str, Any]) -> str:
    """A folder name for a setting: ``dropout=0.1_augment=cross`` (``recipe`` for the recipe as it is)."""
    if not settings:
        return "recipe"
    return "_".join(f"{k}={v}" for k, v in settings.items()).replace("/", "-").replace("+", "plus")


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One training run (a Dask task): train or reuse or resume, then evaluate on the test set."""
    from bmnn.scratch_mlp import runs
    from bmnn.scratch_mlp.config import make_config
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint
    from bmnn.scratch_mlp.train import train

    cfg = make_config(task["recipe"], **task["settings"], seed=task["seed"], threads=1)
    folder = Path(task["folder"])
    arrays = _data(task["data_dir"], tuple(sorted(task["hashes"].items())))
    ck = train(cfg, arrays, folder, resume=runs.run_state(folder) is not None, log=lambda *_: None, progress=False)
    m = evaluate_checkpoint(ck, arrays)
    return {"settings": task["settings"], "label": task["label"], "seed": task["seed"], "folder": str(folder),
            "test_acc": m["accuracy"], "test_loss": m["loss"], "epochs": ck["epoch"],
            "seconds": sum(h["seconds"] for h in ck["history"])}


@functools.lru_cache(maxsize=2)
def _data(data_dir, hashes: tuple):
    """The data set, loaded and verified once per worker process, not once per run."""
    from bmnn.datasets import load_fashion_mnist

    return load_fashion_mnist(data_dir, hashes=dict(hashes))


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: the seeds' test accuracies, their mean and sd (sd undefined, None, for one seed)."""
    out = []
    for lab in dict.fromkeys(r["label"] for r in results):
        accs = [r["test_acc"] for r in results if r["label"] == lab]
        out.append({"label": lab, "settings": next(r["settings"] for r in results if r["label"] == lab),
                    "seeds": [r["seed"] for r in results if r["label"] == lab], "test_acc": accs,
                    "mean": statistics.fmean(accs), "sd": statistics.stdev(accs) if len(accs) > 1 else None})
    return out


def sweep(recipe: str, seeds: list[int], grid: list[dict[str, Any]], out: str | Path, data_dir=None,
          scheduler: str | None = None, workers: int | None = None, log=print) -> dict[str, Any]:
    """Run every (setting, seed) of ``grid`` x ``seeds`` as tasks; write and return ``sweep.json``'s content."""
    from bmnn import cluster, plots
    from bmnn._files import atomic_write, refuse_foreign, writable_folder
    from bmnn.datasets import FASHION_MNIST, locate_fashion_mnist
    from bmnn.scratch_mlp.config import make_config
    from bmnn.scratch_mlp.train import resolve_device

    out = writable_folder(out, "sweep folder")
    refuse_foreign(out / "sweep.json", is_sweep_json)  # before any task: a user's file of these names stays
    earlier = {"sweep.png"} if (out / "sweep.json").exists() else set()  # the figure of an earlier sweep here
    refuse_foreign(out / "sweep.png", lambda p: p.name in earlier or plots.is_bmnn_png(p))
    for settings in grid:  # every setting and seed checked here, before any task starts
        for k in seeds:
            resolve_device(make_config(recipe, **settings, seed=k, threads=1).device)
    labels = [label(s) for s in grid]
    if len(set(labels)) != len(labels):
        twice = next(lab for i, lab in enumerate(labels) if lab in labels[:i])
        raise InputError(f"two settings would share the folder {twice!r}; give each value once", param="set")
    locate_fashion_mnist(data_dir)
    tasks = [{"recipe": recipe, "settings": s, "label": label(s), "seed": k, "data_dir": data_dir,
              "hashes": dict(FASHION_MNIST), "folder": str(out / label(s) / f"seed-{k}")}
             for s in grid for k in seeds]
    log(f"sweep: {len(tasks)} runs of recipe {recipe!r} ({len(grid)} settings x {len(seeds)} seeds) into {out}")
    with cluster.client(scheduler, workers) as c:
        results = cluster.map_ordered(c, run_one, tasks)
    doc = {"recipe": recipe, "seeds": seeds, "runs": results, "summary": summarize(results)}
    atomic_write(out / "sweep.json", json.dumps(doc, indent=1, allow_nan=False), owned=is_sweep_json)
    plots.save_png(plots.sweep_summary(doc["summary"], recipe).figure, out / "sweep.png",
                   owned=lambda p: p.name in earlier or plots.is_bmnn_png(p))
    return doc
