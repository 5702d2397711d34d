"""Sweeps of job 4 on an embedded 2-worker Dask LocalCluster: the same weights as the same runs done one after
another, the same results after a worker is killed mid-sweep, ordered seed streams, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

import bmnn.datasets as ds
from bmnn import cluster
from bmnn.cli import main
from bmnn.experiments.sweep import label, parse_grid, parse_seeds, run_one, summarize, sweep


def test_seed_and_grid_parsing():
    assert parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    assert parse_seeds("5") == [5]
    for bad in ("a", "3-1", "1-2-3", ""):
        with pytest.raises(ds.InputError):
            parse_seeds(bad)
    grid = parse_grid(["dropout=0.1,0.2", "augment=cross,none"])
    assert grid == [{"dropout": 0.1, "augment": "cross"}, {"dropout": 0.1, "augment": "none"},
                    {"dropout": 0.2, "augment": "cross"}, {"dropout": 0.2, "augment": "none"}]
    assert parse_grid([]) == [{}] and label({}) == "recipe"
    assert label({"augment": "flip+shift"}) == "augment=flipplusshift"
    with pytest.raises(ds.InputError, match="dropout must be in"):
        parse_grid(["dropout=0.1,1.5"])
    with pytest.raises(ds.InputError, match="seeds are given separately"):
        parse_grid(["seed=1,2"])


def test_seed_streams_are_independent_of_scheduling():
    a = cluster.seed_streams(20261127, 6)
    assert a == cluster.seed_streams(20261127, 6) and len(set(a)) == 6
    assert a[:3] == cluster.seed_streams(20261127, 3)  # task i's stream does not depend on how many tasks follow


def test_summary_mean_and_sd():
    runs = [{"label": "a", "settings": {}, "seed": s, "test_acc": v} for s, v in enumerate([0.8, 0.9, 0.85])]
    (s,) = summarize(runs)
    assert s["mean"] == pytest.approx(0.85) and s["sd"] == pytest.approx(0.05) and s["seeds"] == [0, 1, 2]
    assert summarize(runs[:1])[0]["sd"] is None


def _serial(tiny_dir, out, recipe, seeds, settings):
    return [run_one({"recipe": recipe, "settings": settings, "label": label(settings), "seed": k,
                     "data_dir": str(tiny_dir), "hashes": dict(ds.FASHION_MNIST), "folder": str(out / f"s{k}")})
            for k in seeds]


@pytest.mark.slow
def test_a_sweep_on_two_workers_equals_the_runs_done_one_after_another(tiny_dir, tmp_path):
    settings = {"epochs": 1, "batch_size": 50}
    serial = _serial(tiny_dir, tmp_path / "serial", "classic", [3, 4], settings)
    doc = sweep("classic", [3, 4], [settings], tmp_path / "sweep", data_dir=str(tiny_dir), workers=2, log=lambda *_: 0)
    assert [r["seed"] for r in doc["runs"]] == [3, 4]
    for a, b in zip(serial, doc["runs"], strict=True):
        wa = torch.load(os.path.join(a["folder"], "checkpoint.pt"), weights_only=True)
        wb = torch.load(os.path.join(b["folder"], "checkpoint.pt"), weights_only=True)
        for k in ("W1", "b1", "W2", "b2"):
            assert torch.equal(wa[k], wb[k]), k
        assert a["test_acc"] == b["test_acc"]
    on_disk = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert on_disk["summary"][0]["mean"] == pytest.approx(np.mean([r["test_acc"] for r in serial]))
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 0


@pytest.mark.slow
def test_killing_a_worker_mid_sweep_still_gives_the_same_results(tiny_dir, tmp_path):
    settings = {"epochs": 60, "batch_size": 25}
    serial = _serial(tiny_dir, tmp_path / "serial", "classic", [0, 1], settings)
    killed = []

    def kill_one_worker_once_training():
        deadline = time.time() + 60
        while time.time() < deadline:
            ck = list((tmp_path / "sweep").glob("*/seed-*/checkpoint.pt"))
            if ck:
                pids = [int(p.read_text().split()[1]) for p in (tmp_path / "sweep").glob("*/seed-*/.bmnn.lock")
                        if p.read_text().strip()]
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return
            time.sleep(0.02)

    t = threading.Thread(target=kill_one_worker_once_training)
    t.start()
    doc = sweep("classic", [0, 1], [settings], tmp_path / "sweep", data_dir=str(tiny_dir), workers=2,
                log=lambda *_: 0)
    t.join()
    assert killed, "no worker was killed: the runs ended too fast for the test"
    for a, b in zip(serial, doc["runs"], strict=True):
        wa = torch.load(os.path.join(a["folder"], "checkpoint.pt"), weights_only=True)
        wb = torch.load(os.path.join(b["folder"], "checkpoint.pt"), weights_only=True)
        for k in ("W1", "b1", "W2", "b2"):
            assert torch.equal(wa[k], wb[k]), k


def test_cli_refuses_bad_sweeps_in_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for argv, message in [(["sweep", "--seeds", "4-1"], "--seeds: the seed range '4-1'"),
                          (["sweep", "--set", "dropout=0.1,2"], "--set: dropout must be in"),
                          (["sweep", "--set", "nope=1,2"], "--set: unknown training setting 'nope'"),
                          (["sweep", "--out", str(tmp_path / "afile")], "--out: sweep folder"),
                          (["sweep", "--workers", "0"], "--workers")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.splitlines()) == 1, err


def test_the_report_reads_the_seed_spread_of_a_sweep_of_the_best_recipe(tmp_path):
    from bmnn.experiments.scratch_mlp import seed_spread

    runs = [{"settings": {}, "epochs": 420, "test_acc": a, "seconds": 300.0 + i, "seed": i}
            for i, a in enumerate([0.911, 0.909, 0.913, 0.910, 0.912])]
    (tmp_path / "sweep.json").write_text(json.dumps({"recipe": "best", "runs": runs}))
    s = seed_spread(tmp_path, 420)
    assert s["mean"] == pytest.approx(0.911) and s["sd"] == pytest.approx(np.std([0.911, 0.909, 0.913, 0.910, 0.912],
                                                                                 ddof=1))
    assert seed_spread(tmp_path, 10) is None  # other epochs: not the recipe as the report trains it
    (tmp_path / "sweep.json").write_text(json.dumps({"recipe": "best", "runs": runs[:4]}))
    assert seed_spread(tmp_path, 420) is None  # fewer than five seeds
    assert seed_spread(tmp_path / "none", 420) is None


@pytest.mark.slow
def test_the_simulation_study_gives_the_same_numbers_on_one_worker_two_workers_or_none():
    from bmnn.experiments.laplace import MSE_BLOCK, mse_study

    reps = 2 * MSE_BLOCK + 17  # three blocks, the last a short one
    here = mse_study(7, 6, 4, reps, 60)
    assert here[0].shape == (reps,)
    for workers in (1, 2):
        with cluster.client(workers=workers) as c:
            there = mse_study(7, 6, 4, reps, 60, client=c)
        np.testing.assert_array_equal(here[0], there[0])
        np.testing.assert_array_equal(here[1], there[1])
    # a different seed gives different replicates (the seed reaches every block)
    assert not np.array_equal(mse_study(8, 6, 4, 30, 60)[0], mse_study(7, 6, 4, 30, 60)[0])


@pytest.mark.slow
def test_the_calibration_study_gives_the_same_numbers_here_or_on_two_workers():
    from bmnn.experiments.gaussian import COVERAGE_BLOCK, QUICK, coverage

    reps = COVERAGE_BLOCK + 1234
    here = coverage(5, 3, reps, QUICK, 0.9)
    with cluster.client(workers=2) as c:
        assert coverage(5, 3, reps, QUICK, 0.9, client=c) == here
    assert set(here) == {"full", "plugin_mle", "plugin_map"} and abs(here["full"] - 0.9) < 5 * np.sqrt(0.09 / reps)
