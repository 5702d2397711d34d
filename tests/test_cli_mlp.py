"""bmnn train / evaluate / data fetch through main(argv), on small IDX files written here and on the real data."""

import json

import pytest
import torch

import bmnn.datasets as ds
from bmnn.cli import main


def test_train_then_evaluate(tiny_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--recipe", "classic", "--epochs", "2", "--data-dir", str(tiny_dir), "--out", str(out),
                 "--threads", "1"])
    text = capsys.readouterr().out
    assert code == 0 and "epoch    2/2" in text and "test accuracy" in text
    for f in ("checkpoint.pt", "history.json", "training.png", "confusion.png"):
        assert (out / f).stat().st_size > 0
    assert len(json.loads((out / "history.json").read_text())["history"]) == 2
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--data-dir", str(tiny_dir), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert d["accuracy"] == pytest.approx(ck["history"][-1]["test_acc"], abs=1e-6) and d["epoch"] == 2


def test_set_overrides_any_setting(tiny_dir, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--recipe", "best", "--epochs", "1", "--data-dir", str(tiny_dir), "--out", str(out),
                 "--threads", "1", "--set", "dropout=0.3", "--set", "augment=shift", "--set", "shift=2",
                 "--set", "nesterov=false", "--set", "ema-decay=0"]) == 0
    cfg = json.loads((out / "history.json").read_text())["config"]
    assert (cfg["dropout"], cfg["augment"], cfg["shift"], cfg["nesterov"], cfg["ema_decay"]) == (0.3, "shift", 2,
                                                                                                  False, 0.0)
    assert cfg["label_smoothing"] == 0.05 and cfg["epochs"] == 1  # the recipe's other settings stay


def test_resume_flag_continues(tiny_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--recipe", "classic", "--data-dir", str(tiny_dir), "--out", str(out), "--threads", "1"]
    assert main([*base, "--epochs", "2"]) == 0
    assert main([*base, "--epochs", "2", "--resume"]) == 0  # already finished: nothing more to do
    assert "is finished (2 of 2 epochs): nothing to train" in capsys.readouterr().out
    assert main([*base, "--epochs", "3", "--resume"]) == 2  # other settings: refused, naming each difference
    assert "--resume: the run in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--epochs", "0"], "argument --epochs: expected a whole number >= 1, got '0'"),
        (["train", "--lr", "-0.1"], "argument --lr: expected a finite number > 0, got '-0.1'"),
        (["train", "--recipe", "fast"], "argument --recipe: invalid choice: 'fast'"),
        (["train", "--data-dir", "/nonexistent"], "data folder '/nonexistent' lacks"),
        (["evaluate", "--checkpoint", "/nonexistent.pt"], "--checkpoint: /nonexistent.pt does not exist"),
        (["train", "--set", "dropout"], "--set: expected KEY=VALUE, got 'dropout'"),
        (["train", "--set", "dropuot=0.2"], "--set: unknown training setting 'dropuot'"),
        (["train", "--set", "dropout=high"], "--set: dropout must be a number, got 'high'"),
        (["train", "--set", "standardize=maybe"], "--set: standardize must be true or false, got 'maybe'"),
        (["train", "--set", "seed=3"], "--set seed: use --seed instead"),
        (["train", "--set", "dropout=1.5"], "dropout must be in [0, 1), got 1.5"),
        (["train", "--set", "augment=rotate"], "augment must be one of none, shift, cross, flip+shift; got 'rotate'"),
    ],
)
def test_bad_input_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "train" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_damaged_checkpoint(tmp_path, capsys):
    bad = tmp_path / "c.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(bad)]) == 2
    assert "is not a bmnn checkpoint: it is not a PyTorch archive" in capsys.readouterr().err


def test_data_fetch_verifies_and_reports_failure(tiny_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ds, "FASHION_MNIST_URL", tiny_dir.as_uri() + "/")
    dest = ds.fetch_fashion_mnist(tmp_path / "dest", base_url=tiny_dir.as_uri() + "/", progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in ds.FASHION_MNIST)
    with pytest.raises(ds.DataFileError, match="SHA-256 of the decompressed bytes"):
        ds.fetch_fashion_mnist(tmp_path / "other", base_url=tiny_dir.as_uri() + "/", progress=False,
                               hashes={"t10k-labels-idx1-ubyte": "0" * 64})
    assert not any((tmp_path / "other").iterdir())  # nothing half-written is left
    code = main(["data", "fetch", "--dir", str(tmp_path / "x")])  # the patched URL serves the files
    assert code == 0 and "verified" in capsys.readouterr().out
    monkeypatch.setattr(ds, "FASHION_MNIST_URL", "file:///nonexistent/")
    assert main(["data", "fetch", "--dir", str(tmp_path / "y")]) == 2
    assert "could not download" in capsys.readouterr().err


@pytest.mark.data
def test_real_data_classic_epoch(tmp_path, capsys):
    out = tmp_path / "real"
    assert main(["train", "--recipe", "classic", "--epochs", "2", "--out", str(out)]) == 0
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["accuracy"] > 0.75
