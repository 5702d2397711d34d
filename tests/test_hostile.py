"""Hostile input to every command: each case must end in exit 2 with exactly one clean line on stderr (no
traceback, no warning text, no ANSI escape), or, where the input is legitimate, exit 0 with a correct answer and
strict JSON. The table covers every class of mistake the command line can meet; hypothesis then generates
malformed numbers, CSV files and checkpoints beyond it."""

from __future__ import annotations

import io
import json
import pickle
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmnn.cli import main

G = ["gaussian", "--noise-sd", "1.3", "--prior-sd", "2.1"]
L = ["--noise-sd", "1.3", "--scale", "0.7", "--draws", "40", "--chains", "2"]


def _files(d):
    """Every hostile file the table refers to, by name, written into folder ``d``."""
    w = {
        "nums.txt": "1.5 2.5 4\n", "typo.txt": "1O\n2\n3\n", "header.txt": "x\n1\n2\n", "junk.txt": "3.14x\n",
        "nul.txt": "1\x00 2\n", "under.txt": "1_000\n", "hex.txt": "0x1F\n", "nan.txt": "1 nan\n",
        "inf.txt": "inf\n", "big.txt": "1e999\n", "empty-field.txt": "1,,2\n", "comma-end.txt": "1,2,\n",
        "words.txt": "one two\n", "bom.txt": "\ufeff1 2\n", "comment.txt": "# numbers\n1 2\n", "blank.txt": "\n\n",
        "good.csv": "a,b,y\n1,2,3\n2,5,4\n4,1,9\n3,3,3\n", "dup.csv": "a,a,y\n1,2,3\n",
        "ragged.csv": "a,b,y\n1,2,3\n1,2\n", "long-row.csv": "a,b,y\n1,2,3,4\n", "text.csv": "a,b,y\n1,x,3\n",
        "nan.csv": "a,b,y\n1,nan,3\n", "empty-cell.csv": "a,b,y\n1,,3\n", "noname.csv": "a,,y\n1,2,3\n",
        "header-only.csv": "a,b,y\n", "empty.csv": "", "one-col.csv": "y\n1\n2\n",
        "quote.csv": 'a,y\n"1,2\n', "nul.csv": "a,y\n1\x00,2\n", "under.csv": "a,y\n1_0,2\n",
        "huge.csv": "a,y\n1e300,2\n3e300,4e300\n5,6\n", "const.csv": "a,b,y\n1,2,3\n1,5,4\n1,1,9\n",
        "bom.csv": "\ufeffa,b,y\n1,2,3\n2,5,4\n4,1,9\n", "bigcell.csv": "a,y\n" + "1" * 200_000 + ",2\n",
        "loc2.txt": "0.1 0.2\n", "loc-bad.txt": "0.1 abc\n", "note.txt": "abc\n",
    }
    for name, text in w.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "latin1.txt").write_bytes("1 2 caf\xe9".encode("latin-1"))
    (d / "afile").write_text("x")
    (d / "folder").mkdir()
    good = {"W1": torch.zeros(784, 256), "b1": torch.zeros(256), "W2": torch.zeros(256, 10), "b2": torch.zeros(10),
            "preprocess": {"scale": 1 / 255, "mean": 0.0, "std": 1.0}}
    variants = {
        "list.pt": [1, 2, 3], "no-pre.pt": {k: v for k, v in good.items() if k != "preprocess"},
        "shape.pt": {**good, "W1": torch.zeros(10, 10)}, "int.pt": {**good, "b2": torch.zeros(10, dtype=torch.int64)},
        "nan.pt": {**good, "b1": torch.full((256,), float("nan"))}, "str.pt": {**good, "W2": "weights"},
        "sparse.pt": {**good, "b2": torch.zeros(10).to_sparse()}, "pre-std0.pt": {**good, "preprocess": {
            "scale": 1.0, "mean": 0.0, "std": 0.0}}, "pre-str.pt": {**good, "preprocess": "standard"},
        "format9.pt": {**good, "format": 9}, "epoch-bad.pt": {**good, "epoch": -3},
    }
    for name, obj in variants.items():
        torch.save(obj, d / name)
    (d / "text.pt").write_text("not a checkpoint")
    (d / "empty.pt").write_bytes(b"")
    raw = (d / "shape.pt").read_bytes()
    (d / "trunc.pt").write_bytes(raw[: len(raw) // 2])

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    (d / "evil.pt").write_bytes(pickle.dumps(Evil()))
    torch.save({"x": 1}, d / "zip-evil.pt")
    zipped = (d / "zip-evil.pt").read_bytes()  # a torch zip whose pickle refers to a function
    (d / "zip-evil.pt").write_bytes(zipped.replace(b"builtins", b"posix\x00\x00\x00") if b"builtins" in zipped
                                    else zipped)
    run = d / "corrupt-data"
    run.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (run / f"{name}.gz").write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40)


EXIT2 = [
    # ---- gaussian: numbers in files and on stdin
    ("typo first line", [*G, "typo.txt"], None, "line 1: '1O' is not a number"),
    ("junk suffix", [*G, "junk.txt"], None, "'3.14x' is not a number"),
    ("NUL byte", [*G, "nul.txt"], None, "is not a number"),
    ("digit separator", [*G, "under.txt"], None, "'1_000' is not a number"),
    ("hexadecimal", [*G, "hex.txt"], None, "'0x1F' is not a number"),
    ("nan token", [*G, "nan.txt"], None, "'nan' is not a finite number"),
    ("inf token", [*G, "inf.txt"], None, "'inf' is not a finite number"),
    ("overflowing token", [*G, "big.txt"], None, "beyond float64's range"),
    ("empty field", [*G, "empty-field.txt"], None, "an empty field"),
    ("trailing comma", [*G, "comma-end.txt"], None, "an empty field"),
    ("words", [*G, "words.txt"], None, "'one' is not a number"),
    ("header without --header", [*G, "header.txt"], None, "'x' is not a number"),
    ("latin-1 file", [*G, "latin1.txt"], None, "is not UTF-8 text"),
    ("missing file", [*G, "nope.txt"], None, "does not exist"),
    ("folder as file", [*G, "folder"], None, "is a folder"),
    ("stdin junk", [*G], "1 2 x", "'x' is not a number"),
    ("stdin NUL", [*G], "1\x002", "is not a number"),
    ("noise sd zero", ["gaussian", "--noise-sd", "0", "--prior-sd", "1"], "1", "--noise-sd"),
    ("noise sd negative", ["gaussian", "--noise-sd", "-1", "--prior-sd", "1"], "1", "--noise-sd"),
    ("noise sd nan", ["gaussian", "--noise-sd", "nan", "--prior-sd", "1"], "1", "--noise-sd"),
    ("prior sd inf", ["gaussian", "--noise-sd", "1", "--prior-sd", "inf"], "1", "--prior-sd"),
    ("prior sd word", ["gaussian", "--noise-sd", "1", "--prior-sd", "wide"], "1", "--prior-sd"),
    ("prior mean nan", [*G, "--prior-mean", "nan"], "1", "--prior-mean"),
    ("prior mean overflow", [*G, "--prior-mean", "1e400"], "1", "--prior-mean"),
    ("noise sd that overflows sigma^2", ["gaussian", "--noise-sd", "1e200", "--prior-sd", "1"], "1 2",
     "beyond float64's range"),
    ("unknown flag", [*G, "--sigma", "1"], "1", "unrecognized arguments"),
    ("missing flag", ["gaussian", "--prior-sd", "1"], "1", "--noise-sd"),
    # ---- lasso: CSV files, flags, extreme values, sizes
    ("csv missing", ["lasso", "--csv", "nope.csv", "--target", "y", *L], None, "does not exist"),
    ("csv is a folder", ["lasso", "--csv", "folder", "--target", "y", *L], None, "is a folder"),
    ("csv without target", ["lasso", "--csv", "good.csv", *L], None, "--csv needs --target"),
    ("unknown target", ["lasso", "--csv", "good.csv", "--target", "z", *L], None, "--target: target column 'z'"),
    ("duplicate columns", ["lasso", "--csv", "dup.csv", "--target", "y", *L], None, "more than once"),
    ("short row", ["lasso", "--csv", "ragged.csv", "--target", "y", *L], None, "line 3: 2 fields"),
    ("long row", ["lasso", "--csv", "long-row.csv", "--target", "y", *L], None, "line 2: 4 fields"),
    ("text cell", ["lasso", "--csv", "text.csv", "--target", "y", *L], None, "column 'b': 'x' is not a number"),
    ("nan cell", ["lasso", "--csv", "nan.csv", "--target", "y", *L], None, "'nan' is not a finite number"),
    ("empty cell", ["lasso", "--csv", "empty-cell.csv", "--target", "y", *L], None, "'' is not a number"),
    ("unnamed column", ["lasso", "--csv", "noname.csv", "--target", "y", *L], None, "has no name"),
    ("header only", ["lasso", "--csv", "header-only.csv", "--target", "y", *L], None, "at least one data row"),
    ("empty csv", ["lasso", "--csv", "empty.csv", "--target", "y", *L], None, "needs a header row"),
    ("target only", ["lasso", "--csv", "one-col.csv", "--target", "y", *L], None, "at least one feature column"),
    ("open quote", ["lasso", "--csv", "quote.csv", "--target", "y", *L], None, "not valid CSV"),
    ("NUL in csv", ["lasso", "--csv", "nul.csv", "--target", "y", *L], None, "'1\\x00' is not a number"),
    ("digit separator in csv", ["lasso", "--csv", "under.csv", "--target", "y", *L], None, "'1_0' is not a number"),
    ("oversized cell", ["lasso", "--csv", "bigcell.csv", "--target", "y", *L], None, "not valid CSV"),
    ("cells near 1e300", ["lasso", "--csv", "huge.csv", "--target", "y", *L], None, "too large for float64"),
    ("constant column standardised", ["lasso", "--csv", "const.csv", "--target", "y", "--standardize", *L], None,
     "column 'a' is constant"),
    ("scale 1e-300", ["lasso", "--dataset", "diabetes", "--noise-sd", "1", "--scale", "1e-300"], None,
     "scale = 1e-300"),
    ("noise sd 1e200", ["lasso", "--dataset", "diabetes", "--noise-sd", "1e200", "--scale", "1"], None,
     "noise_sd = 1e+200"),
    ("noise sd 1e-200", ["lasso", "--dataset", "diabetes", "--noise-sd", "1e-200", "--scale", "1"], None,
     "noise_sd = 1e-200"),
    ("draws that cannot fit", ["lasso", "--dataset", "diabetes", *L, "--draws", "1000000000000"], None,
     "of memory, but"),
    ("chains that cannot fit", ["lasso", "--dataset", "diabetes", *L, "--chains", "100000000000"], None,
     "of memory, but"),
    ("draws in e-notation", ["lasso", "--dataset", "diabetes", *L, "--draws", "1e3"], None, "--draws"),
    ("zero chains", ["lasso", "--dataset", "diabetes", *L, "--chains", "0"], None, "--chains"),
    ("negative seed", ["lasso", "--dataset", "diabetes", *L, "--seed", "-1"], None, "--seed"),
    ("location with wrong length", ["lasso", "--dataset", "diabetes", *L, "--location", "1,2"], None,
     "the location has 2 values but X has p = 10"),
    ("location word", ["lasso", "--dataset", "diabetes", *L, "--location", "zero"], None, "'zero' is not a number"),
    ("location nan", ["lasso", "--dataset", "diabetes", *L, "--location", "nan"], None, "not a finite number"),
    ("location empty", ["lasso", "--dataset", "diabetes", *L, "--location", ""], None, "--location"),
    ("location file missing", ["lasso", "--dataset", "diabetes", *L, "--location-file", "nope.txt"], None,
     "--location-file 'nope.txt' does not exist"),
    ("location file junk", ["lasso", "--dataset", "diabetes", *L, "--location-file", "loc-bad.txt"], None,
     "'abc' is not a number"),
    ("location file wrong length", ["lasso", "--dataset", "diabetes", *L, "--location-file", "loc2.txt"], None,
     "the location has 2 values"),
    ("unknown data set", ["lasso", "--dataset", "iris", *L], None, "invalid choice"),
    ("both sources", ["lasso", "--dataset", "diabetes", "--csv", "good.csv", *L], None, "not allowed with"),
    ("scale prior with one number", ["lasso", "--dataset", "diabetes", "--scale-prior", "1"], None,
     "--scale-prior: expected 2 arguments"),
    ("scale prior rate zero", ["lasso", "--dataset", "diabetes", "--scale-prior", "1", "0"], None, "--scale-prior"),
    ("noise prior word", ["lasso", "--dataset", "diabetes", "--noise-prior", "1", "x"], None, "--noise-prior"),
    ("unknown algorithm", ["lasso", "--dataset", "diabetes", *L, "--algorithm", "cholesky"], None, "invalid choice"),
    ("negative warm-up", ["lasso", "--dataset", "diabetes", *L, "--warmup", "-1"], None, "--warmup"),
    ("save without .nc", ["lasso", "--dataset", "diabetes", *L, "--save", "out.txt"], None, "ending in .nc"),
    ("save below a file", ["lasso", "--dataset", "diabetes", *L, "--save", "afile/d.nc"], None,
     "folder of --save 'afile' is a file"),
    # ---- gradcheck: sizes
    ("gradcheck zero inputs", ["gradcheck", "--inputs", "0"], None, "--inputs"),
    ("gradcheck huge batch", ["gradcheck", "--inputs", "1", "--hidden", "1", "--batch", "100000000000"], None,
     "of memory, but"),
    ("gradcheck hours of work", ["gradcheck", "--inputs", "3000", "--hidden", "300"], None, "floating-point"),
    ("gradcheck word seed", ["gradcheck", "--seed", "abc"], None, "--seed"),
    # ---- evaluate: checkpoints that are not
    ("text checkpoint", ["evaluate", "--checkpoint", "text.pt"], None, "not a bmnn checkpoint: it is not a PyTorch"),
    ("empty checkpoint", ["evaluate", "--checkpoint", "empty.pt"], None, "not a bmnn checkpoint: the file is empty"),
    ("truncated checkpoint", ["evaluate", "--checkpoint", "trunc.pt"], None, "damaged or incomplete"),
    ("pickle with code", ["evaluate", "--checkpoint", "evil.pt"], None, "not a bmnn checkpoint"),
    ("zip pickle with code", ["evaluate", "--checkpoint", "zip-evil.pt"], None, "not a bmnn checkpoint"),
    ("list checkpoint", ["evaluate", "--checkpoint", "list.pt"], None, "it holds a list"),
    ("no preprocess", ["evaluate", "--checkpoint", "no-pre.pt"], None, "preprocess"),
    ("wrong shape", ["evaluate", "--checkpoint", "shape.pt"], None, "W1 has shape (10, 10)"),
    ("integer tensor", ["evaluate", "--checkpoint", "int.pt"], None, "b2 holds int64"),
    ("NaN weights", ["evaluate", "--checkpoint", "nan.pt"], None, "b1 holds NaN"),
    ("string weights", ["evaluate", "--checkpoint", "str.pt"], None, "W2 is a str"),
    ("sparse tensor", ["evaluate", "--checkpoint", "sparse.pt"], None, "b2 is a sparse_coo tensor"),
    ("preprocess std 0", ["evaluate", "--checkpoint", "pre-std0.pt"], None, "scale and std > 0"),
    ("preprocess a string", ["evaluate", "--checkpoint", "pre-str.pt"], None, "preprocess must be a dict"),
    ("unknown format", ["evaluate", "--checkpoint", "format9.pt"], None, "format 9"),
    ("negative epoch", ["evaluate", "--checkpoint", "epoch-bad.pt"], None, "epoch must be"),
    ("folder checkpoint", ["evaluate", "--checkpoint", "folder"], None, "is a folder"),
    ("device checkpoint", ["evaluate", "--checkpoint", "/dev/null"], None, "is not a regular file"),
    ("missing checkpoint", ["evaluate", "--checkpoint", "nope.pt"], None, "does not exist"),
    # ---- train: settings and folders, all refused before any work
    ("train unknown setting", ["train", "--set", "no_such=1"], None, "unknown training setting 'no_such'"),
    ("train init xavier", ["train", "--set", "init=xavier"], None, "init must be one of normal, he"),
    ("train ema decay 1.5", ["train", "--set", "ema_decay=1.5"], None, "ema_decay must be in [0, 1)"),
    ("train momentum 1", ["train", "--set", "momentum=1"], None, "momentum must be in [0, 1)"),
    ("train momentum negative", ["train", "--set", "momentum=-0.1"], None, "momentum must be in"),
    ("train weight decay 2", ["train", "--set", "weight_decay=2"], None, "weight_decay must be in"),
    ("train label smoothing 1", ["train", "--set", "label_smoothing=1"], None, "label_smoothing must be in"),
    ("train warm-up negative", ["train", "--set", "warmup_epochs=-1"], None, "warmup_epochs must be in"),
    ("train warm-up fraction", ["train", "--set", "warmup_epochs=1.5"], None, "warmup_epochs must be a whole"),
    ("train init sd 0", ["train", "--recipe", "classic", "--set", "init_std=0"], None, "init_std must be in (0"),
    ("train ema start 2", ["train", "--set", "ema_start=2"], None, "ema_start must be in [0, 1]"),
    ("train nan setting", ["train", "--set", "dropout=nan"], None, "dropout must be a number, got 'nan'"),
    ("train inf setting", ["train", "--set", "weight_decay=inf"], None, "must be a number"),
    ("train separator setting", ["train", "--set", "shift=1_0"], None, "must be a whole number"),
    ("train nesterov without momentum", ["train", "--recipe", "classic", "--set", "nesterov=true"], None,
     "nesterov needs momentum"),
    ("train batch size 1e11", ["train", "--batch-size", "100000000000"], None, "batch_size must be in [1, 60000]"),
    ("train cutout 1e11", ["train", "--set", "cutout=1e11"], None, "cutout must be in [0, 28]"),
    ("train epochs 1e11", ["train", "--epochs", "100000000000"], None, "epochs must be in"),
    ("train validation everything", ["train", "--validation", "60000"], None, "validation must be in"),
    ("train set duplicating a flag", ["train", "--set", "lr=0.1"], None, "--set lr: use --lr instead"),
    ("train set without value", ["train", "--set", "dropout"], None, "expected KEY=VALUE"),
    ("train bad bool", ["train", "--set", "standardize=maybe"], None, "standardize must be true or false"),
    ("train out is a file", ["train", "--out", "afile"], None, "--out: folder 'afile' is a file"),
    ("train out below a file", ["train", "--out", "afile/run"], None, "--out: folder 'afile/run' cannot be created"),
    ("train resume and overwrite", ["train", "--resume", "--overwrite"], None, "not allowed with"),
    ("train corrupt gzip data", ["train", "--recipe", "classic", "--epochs", "1", "--data-dir", "corrupt-data",
                                 "--out", "r1"], None, "cannot be read or decompressed"),
    ("train missing data folder", ["train", "--data-dir", "no-data", "--out", "r2"], None, "lacks"),
    ("train cuda without a GPU", ["train", "--device", "cuda", "--out", "r3"], None, "no CUDA device"),
    # ---- report and data fetch: output folders checked before any work
    ("report out is a file", ["report", "--out", "afile"], None, "--out: folder 'afile' is a file"),
    ("report runs is a file", ["report", "--out", "rep", "--runs", "afile"], None, "--runs: folder 'afile' is a"),
    ("fetch dir is a file", ["data", "fetch", "--dir", "afile"], None, "--dir: folder 'afile' is a file"),
    ("fetch dir below a file", ["data", "fetch", "--dir", "afile/x"], None, "cannot be created"),
    # ---- the parser itself
    ("no command", [], None, "required"),
    ("unknown command", ["frobnicate"], None, "invalid choice"),
]


@pytest.fixture
def hostile_dir(tmp_path, monkeypatch):
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no user cache: the data set is looked for where the case says
    return tmp_path


def check_one_clean_line(err: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Warning" not in err and "\x1b" not in err, err


def run(argv, stdin, monkeypatch, capsys):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("label", "argv", "stdin", "message"), EXIT2, ids=[c[0] for c in EXIT2])
def test_a_mistake_is_exit_2_and_one_line(label, argv, stdin, message, hostile_dir, monkeypatch, capsys):
    monkeypatch.setattr("bmnn.datasets.DEBIAN_DIR", hostile_dir / "no-debian")
    if argv[:1] == ["train"] and "--out" not in argv:
        argv = [*argv, "--out", "run"]
    code, out, err = run(argv, stdin if stdin is not None else "", monkeypatch, capsys)
    assert code == 2, (code, err)
    check_one_clean_line(err)
    assert message in err, err
    if argv[:1] == ["evaluate"]:
        assert "unpickled!" not in out and "weights_only" not in err  # never run the file's code or suggest it


def test_the_table_is_big_enough():
    assert len(EXIT2) >= 100


LEGIT = [
    ("vague prior", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "1e200", "--json"], "1.5 2.5 4",
     {"map": 8 / 3, "posterior": {"mean": 8 / 3, "var": 1.3**2 / 3}}),
    ("tight prior", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "1e-200", "--prior-mean", "0.25", "--json"],
     "1.5 2.5 4", {"map": 0.25}),
    ("tiny noise", ["gaussian", "--noise-sd", "1e-150", "--prior-sd", "3", "--json"], "1.5 2.5 4", {"map": 8 / 3}),
    ("header asked for", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "2.1", "--header", "--json", "header.txt"],
     None, {"n": 2, "sum": 3.0}),
    ("comments and BOM", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "2.1", "--json", "comment.txt"], None,
     {"n": 2, "sum": 3.0}),
    ("BOM", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "2.1", "--json", "bom.txt"], None, {"n": 2}),
    ("no data", ["gaussian", "--noise-sd", "1.3", "--prior-sd", "2.1", "--json", "blank.txt"], None,
     {"n": 0, "mle": None, "posterior": {"mean": 0.0, "var": 2.1**2}}),
    ("extreme but finite values", ["gaussian", "--noise-sd", "1", "--prior-sd", "1", "--json"], "1e307 5e307 4",
     {"n": 3, "sum": 6e307}),
    ("a sum beyond float64 with a finite mean", [*G, "--json"], "1.7e308 1.7e308",
     {"n": 2, "sum": None, "mle": 1.7e308}),
    ("one chain: R-hat undefined", ["lasso", "--csv", "good.csv", "--target", "y", "--noise-sd", "1.3", "--scale",
                                    "0.7", "--chains", "1", "--draws", "3", "--json"], None, {"rhat": [None, None]}),
    ("tiny tau: the MAP is the location", ["lasso", "--dataset", "diabetes", "--noise-sd", "50", "--scale", "1e-120",
                                           "--draws", "50", "--chains", "2", "--location", "0.5", "--json"], None,
     {"map": [0.5] * 10}),
    ("BOM in CSV", ["lasso", "--csv", "bom.csv", "--target", "y", *L, "--json"], None, {}),
    ("y = X mu: tau* unbounded", ["lasso", "--csv", "good.csv", "--target", "y", *L, "--json", "--location",
                                  "0,0"], None, {}),
]


@pytest.mark.parametrize(("label", "argv", "stdin", "expect"), LEGIT, ids=[c[0] for c in LEGIT])
def test_legitimate_extremes_give_the_right_finite_answer(label, argv, stdin, expect, hostile_dir, monkeypatch,
                                                          capsys):
    code, out, err = run(argv, stdin if stdin is not None else "", monkeypatch, capsys)
    assert code == 0 and err == "", err
    d = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON token {c}"))
    for key, value in expect.items():
        got = d[key]
        if isinstance(value, dict):
            for k, v in value.items():
                assert got[k] == pytest.approx(v, rel=1e-12), (key, k)
        elif value is None or (isinstance(value, list) and None in value):
            assert got == value, key
        else:
            assert got == pytest.approx(value, rel=1e-12), key


def test_tau_star_is_null_exactly_when_y_is_x_mu(hostile_dir, monkeypatch, capsys):
    (hostile_dir / "exact.csv").write_text("a,b,y\n1,0,2\n0,1,-3\n1,1,-1\n")  # y = 2 a - 3 b exactly
    material = ["--no-intercept"]  # the material's model: with an intercept, y = X mu is no longer exact
    code, out, _ = run(["lasso", "--csv", "exact.csv", "--target", "y", *L, *material, "--location", "2,-3",
                        "--json"], "", monkeypatch, capsys)
    assert code == 0 and json.loads(out)["tau_star"] is None
    code, out, _ = run(["lasso", "--csv", "exact.csv", "--target", "y", *L, *material, "--location", "2,-3"], "",
                       monkeypatch, capsys)
    assert "tau* = unbounded" in out and "inf" not in out and "nan" not in out.lower()


# ---- generated inputs ---------------------------------------------------------------------------------------------

GOOD_TOKENS = st.one_of(st.integers(-10**6, 10**6).map(str),
                        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(repr))
BAD_TOKENS = st.sampled_from(["nan", "inf", "-Infinity", "1_000", "0x10", "1e999", "3.14x", "1O", "--1", "1..2", "e5",
                              "\x00", "1e", "+", "½", "١٢", "1,5e", "0b1", "NaN", "TRUE", "1j"])


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.one_of(GOOD_TOKENS, BAD_TOKENS), max_size=12),
       seps=st.lists(st.sampled_from([" ", ",", ";", "\n", "\t", " , ", "\r\n"]), min_size=12, max_size=12))
def test_generated_number_lists_are_read_exactly_or_refused_in_one_line(tokens, seps, monkeypatch, capsys):
    text = "".join(t + s for t, s in zip(tokens, seps, strict=False))
    bad = [t for t in tokens if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", t)
           or not np.isfinite(float(t))]
    code, out, err = run([*G, "--json"], text, monkeypatch, capsys)
    if bad or any(s.strip() in ",;" and s.strip() for s in seps[: len(tokens)][-1:]):
        if code == 0:  # only a trailing separator after the last token is no loss; anything else must be refused
            assert not bad
    if bad:
        assert code == 2
        check_one_clean_line(err)
    elif code == 0:
        d = json.loads(out)
        assert d["n"] == len(tokens)
        assert d["sum"] == pytest.approx(sum(float(t) for t in tokens), rel=1e-12, abs=1e-9)
    else:
        check_one_clean_line(err)
        assert "an empty field" in err  # the only way good tokens are refused: a separator with nothing after it


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=3), min_size=4,
                       max_size=8),
       fault=st.sampled_from(["none", "cell", "short", "long", "dup", "nan", "blank-name"]),
       where=st.integers(0, 100))
def test_generated_csv_files_are_read_exactly_or_refused_in_one_line(values, fault, where, tmp_path_factory,
                                                                     monkeypatch, capsys):
    rows = [["a", "b", "y"]] + [[repr(v) for v in r] for r in values]
    i = 1 + where % len(values)
    if fault == "cell":
        rows[i][where % 3] = "12abc"
    elif fault == "nan":
        rows[i][where % 3] = "nan"
    elif fault == "short":
        rows[i] = rows[i][:2]
    elif fault == "long":
        rows[i] = rows[i] + ["1"]
    elif fault == "dup":
        rows[0][1] = "a"
    elif fault == "blank-name":
        rows[0][0] = " "
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    code, out, err = run(["lasso", "--csv", str(path), "--target", "y", *L, "--json"], "", monkeypatch, capsys)
    if fault == "none":
        assert code == 0 and err == ""
        assert len(json.loads(out)["map"]) == 2
    else:
        assert code == 2
        check_one_clean_line(err)
        if fault in ("cell", "nan", "short", "long"):
            assert f"line {i + 1}" in err


def _good_checkpoint():
    return {"W1": torch.zeros(784, 256), "b1": torch.zeros(256), "W2": torch.zeros(256, 10), "b2": torch.zeros(10),
            "preprocess": {"scale": 1 / 255, "mean": 0.1, "std": 0.3}}


MUTATIONS = {
    "drop": lambda ck, k: ck.pop(k),
    "shape": lambda ck, k: ck.__setitem__(k, torch.zeros(3)),
    "dtype": lambda ck, k: ck.__setitem__(k, torch.zeros(tuple(ck[k].shape), dtype=torch.int32)
                                          if isinstance(ck[k], torch.Tensor) else 7),
    "nan": lambda ck, k: ck.__setitem__(k, torch.full(tuple(ck[k].shape), float("nan"))
                                        if isinstance(ck[k], torch.Tensor) else {"scale": float("nan")}),
    "type": lambda ck, k: ck.__setitem__(k, [1.0, 2.0]),
    "sparse": lambda ck, k: ck.__setitem__(k, ck[k].to_sparse() if isinstance(ck[k], torch.Tensor) else None),
}


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["W1", "b1", "W2", "b2", "preprocess"]), how=st.sampled_from(sorted(MUTATIONS)),
       garbage=st.binary(max_size=64))
def test_generated_broken_checkpoints_are_named_not_loaded(key, how, garbage, tmp_path_factory, monkeypatch, capsys):
    from bmnn.scratch_mlp.runs import CheckpointError, load_checkpoint

    folder = tmp_path_factory.mktemp("ck")
    ck = _good_checkpoint()
    MUTATIONS[how](ck, key)
    torch.save(ck, folder / "m.pt")
    with pytest.raises(CheckpointError, match=r"m\.pt is not a bmnn checkpoint: "):
        load_checkpoint(folder / "m.pt")
    (folder / "g.pt").write_bytes(garbage)
    with pytest.raises(CheckpointError, match=r"g\.pt (is not a bmnn checkpoint|.*empty)"):
        load_checkpoint(folder / "g.pt")
    code, _, err = run(["evaluate", "--checkpoint", str(folder / "m.pt")], "", monkeypatch, capsys)
    assert code == 2
    check_one_clean_line(err)
