"""Laplace regression on data bigger than memory: the sufficient statistics in one pass over the partitions of
several files (Dask), merged by Chan's stable update, against the same data in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bmnn import cluster
from bmnn._checks import InputError
from bmnn.cli import main
from bmnn.datasets import Moments, table_moments
from bmnn.laplace import LaplaceRegression
from bmnn.laplace.posterior import standardize


def material(*args, seed=None, **kw):
    """The material's model (no intercept), with the sampler's seed: these tests check it against its exact
    references."""
    return LaplaceRegression(*args, fit_intercept=False, random_state=seed, **kw)


def _data(rng, n=4000, p=5):
    X = rng.normal(size=(n, p)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [1e6, -3.0, 0.0, 250.0, 1e-3]  # large means too
    y = X @ np.array([2e-6, 1.5, 0.0, -0.02, 0.7]) + rng.normal(size=n) * 0.9 + 3.0
    return X, y


def _write(tmp_path, X, y, parts=7):
    names = [f"x{j}" for j in range(X.shape[1])] + ["y"]
    for i, idx in enumerate(np.array_split(np.arange(len(y)), parts)):
        lines = [",".join(names)] + [",".join(repr(float(v)) for v in (*X[r], y[r])) for r in idx]
        (tmp_path / f"part{i}.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "part*.csv")


def test_chan_merge_equals_the_moments_of_the_whole(rng):
    z = rng.normal(size=(1000, 4)) + 1e8
    parts = np.array_split(z, 9)
    total = Moments.of(parts[0])
    for part in parts[1:]:
        total = total.merge(Moments.of(part))
    whole = Moments.of(z)
    assert total.n == 1000
    np.testing.assert_allclose(total.mean, whole.mean, rtol=1e-14)
    zl = z.astype(np.longdouble)  # the reference, centred in extended precision
    dl = zl - zl.mean(axis=0)
    truth = (dl.T @ dl).astype(np.float64)
    # the data carry about 1e-8 absolute precision at 1e8, so the cross-products can be right to about 1e-7
    np.testing.assert_allclose(total.cross, truth, rtol=1e-6, atol=1e-4)
    raw = z.T @ z - 1000 * np.outer(z.mean(axis=0), z.mean(axis=0))  # the naive formula loses every digit
    assert np.max(np.abs(raw - truth)) > 1e3 * np.max(np.abs(total.cross - truth))
    assert Moments.of(np.empty((0, 4))).merge(whole) is whole


def test_seven_files_on_two_workers_give_the_statistics_map_and_posterior_of_the_data_in_memory(rng, tmp_path):
    X, y = _data(rng)
    glob = _write(tmp_path, X, y)
    with cluster.client(workers=2) as c:
        moments, names, t = table_moments(glob, "y", "csv", client=c)
    assert names == ["x0", "x1", "x2", "x3", "x4", "y"] and t == 5
    G, q, yty, n = moments.regression(t)
    assert n == len(y)
    np.testing.assert_allclose(G, X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(q, X.T @ y, rtol=1e-12)
    assert yty == pytest.approx(y @ y, rel=1e-12)
    Xs, yc = standardize(X, y)
    Gs, qs, ys, _ = moments.regression(t, standardize=True)
    np.testing.assert_allclose(Gs, Xs.T @ Xs, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(qs, Xs.T @ yc, rtol=1e-10, atol=1e-8)
    mem = material(0.9, 0.05, draws=1500, chains=8, seed=4).fit(Xs, yc)
    big = material(0.9, 0.05, draws=1500, chains=8, seed=4).fit_statistics(Gs, qs, ys, n)
    np.testing.assert_allclose(big.coef_map_, mem.coef_map_, atol=1e-9)
    assert big.kkt_violation_.max() < 1e-8
    z = (big.coef_mean_ - mem.coef_mean_) / np.hypot(big.mcse_, mem.mcse_)
    assert np.max(np.abs(z)) < 4
    np.testing.assert_allclose(big.coef_sd_, mem.coef_sd_, rtol=0.1)


def test_learned_sigma_from_statistics_matches_the_rows(rng):
    X, y = _data(rng, n=300)
    Xs, yc = standardize(X, y)
    mem = material(draws=1500, chains=8, seed=1).fit(Xs, yc)
    big = material(draws=1500, chains=8, seed=1).fit_statistics(Xs.T @ Xs, Xs.T @ yc, yc @ yc, 300)
    ds, db = mem.noise_sd_summary_, big.noise_sd_summary_
    assert abs(ds["mean"] - db["mean"]) < 4 * np.hypot(ds["mcse"], db["mcse"])


def test_cli_reads_a_glob_and_refuses_bad_tables_in_one_line(rng, tmp_path, capsys):
    X, y = _data(rng, n=500)
    glob = _write(tmp_path, X, y, parts=3)
    assert main(["lasso", "--csv", glob, "--target", "y", "--noise-sd", "0.9", "--scale", "0.05", "--standardize",
                 "--draws", "200", "--chains", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["map"]) == 5 and d["algorithm"] == "precision"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.csv").write_text("x,y\n1,2\n3,abc\n")
    (tmp_path / "bad" / "b.csv").write_text("x,y\n1,\n")
    for pattern, message in [(str(tmp_path / "bad" / "a.csv*"), "is not a number"),
                             (str(tmp_path / "bad" / "b*.csv"), "is not a number"),
                             (str(tmp_path / "none*.csv"), "no file matches")]:
        assert main(["lasso", "--csv", pattern, "--target", "y", "--noise-sd", "1", "--scale", "1"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.startswith("bmnn lasso: error: --csv:") and len(err.splitlines()) == 1, err
    assert main(["lasso", "--csv", glob, "--target", "nope", "--noise-sd", "1", "--scale", "1"]) == 2
    assert "--target: target column 'nope'" in capsys.readouterr().err


def test_the_n_by_n_draw_is_refused_without_rows(rng):
    X, y = _data(rng, n=50)
    with pytest.raises(InputError, match="needs the rows of X"):
        material(1.0, 1.0, algorithm="bcm").fit_statistics(X.T @ X, X.T @ y, y @ y, 50)


def test_parquet_files_give_the_same_statistics_as_csv(rng, tmp_path):
    import pandas as pd

    X, y = _data(rng, n=900)
    frame = pd.DataFrame(np.column_stack([X, y]), columns=[f"x{j}" for j in range(5)] + ["y"])
    for i, part in enumerate(np.array_split(np.arange(900), 3)):
        frame.iloc[part].to_parquet(tmp_path / f"p{i}.parquet")
    moments, names, t = table_moments(str(tmp_path / "p*.parquet"), "y", "parquet")
    G, q, yty, n = moments.regression(t)
    assert n == 900 and names[t] == "y"
    np.testing.assert_allclose(G, X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(q, X.T @ y, rtol=1e-12)
    (tmp_path / "not.parquet").write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match="is not a readable Parquet file"):
        table_moments(str(tmp_path / "not.parquet"), "y", "parquet")
