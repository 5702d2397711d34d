"""bmnn lasso through main(argv)."""

import json

import numpy as np
import pytest

from bmnn.cli import main

KEYS = {"lambda", "tau_star", "map", "posterior_mean", "posterior_sd", "mcse", "ess_bulk", "rhat", "kkt_violation",
        "q05", "q95", "map_at", "algorithm", "feature_names", "fit_intercept", "intercept", "intercept_map", "prior"}


def write_csv(path, X, y, names=None):
    names = names or [f"x{j}" for j in range(X.shape[1])]
    lines = [",".join([*names, "target"])]
    lines += [",".join(str(float(v)) for v in [*row, t]) for row, t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_diabetes_json(capsys):
    code = main(["lasso", "--dataset", "diabetes", "--standardize", "--noise-sd", "54", "--scale", "4.8",
                 "--draws", "300", "--chains", "4", "--seed", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and set(out) == KEYS
    assert all(len(out[k]) == 10 for k in KEYS - {"lambda", "tau_star", "map_at", "algorithm", "fit_intercept",
                                                  "intercept", "intercept_map", "prior"})
    assert out["prior"] == "laplace"
    assert out["feature_names"] == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert out["fit_intercept"] is True and abs(out["intercept"]) < 1e-9  # --standardize centres y
    assert out["map_at"] == {"noise_sd": 54.0, "scale": 4.8, "noise_sd_from": "given", "scale_from": "given"}
    assert out["algorithm"] == "precision" and all(a < b for a, b in zip(out["q05"], out["q95"], strict=True))
    assert out["lambda"] == pytest.approx(54**2 / 4.8)
    assert max(out["kkt_violation"]) <= 1e-8


def test_csv_used_as_given_with_p_greater_than_n(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 7))
    y = X @ rng.normal(size=7)
    write_csv(tmp_path / "d.csv", X, y)
    code = main(["lasso", "--csv", str(tmp_path / "d.csv"), "--target", "target", "--noise-sd", "1", "--scale",
                 "1", "--location", "0.5", "--draws", "200", "--chains", "4", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["map"]) == 7 and all(np.isfinite(out["posterior_mean"]))


def test_table_output(capsys):
    assert main(["lasso", "--dataset", "diabetes", "--standardize", "--noise-sd", "54", "--scale", "0.01",
                 "--draws", "100", "--chains", "2"]) == 0
    out = capsys.readouterr().out
    assert "tau <= tau*: the MAP is the location" in out and "bmi" in out and "R-hat" in out


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        ("ok", ["--scale", "0"], "argument --scale: expected a finite number > 0, got '0'"),
        ("ok", ["--noise-sd", "-1"], "argument --noise-sd: expected a finite number > 0, got '-1'"),
        ("ok", ["--location", "1,2"], "the location has 2 values but X has p = 3 columns"),
        ("ok", ["--target", "nope"], "--target: target column 'nope' is not in"),
        ("nan", [], "column 'x1': 'nan' is not a finite number"),
        ("ragged", [], "line 3: 2 fields, but the header has 4"),
        ("text", [], "line 2, column 'x0': 'abc' is not a number"),
    ],
)
def test_bad_input_exit_2(tmp_path, capsys, make, extra, message):
    f = tmp_path / "d.csv"
    rows = {"ok": "x0,x1,x2,target\n1,2,3,4\n2,3,4,5\n",
            "nan": "x0,x1,x2,target\n1,nan,3,4\n",
            "ragged": "x0,x1,x2,target\n1,2,3,4\n1,2\n",
            "text": "x0,x1,x2,target\nabc,2,3,4\n"}[make]
    f.write_text(rows)
    argv = ["lasso", "--csv", str(f), "--noise-sd", "1", "--scale", "1", "--draws", "10", "--chains", "2"]
    if "--target" not in extra:
        argv += ["--target", "target"]
    # later flags win in argparse, so the bad value in `extra` replaces the good one
    code = main(argv + extra)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_csv_and_missing_target(tmp_path, capsys):
    assert main(["lasso", "--csv", str(tmp_path / "x.csv"), "--target", "y", "--noise-sd", "1", "--scale", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    assert main(["lasso", "--csv", str(tmp_path / "a.csv"), "--noise-sd", "1", "--scale", "1"]) == 2
    assert "--csv needs --target COLUMN" in capsys.readouterr().err
