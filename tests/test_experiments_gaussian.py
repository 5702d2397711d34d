"""Job 1's records: every check holds, ids follow the material, and the checks are able to fail."""

import dataclasses

import numpy as np
import pytest

from bmnn.experiments import gaussian as eg
from bmnn.experiments.records import close, within_se


@pytest.fixture(scope="module")
def records():
    return eg.run(quick=True)


def test_ids_in_material_order(records):
    assert [r.id for r in records] == ["1.1", "1.2(a)", "1.2(b)", "1.2(c)", "1.2(d)", "1.2(e)", "1.3", "1.4", "1.C"]


def test_every_check_holds(records):
    failed = [(r.id, c) for r in records for c in r.checks if not c.held]
    assert failed == []
    assert all(r.checks for r in records)


def test_quadrature_and_monte_carlo_are_real_checks(records):
    r = records[0]
    assert r.values["ABC draws kept"] > 500
    assert r.values["quadrature variance"] == pytest.approx(r.values["v_n"], rel=1e-7)
    names = {c.name for c in r.checks}
    assert any(n.startswith("SymPy") for n in names) and any("quadrature" in n for n in names)


def test_calibration_shows_plugins_undercover(records):
    cal = records[-1]
    assert cal.data.plugin_mle[0] < 0.9 and cal.data.plugin_map[0] < 0.94
    assert abs(cal.data.full[0] - 0.95) < 5 * cal.data.se


def test_calibration_table_shows_each_hit_rate_with_its_binomial_error(records):
    from bmnn.experiments.records import Sampled
    from bmnn.gaussian import predictive_coverage

    cal, reps = records[-1], eg.QUICK.coverage_reps
    for row, n in zip(cal.table["rows"], cal.data.n, strict=True):
        exact = predictive_coverage(int(n), eg.QUICK.noise_sd, eg.QUICK.prior_sd, cal.data.level)
        assert row[0] == n and len(row) == len(cal.table["columns"]) == 6
        full, mle, mle_exact, map_, map_exact = row[1:]
        assert mle_exact == pytest.approx(float(exact["plugin_mle"]), rel=1e-12)
        assert map_exact == pytest.approx(float(exact["plugin_map"]), rel=1e-12)
        for cell, rate in ((full, cal.data.level), (mle, mle_exact), (map_, map_exact)):
            assert isinstance(cell, Sampled)
            assert cell.se == pytest.approx(np.sqrt(rate * (1 - rate) / reps), rel=1e-12)


def test_the_limit_record_shows_how_far_var_x_given_d_is_above_sigma_squared(records):
    cfg = eg.GaussianConfig(noise_sd=1.7, prior_sd=0.45)  # generic values: sigma^2 and the gap differ
    r = eg.q1_2e_variances(cfg)
    n, s2, t2 = 10**6, 1.7**2, 0.45**2
    assert r.values["Var(x | D) - sigma^2 = v_n, n = 10^6"] == pytest.approx(1 / (n / s2 + 1 / t2), rel=1e-8)
    assert r.values["sigma^2"] == pytest.approx(s2, rel=1e-15)


def test_a_wrong_formula_fails_the_checks():
    cfg = eg.QUICK
    rec = eg.q1_1_posterior(cfg)
    wrong_var = rec.values["v_n"] * 1.05  # what a slip in the precision would give
    assert not close("quadrature variance", rec.values["quadrature variance"], wrong_var, rtol=1e-7).held
    se = wrong_var * np.sqrt(2 / (rec.values["ABC draws kept"] - 1))
    assert not within_se("MC", rec.values["ABC variance"], rec.values["v_n"] * 1.5, se).held


def test_same_seed_same_records():
    a = eg.calibration(dataclasses.replace(eg.QUICK, coverage_reps=2000), ns=(1, 3))
    b = eg.calibration(dataclasses.replace(eg.QUICK, coverage_reps=2000), ns=(1, 3))
    np.testing.assert_array_equal(a.data.full, b.data.full)
