"""Hand-applied mutants of the exact sums, the two-part moments, the streamed reader, the temporary-file cleaner
and the intercept: each is applied to the source, the tests that cover it are run, and the source is restored.
Every mutant must be killed (docs/mutation.md has the last run). Run: ``.venv/bin/python scripts/hand_mutants.py``
(about ten minutes)."""

import pathlib
import subprocess

root = pathlib.Path(__file__).resolve().parents[1]
MUTANTS_ALL = [
    ("src/bmnn/gaussian.py", "total += ((h << 26) + lo) << k", "total += ((h << 25) + lo) << k"),
    ("src/bmnn/gaussian.py", "shift = expo.astype(np.int64) + 1074", "shift = expo.astype(np.int64) + 1073"),
    (
        "src/bmnn/gaussian.py",
        "low = np.add.reduceat(whole & ((1 << 26) - 1), starts)",
        "low = np.add.reduceat(whole & ((1 << 25) - 1), starts)",
    ),
    ("src/bmnn/gaussian.py", "whole = (mant * 2.0**53).astype(np.int64)", "whole = (mant * 2.0**52).astype(np.int64)"),
    ("src/bmnn/gaussian.py", "return math.inf if total > 0 else -math.inf", "return math.inf"),
    (
        "src/bmnn/gaussian.py",
        "mean = np.where(none, m0 + 0.0 * total, (ra * (ra * total) + rb * (rb * m0)) / c)",
        "mean = np.where(none, m0 + 0.0 * total, ((ra * ra) * total + (rb * rb) * m0) / c)",
    ),
    (
        "src/bmnn/gaussian.py",
        "by_mean = (ra * (ra * self.mean_) + rb * (rb * (m0 / nf))) / (c / nf)",
        "by_mean = (ra * (ra * self.mean_) + rb * (rb * m0)) / (c / nf)",
    ),
    (
        "src/bmnn/gaussian.py",
        "            n, exact = self.n_ + n, self._exact + exact",
        "            n, exact = self.n_ + n, exact",
    ),
    (
        "src/bmnn/gaussian.py",
        'return self.frozen().sf(as_real_array("x", x))',
        'return 1 - self.frozen().cdf(as_real_array("x", x))',
    ),
    (
        "src/bmnn/gaussian.py",
        'return self.frozen().logcdf(as_real_array("x", x))',
        'return np.log(self.frozen().cdf(as_real_array("x", x)))',
    ),
    ("src/bmnn/datasets.py", "delta = (m2 - m1) + (l2 - l1)", "delta = m2 - m1"),
    (
        "src/bmnn/datasets.py",
        "        lo = d.mean(axis=0)\n        d -= lo",
        "        lo = 0.0 * d.mean(axis=0)\n        d -= lo",
    ),
    ("src/bmnn/datasets.py", "exp = np.maximum(self.exp, other.exp)", "exp = np.minimum(self.exp, other.exp)"),
    ("src/bmnn/datasets.py", 'buf = "\\r" if held_cr else ""', 'buf = ""'),
    (
        "src/bmnn/_files.py",
        'return started != 0 and int(m["start"]) != 0 and started != int(m["start"])',
        'return started != int(m["start"])',
    ),
    (
        "src/bmnn/_files.py",
        '    if m["host"] != _host_tag():\n        return False',
        "    if False:\n        return False",
    ),
    (
        "src/bmnn/laplace/gibbs.py",
        "rng.gamma(a_s + 0.5 * (n - lost_dof), size=chains)",
        "rng.gamma(a_s + 0.5 * n, size=chains)",
    ),
    (
        "src/bmnn/laplace/estimator.py",
        "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(n)",
        "self.intercept_draws_ = self.y_mean_ - g.draws @ self.x_mean_ + sig * z / np.sqrt(n - 1)",
    ),
]
MUTANTS = MUTANTS_ALL
TESTS = [
    "tests/test_gaussian.py",
    "tests/test_ecosystem.py",
    "tests/test_user_world.py",
    "tests/test_big_data.py",
    "tests/test_runs.py",
]
killed = 0
for path, old, new in MUTANTS:
    p = root / path
    src = p.read_text()
    assert src.count(old) == 1, (path, old)
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run(
            [
                str(root / ".venv/bin/python"),
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                "-m",
                "not slow and not browser",
                "-k",
                "(negative_sum or merged_moments or very_different or sums or sum or exact or extreme or job_1 or intercept or streaming or chan or glob or part or parts or standardis or stale or temp or lock or linked or cleaning or replaces or leaves or refit or map_only) and not signal and not wheel and not memory_limit",
                *TESTS,
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
        )
        dead = r.returncode != 0
    finally:
        p.write_text(src)
    killed += dead
    print(("killed  " if dead else "SURVIVED"), path, new[:70], flush=True)
print(f"{killed} of {len(MUTANTS)} killed")
