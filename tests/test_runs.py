"""No run is ever lost: a folder that holds a run is refused, a second writer fails at once, the report never trains
over a user's run, every file is whole, and ``kill -9`` at any moment leaves a loadable checkpoint from which
``--resume`` reaches the bit-identical result. The kill tests run the real command line in child processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from bmnn._files import atomic_write, clean_stale_temps, temp_prefix, writable_folder
from bmnn.cli import main
from bmnn.scratch_mlp import runs
from bmnn.scratch_mlp.config import make_config
from bmnn.scratch_mlp.train import train
from tests.conftest import write_tiny_set
from tests.test_scratch_mlp import quiet, tiny_arrays

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ("import json, sys; import bmnn.datasets as ds; ds.FASHION_MNIST = json.load(open(sys.argv[1])); "
          "from bmnn.cli import main; sys.exit(main(sys.argv[2:]))")


def _cli(hashes: Path, *argv: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CI": "1"}
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(hashes), *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def tiny_files(tmp_path):
    """The tiny data set on disk and its hash table in a file, for child processes."""
    hashes = tmp_path / "hashes.json"
    hashes.write_text(json.dumps(write_tiny_set(tmp_path / "data", n_train=300, n_test=100)))
    return tmp_path / "data", hashes


# ---- the atomic writer ----------------------------------------------------------------------------------------------

def test_atomic_write_is_whole_or_nothing_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write(target, "first")
    with pytest.raises(RuntimeError):
        atomic_write(target, lambda tmp: (tmp.write_text("half"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert target.read_text() == "first"  # the failed write changed nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]  # and left no temporary file
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # the mode a plain open() gives, not mkstemp's 0600


def test_stale_temps_of_dead_writers_are_cleaned_live_ones_kept(tmp_path):
    # a writer that made its temporary file and died before the rename
    code = ("import sys, tempfile; from bmnn._files import temp_prefix; "
            "tempfile.mkstemp(dir=sys.argv[1], prefix=temp_prefix('checkpoint.pt'), suffix='.tmp')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    (stale,) = tmp_path.iterdir()
    fd, live = tempfile.mkstemp(dir=tmp_path, prefix=temp_prefix("checkpoint.pt"), suffix=".tmp")  # this process
    os.close(fd)
    assert clean_stale_temps(tmp_path) == [stale]
    assert os.path.exists(live) and not stale.exists()


def test_writable_folder_is_checked_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    from bmnn._checks import InputError

    with pytest.raises(InputError, match="is a file"):
        writable_folder(tmp_path / "file")
    with pytest.raises(InputError, match="cannot be created"):
        writable_folder(tmp_path / "file" / "sub")
    assert writable_folder(tmp_path / "a" / "b").is_dir()


# ---- refusing to write over a run -----------------------------------------------------------------------------------

def test_a_finished_or_interrupted_run_is_never_replaced_silently(tiny_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--recipe", "classic", "--epochs", "2", "--data-dir", str(tiny_dir), "--out", str(out),
            "--threads", "1"]
    assert main(base) == 0
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(base) == 2  # same command again: refused, naming the three ways on
    err = capsys.readouterr().err
    assert "already holds a finished run (2 of 2 epochs)" in err and "--resume" in err and "--overwrite" in err
    assert len(err.splitlines()) == 1
    assert (out / "checkpoint.pt").read_bytes() == before
    assert main([*base[:4], "3", *base[5:]]) == 2  # other settings without --resume: refused as well
    assert (out / "checkpoint.pt").read_bytes() == before
    capsys.readouterr()
    assert main([*base[:4], "3", *base[5:], "--resume", "--set", "init_std=0.02"]) == 2
    err = capsys.readouterr().err
    assert "epochs: 2 -> 3" in err and "init_std: 0.01 -> 0.02" in err  # each difference named
    assert main([*base, "--overwrite"]) == 0  # asked for: replaced
    assert (out / "checkpoint.pt").read_bytes() != before


def test_library_train_refuses_too(tmp_path):
    arrays = tiny_arrays(200, 50)
    cfg = make_config("classic", epochs=1, threads=1)
    train(cfg, arrays, tmp_path, log=quiet, progress=False)
    with pytest.raises(runs.RunExists, match="already holds a finished run"):
        train(cfg, arrays, tmp_path, log=quiet, progress=False)


def test_a_second_writer_fails_at_once_naming_the_holder(tiny_files, tmp_path, capsys, monkeypatch):
    import bmnn.datasets as ds

    data, hashes = tiny_files
    monkeypatch.setattr(ds, "FASHION_MNIST", json.loads(hashes.read_text()))
    out = tmp_path / "run"
    first = _cli(hashes, "train", "--recipe", "classic", "--epochs", "100000", "--batch-size", "10", "--data-dir",
                 str(data), "--out", str(out), "--threads", "1")
    try:
        deadline = time.time() + 60
        while not (out / "checkpoint.pt").exists():  # the first is training
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.05)
        t0 = time.perf_counter()
        assert main(["train", "--recipe", "classic", "--epochs", "2", "--data-dir", str(data), "--out", str(out),
                     "--overwrite"]) == 2
        assert time.perf_counter() - t0 < 5  # at once, not after waiting
        err = capsys.readouterr().err
        assert f"is in use by pid {first.pid}" in err and len(err.splitlines()) == 1
        assert first.poll() is None  # the first writer carries on untouched
    finally:
        first.kill()
        first.communicate()
    # once the holder is gone (even by kill -9) the kernel has released the lock
    assert main(["train", "--recipe", "classic", "--epochs", "2", "--data-dir", str(data), "--out", str(out),
                 "--overwrite", "--threads", "1"]) == 0


def test_report_never_trains_over_a_users_run(tmp_path):
    from bmnn.experiments.scratch_mlp import REPORT_MARK, _run

    arrays = tiny_arrays(200, 50)
    user = tmp_path / "classic"
    train(make_config("classic", epochs=1, threads=1), arrays, user, log=quiet, progress=False)
    before = (user / "checkpoint.pt").read_bytes()
    logged = []
    cfg, ck, _ = _run("classic", {"epochs": 2, "threads": 1}, arrays, user, logged.append)
    assert (user / "checkpoint.pt").read_bytes() == before  # the user's run is untouched
    assert ck["epoch"] == 2 and (tmp_path / "classic-2" / REPORT_MARK).exists()
    assert any("left alone" in line for line in logged)
    again = (tmp_path / "classic-2" / "checkpoint.pt").stat().st_mtime_ns
    _run("classic", {"epochs": 2, "threads": 1}, arrays, user, quiet)  # the same settings: reused, not retrained
    assert (tmp_path / "classic-2" / "checkpoint.pt").stat().st_mtime_ns == again
    # its own folder, with settings it no longer uses, it may replace
    _run("classic", {"epochs": 3, "threads": 1}, arrays, user, quiet)
    assert (user / "checkpoint.pt").read_bytes() == before
    assert runs.load_checkpoint(tmp_path / "classic-2" / "checkpoint.pt")["epoch"] == 3
    # a user's run with exactly the report's settings is used as it is
    _, ck, _ = _run("classic", {"epochs": 1, "threads": 1}, arrays, user, quiet)
    assert ck["epoch"] == 1 and (user / "checkpoint.pt").read_bytes() == before
    assert not (user / REPORT_MARK).exists()
    # a user who trains over the report's folder (--overwrite) makes it theirs: the report leaves it alone
    mine = tmp_path / "classic-2"
    train(make_config("classic", epochs=2, lr=0.05, threads=1), arrays, mine, overwrite=True, log=quiet,
          progress=False)
    theirs = (mine / "checkpoint.pt").read_bytes()
    _run("classic", {"epochs": 4, "threads": 1}, arrays, user, quiet)
    assert (mine / "checkpoint.pt").read_bytes() == theirs
    assert runs.load_checkpoint(tmp_path / "classic-3" / "checkpoint.pt")["epoch"] == 4


# ---- kill -9 at random moments ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing(tiny_files, tmp_path):
    data, hashes = tiny_files
    argv = ["train", "--recipe", "best", "--epochs", "30", "--batch-size", "64", "--data-dir", str(data),
            "--threads", "1", "--set", "ema_start=0.3"]
    start = time.perf_counter()
    ref = _cli(hashes, *argv, "--out", str(tmp_path / "ref"))
    assert ref.wait(120) == 0, ref.communicate()
    wall = time.perf_counter() - start
    want = torch.load(tmp_path / "ref" / "checkpoint.pt", weights_only=True)
    t_ref = sum(h["seconds"] for h in want["history"])
    startup = max(wall - t_ref, 1.0)  # measured, not assumed: a loaded machine starts Python and torch slower
    rng = random.Random(20261126)
    kills_with_checkpoint = 0
    for i in range(20):
        out = tmp_path / f"k{i}"
        child = _cli(hashes, *argv, "--out", str(out))
        time.sleep(startup + rng.uniform(0, t_ref + 0.6))  # start-up, then anywhere in training (or just after it)
        child.send_signal(signal.SIGKILL)
        child.communicate()
        if (out / "checkpoint.pt").exists():
            kills_with_checkpoint += 1
            ck = runs.load_checkpoint(out / "checkpoint.pt", resumable=True)  # loadable, whole, valid
            assert json.loads((out / "history.json").read_text())["history"][-1]["epoch"] >= ck["epoch"] - 1
        resumed = _cli(hashes, *argv, "--out", str(out), "--resume")
        assert resumed.wait(120) == 0, resumed.communicate()
        got = torch.load(out / "checkpoint.pt", weights_only=True)
        for k in ("W1", "b1", "W2", "b2"):
            assert torch.equal(got[k], want[k]), (i, k)
        assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")], i
    assert kills_with_checkpoint >= 10  # most kills landed during training, not before it


def test_overwrite_keeps_the_old_run_when_training_cannot_start(tiny_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--recipe", "classic", "--epochs", "1", "--out", str(out), "--threads", "1"]
    assert main([*base, "--data-dir", str(tiny_dir)]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    assert main([*base, "--data-dir", str(tmp_path / "no-data"), "--overwrite"]) == 2  # the data are missing
    assert (out / "checkpoint.pt").read_bytes() == before  # so the old run is still there
