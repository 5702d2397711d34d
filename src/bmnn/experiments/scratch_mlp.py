"""Job 4: the from-scratch MLP trained on the real Fashion-MNIST, both recipes, as one record with its figures.

A finished run with the report's settings is reused, so the full report does not retrain; a user's run is never
written over (see :func:`_run`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from bmnn._checks import DataFileError, InputError
from bmnn.experiments.records import (
    Record,
    ScratchMlpData,
    holds,
)

ANCHORS = [
    ("human performance (data set authors)", 0.835),
    ("scikit-learn MLPClassifier (about)", 0.87),
    ("MLP 256-128-100 (data set benchmark table)", 0.8833),
    ("the same architecture without torch.nn, one core, 280 s (reference runs)", 0.9071),
]


#: the file that marks a run folder as the report's own: only such a folder may be overwritten by the report
REPORT_MARK = ".made-by-bmnn-report"


def _made_by_report(folder: Path, saved: dict | None) -> bool:
    """Whether the run in ``folder`` is the report's own: its mark names exactly the settings of the run there (a
    user who trained over it since, with other settings, made it theirs). An unreadable run under a mark is the
    report's too."""
    try:
        marked = json.loads((folder / REPORT_MARK).read_text())
    except (OSError, ValueError):
        return False
    return saved is None or marked == saved


def _run(recipe: str, overrides: dict, arrays, out: Path, log):
    """Train ``recipe`` for the report, never touching a run that is not the report's own.

    The first of ``out``, ``out-2``, ``out-3``, ... that is usable is used: a folder with no run (a new run), a
    run with exactly these settings (reused when finished, resumed when interrupted), or a folder the report
    made itself (its old run, with other settings, is replaced). A user's run with other settings is passed over.
    """
    from bmnn._files import atomic_write
    from bmnn.scratch_mlp import runs
    from bmnn.scratch_mlp.config import differences, make_config
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint
    from bmnn.scratch_mlp.train import train

    cfg = make_config(recipe, **overrides)
    for k in range(1, 1000):
        folder = out if k == 1 else out.with_name(f"{out.name}-{k}")
        state = runs.run_state(folder)
        mode = "new"
        if state is not None:
            try:
                saved = runs.load_checkpoint(folder / runs.CHECKPOINT, resumable=True)["config"]
                mode = "resume" if not differences(saved, cfg) else "other"
            except runs.CheckpointError:
                saved, mode = None, "other"
            if mode == "other" and _made_by_report(folder, saved):
                mode = "overwrite"
        if mode == "other":
            log(f"{folder} holds {state} with other settings: left alone")
            continue
        with runs.run_lock(folder):
            if mode != "resume":  # the mark names the settings the report trained with
                atomic_write(folder / REPORT_MARK, json.dumps(dataclasses.asdict(cfg)))
            ck = train(cfg, arrays, folder, resume=mode == "resume", overwrite=mode == "overwrite", log=log,
                       progress=False)
        return cfg, ck, evaluate_checkpoint(ck, arrays)
    raise InputError(f"no usable run folder next to {out}: {out}-2 to {out}-999 all hold other runs")


def q4_mlp(quick: bool = False, data_dir=None, runs_dir: str | Path = "runs", log=None) -> Record:
    """4: implement, train and plot; both recipes, test accuracy against the anchors."""
    from bmnn.datasets import FASHION_CLASSES, load_fashion_mnist

    log = log or (lambda *_: None)
    try:
        arrays = load_fashion_mnist(data_dir)
    except DataFileError as exc:
        return Record(id="4", title="An MLP from scratch on Fashion-MNIST",
                      statement="Implement the 784-256-10 MLP without torch.nn, train it, plot training progress.",
                      answer=f"Not run: {exc}",
                      checks=[holds("Fashion-MNIST is available", False, value=str(exc)[:120], expected="found")])
    runs = Path(runs_dir)
    classic = {"epochs": 3} if quick else {}
    best = {"epochs": 3} if quick else {}
    cfg_c, ck_c, m_c = _run("classic", classic, arrays, runs / ("classic-quick" if quick else "classic"), log)
    cfg_b, ck_b, m_b = _run("best", best, arrays, runs / ("best-quick" if quick else "best"), log)
    secs_b = sum(h["seconds"] for h in ck_b["history"])
    wrong = np.flatnonzero(m_b["pred"] != arrays["y_test"])[:8]
    right = np.flatnonzero(m_b["pred"] == arrays["y_test"])[:8]
    show = np.concatenate([right, wrong])
    checks = [
        holds("no `torch.nn` / `torch.optim` in `bmnn.scratch_mlp` (checked by parsing its source)",
              not package_torch_uses(), value=", ".join(package_torch_uses()) or "none", expected="none"),
        holds("classic recipe learns (test accuracy > 0.75)", m_c["accuracy"] > 0.75, value=f"{m_c['accuracy']:.4f}"),
    ]
    if not quick:
        checks += [
            holds("classic recipe: 0.83 <= test accuracy <= 0.87 (the material's set-up)",
                  0.83 <= m_c["accuracy"] <= 0.87, value=f"{m_c['accuracy']:.4f}", expected="0.84-0.85 typical"),
            holds("best recipe: test accuracy >= 0.91", m_b["accuracy"] >= 0.91, value=f"{m_b['accuracy']:.4f}",
                  expected=">= 0.91"),
            holds("best recipe: at most 5 minutes of training", secs_b <= 300, value=f"{secs_b:.0f} s",
                  expected="<= 300 s"),
        ]
    rows = [[name, f"{acc:.4f}"] for name, acc in ANCHORS]
    rows += [[f"bmnn classic ({cfg_c.epochs} epochs)", f"{m_c['accuracy']:.4f}"],
             [f"bmnn best ({cfg_b.epochs} epochs, {secs_b:.0f} s), seed 0", f"{m_b['accuracy']:.4f}"]]
    seeds = seed_spread(runs / SWEEP_FOLDER, cfg_b.epochs) if not quick else None
    if seeds is not None:
        rows.append([f"bmnn best, mean +- sd over {len(seeds['test_acc'])} seeds (bmnn sweep; each run "
                     f"{seeds['seconds']:.0f} s on average, one thread)", f"{seeds['mean']:.4f} +- {seeds['sd']:.4f}"])
        checks.append(holds(f"best recipe: mean test accuracy over {len(seeds['test_acc'])} seeds >= 0.91",
                            seeds["mean"] >= 0.91, value=f"{seeds['mean']:.4f} +- {seeds['sd']:.4f}",
                            expected=">= 0.91"))
    return Record(
        id="4", title="An MLP from scratch on Fashion-MNIST",
        statement=("Implement an MLP for image classification (784 inputs, 256 ReLU hidden units, 10 outputs, "
                    "softmax, cross-entropy, SGD, weights N(0, 0.01^2), zero biases) without any torch.nn API, train "
                    "it on Fashion-MNIST, and plot the training progress."),
        answer=("Parameters are plain tensors; the layers, a log-sum-exp cross-entropy that picks each row's true "
                "class, a hand-written backward (softmax minus one-hot, then the matrix products) and SGD are written "
                "in `bmnn.scratch_mlp`. The classic recipe is the material's set-up; the best recipe keeps the "
                "architecture and trains it better: the table below lists what it changes. Its training loss stays "
                "above its test loss because it is measured on moved (augmented) images, with dropout and label "
                "smoothing, averaged over each epoch while the weights improve; the test loss is measured on the "
                "plain test images with the epoch's final (averaged) weights."),
        values={"classic: test accuracy": m_c["accuracy"], "classic: test loss": m_c["loss"],
                "best: test accuracy": m_b["accuracy"], "best: test loss": m_b["loss"],
                "best: seconds of training": secs_b, "best: epochs": cfg_b.epochs},
        table={"columns": ["model", "test accuracy"], "rows": rows},
        tables=[{"title": "What the best recipe changes from the material's set-up",
                 "columns": ["setting", "the material", "best recipe", "what it does"],
                 "rows": _changes(cfg_c, cfg_b)}],
        checks=checks,
        data=ScratchMlpData(classic=ck_c["history"], best=ck_b["history"], confusion=m_b["confusion"],
                            classes=FASHION_CLASSES, images=arrays["x_test"][show], pred=m_b["pred"][show],
                            true=arrays["y_test"][show], proba=m_b["proba"][show], index=show),
    )


def _changes(classic, best) -> list[list[str]]:
    """The settings in which the best recipe's run differs from the classic one (the material's set-up), one row
    each: the setting's name (as ``--set`` takes it), its two values, and what it means (the settings table's
    words)."""
    from bmnn.scratch_mlp import config as C

    skip = {"recipe", "seed", "threads", "device", "validation"}

    def show(v):  # truth values in words
        return ("yes" if v else "no") if isinstance(v, bool) else str(v)

    return [[f"`{name}`", show(getattr(classic, name)), show(getattr(best, name)), C.FIELDS[name].metadata["meaning"]]
            for name in C.FIELDS if name not in skip and getattr(classic, name) != getattr(best, name)]


#: where ``bmnn sweep --recipe best --out runs/sweep-best`` puts the sweep the report reads (README: make sweep)
SWEEP_FOLDER = "sweep-best"


def seed_spread(folder: Path, epochs: int) -> dict | None:
    """The best recipe's test accuracy over seeds from a sweep's ``sweep.json`` (its runs of the recipe as it is,
    at ``epochs`` epochs), if there is one with at least 5 seeds; else None."""
    import json
    import statistics

    try:
        doc = json.loads((folder / "sweep.json").read_text())
        runs = [r for r in doc["runs"] if doc["recipe"] == "best" and not r["settings"] and r["epochs"] == epochs]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(runs) < 5:
        return None
    accs = [r["test_acc"] for r in runs]
    return {"test_acc": accs, "mean": statistics.fmean(accs), "sd": statistics.stdev(accs),
            "seconds": statistics.fmean(r["seconds"] for r in runs)}


def forbidden_torch_uses(source: str, name: str = "<source>") -> list[str]:
    """Every import of ``torch.nn`` / ``torch.optim`` (or ``from torch import nn, optim``) and every attribute use
    ``torch.nn`` / ``torch.optim`` in Python ``source``, found by parsing it (not by searching the text)."""
    import ast

    banned = ("torch.nn", "torch.optim")
    hits = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Import):
            hits += [f"{name}:{node.lineno}: import {a.name}" for a in node.names if a.name.startswith(banned)]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if mod.startswith(banned) or (mod == "torch" and any(a.name in ("nn", "optim") for a in node.names)):
                hits.append(f"{name}:{node.lineno}: from {mod} import ...")
        elif (isinstance(node, ast.Attribute) and node.attr in ("nn", "optim")
              and isinstance(node.value, ast.Name) and node.value.id == "torch"):
            hits.append(f"{name}:{node.lineno}: torch.{node.attr}")
    return hits


def package_torch_uses() -> list[str]:
    """:func:`forbidden_torch_uses` over every module of ``bmnn.scratch_mlp``."""
    import bmnn.scratch_mlp as pkg

    return [hit for path in sorted(Path(pkg.__file__).parent.glob("*.py"))
            for hit in forbidden_torch_uses(path.read_text(), path.name)]


def run(quick: bool = False, data_dir=None, runs_dir: str | Path = "runs", log=None) -> list[Record]:
    """The job-4 record."""
    return [q4_mlp(quick, data_dir, runs_dir, log)]
