"""The ``bmnn`` command line: flags to configs, then calls into experiments and models. No numerics here.

A user's mistake prints one line on stderr and exits with code 2, never a traceback: library errors
(:class:`~bmnn._checks.BmnnError`) are printed with the flag they concern; numerical overflow in the numeric
commands (run under ``np.errstate``) and impossible memory requests become one line too; library warnings are
captured, never printed. ``--json`` output is strict JSON (RFC 8259): an undefined value is ``null``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from bmnn._checks import BmnnError, InputError, plain_float, plain_int
from bmnn._entry import caught as _caught
from bmnn._entry import say as _say
from bmnn._entry import stopped as _stopped

#: the largest 2.5 simulation study the report runs (100 times the default); more is refused before any work
MAX_REPLICATES = 200_000


class FlagError(InputError):
    """A library error restated in the command line's words."""


def _flag(flag: str, exc: BmnnError) -> FlagError:
    return FlagError(f"{flag}: {exc}")


class _Parser(argparse.ArgumentParser):
    # a negative number in scientific notation (--prior-mean -1e5) is a value, not an unknown flag
    _NEGATIVE = re.compile(r"^-(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._NEGATIVE

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_float():
    def parse(text: str) -> float:
        try:
            v = plain_float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
        return v

    return parse


def _finite_float():
    def parse(text: str) -> float:
        try:
            v = plain_float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        return v

    return parse


def _setting_flags(parser: argparse.ArgumentParser, table: dict, names: tuple[str, ...],
                   least: dict[str, int] | None = None) -> None:
    """One flag per setting of a settings table (:mod:`bmnn._settings`): its default, its allowed values and its
    help come from the table; ``least`` raises a number's lower bound on the command line."""
    from bmnn._settings import Setting, check, describe

    for name in names:
        row = table[name]
        if least and name in least:
            row = Setting(**{**vars(row), "low": least[name], "low_open": False})
        default = "" if row.default is None else f" (default {row.default:g})" if row.kind != "str" else (
            f" (default {row.default})")
        kw: dict[str, Any] = {"dest": name, "default": row.default, "help": describe(name, row) + default}
        if row.choices:
            kw["choices"] = row.choices
        else:
            def parse(text: str, name: str = name, row: Setting = row) -> Any:
                try:
                    value = plain_int(text) if row.kind == "int" else plain_float(text)
                except ValueError:
                    raise argparse.ArgumentTypeError(
                        f"expected {'a whole number' if row.kind == 'int' else 'a number'} in {row.interval()}, "
                        f"got {text[:40]!r}") from None
                try:
                    return check(name, row, value)
                except InputError:
                    raise argparse.ArgumentTypeError(f"expected a {'whole ' if row.kind == 'int' else ''}number in "
                                                     f"{row.interval()}, got {text!r}") from None

            kw["type"], kw["metavar"] = parse, "N" if row.kind == "int" else "X"
        parser.add_argument("--" + name.replace("_", "-"), **kw)


def _count(minimum: int = 1, maximum: int | None = None):
    expected = f"a whole number >= {minimum}" if maximum is None else f"a whole number from {minimum} to {maximum:,}"

    def parse(text: str) -> int:
        try:
            v = plain_int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}") from None
        if v < minimum or (maximum is not None and v > maximum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return v

    return parse


def _address(text: str) -> str:
    from bmnn.cluster import check_address

    try:
        return check_address(text, "the address")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_cluster_flags(args: argparse.Namespace) -> None:
    """``--scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``, which stands for it) and ``--workers`` exclude each other;
    both are checked before any work."""
    from bmnn.cluster import scheduler_address

    address = scheduler_address(args.scheduler)
    if address is not None and args.workers is not None:
        where = "--scheduler" if args.scheduler is not None else "$DASK_SCHEDULER_ADDRESS"
        raise InputError(f"--workers sizes an embedded cluster, but {where} names the cluster {address!r}, whose "
                         "own workers run the tasks; give one or the other")


def _text_chunks(path: str, flag: str, stack: contextlib.ExitStack) -> tuple[Iterator[str], str]:
    """The text of ``path`` (``-``: stdin) as UTF-8 chunks, and the name to show for it; the file is closed with
    ``stack``."""
    from bmnn.datasets import decode_stream

    if path == "-":
        if sys.stdin is None:
            raise InputError(f"{flag}: standard input is closed; give a file, or pipe the numbers in")
        if not hasattr(sys.stdin, "buffer"):  # a text stream handed in by a caller
            return iter([sys.stdin.read()]), "<stdin>"
        return decode_stream(sys.stdin.buffer, "<stdin>"), "<stdin>"
    try:
        fh = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the stack
    except FileNotFoundError:
        raise InputError(f"{flag} {path!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{flag} {path!r} is a folder, expected a file of numbers") from None
    except OSError as exc:
        raise InputError(f"{flag} {path!r} cannot be read: {exc.strerror or exc}") from None
    return decode_stream(fh, path), path


def _read_text(path: str, flag: str = "FILE") -> tuple[str, str]:
    with contextlib.ExitStack() as stack:
        chunks, source = _text_chunks(path, flag, stack)
        return "".join(chunks), source


def _strict_json(value: Any, nullable: tuple[str, ...] = (), path: str = "") -> Any:
    """``value`` with every float finite, or ``None`` where undefined and allowed (keys in ``nullable``); a
    non-finite value anywhere else is an overflow the user must hear about, not a ``NaN`` token."""
    if isinstance(value, dict):
        return {k: _strict_json(v, nullable, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v, nullable, path) for v in value]
    if isinstance(value, (float, np.floating)):
        if math.isfinite(value):
            return float(value)
        if path.split(".")[0] in nullable:
            return None
        raise InputError(f"the result {path} is {float(value)}: the computation left float64's range for these "
                         "inputs (rescale the data)")
    return value


def _print_json(value: Any, nullable: tuple[str, ...] = ()) -> None:
    print(json.dumps(_strict_json(value, nullable), allow_nan=False))


def _normal(dist: Any) -> dict[str, float]:
    return {"mean": float(dist.mean()), "var": float(dist.var())}


def cmd_gaussian(args: argparse.Namespace) -> int:
    from bmnn.datasets import iter_numbers
    from bmnn.gaussian import NormalKnownVariance

    m = NormalKnownVariance(args.noise_sd, args.prior_sd, args.prior_mean).fit([])
    with contextlib.ExitStack() as stack:  # streamed: memory stays bounded whatever the input's length
        chunks, source = _text_chunks(args.file, "FILE", stack)
        for batch in iter_numbers(chunks, source, header=args.header):
            m.update(batch)
    n = int(m.n_)
    out = {
        "n": n,
        "sum": float(m.sum_) if math.isfinite(m.sum_) else None,
        "mle": float(m.mle()) if n else None,
        "map": float(m.map()),
        "posterior": _normal(m.posterior()),
        "predictive": _normal(m.predictive()),
        "plugin_mle": _normal(m.plugin_predictive("mle")) if n else None,
        "plugin_map": _normal(m.plugin_predictive("map")),
    }
    if out["sum"] is None:  # beyond float64, with a finite mean: given as decimal text
        out["sum_text"] = str(m.sum_text(10))
    out = _strict_json(out)
    if args.json:
        _print_json(out)
        return 0
    if n == 0:
        print("note: no data; the posterior is the prior and the predictive is the prior predictive")
    total = (f"{out['sum']:.10g}" if out["sum"] is not None
             else f"{out['sum_text']} (beyond float64's range; the mean is within it)")
    rows = [("n", f"{n}"), ("sum x", total),
            ("mu_MLE", "undefined (n = 0)" if out["mle"] is None else f"{out['mle']:.10g}"),
            ("mu_MAP", f"{out['map']:.10g}")]
    for key, label in (("posterior", "mu | D"), ("predictive", "x | D"), ("plugin_mle", "x | mu_MLE"),
                       ("plugin_map", "x | mu_MAP")):
        d = out[key]
        rows.append((label, "undefined (n = 0)" if d is None else f"N(mean {d['mean']:.10g}, var {d['var']:.10g})"))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _location(args: argparse.Namespace, p: int):
    from bmnn.datasets import parse_numbers

    if args.location_file is not None:
        text, source = _read_text(args.location_file, "--location-file")
        loc = parse_numbers(text, source)
    elif args.location is not None:
        loc = parse_numbers(args.location, "--location")
        if loc.size == 0:
            raise InputError("--location must be a number or a comma-separated list of p numbers, got ''")
    else:
        return 0.0
    if loc.size == 1:
        return float(loc[0])
    if loc.size != p:
        raise InputError(f"the location has {loc.size} values but X has p = {p} columns (give 1 or {p})")
    return loc


def cmd_lasso(args: argparse.Namespace) -> int:
    from bmnn.datasets import load_bundled, read_csv_xy
    from bmnn.laplace.posterior import standardize

    big = args.parquet is not None or (args.csv is not None and any(ch in args.csv for ch in "*?["))
    if args.dataset is not None:
        X, y, names = load_bundled(args.dataset)
    elif args.target is None:
        raise InputError(f"{'--parquet' if args.parquet else '--csv'} needs --target COLUMN (the column to predict)")
    elif big:  # one pass over the files' partitions: only the sufficient statistics are kept
        stats, names = _table_statistics(args)
    else:
        try:
            X, y, names = read_csv_xy(args.csv, args.target)
        except InputError as exc:
            raise _flag("--target" if exc.param == "target" else "--csv", exc) from None
    if args.standardize and not big:
        X, y = standardize(X, y, names)
    n_rows, p = stats[3] if big else X.shape[0], len(names)
    loc = _location(args, p)
    if args.save is not None and not args.save.endswith(".nc"):
        raise InputError(f"--save expects a file name ending in .nc (netCDF), got {args.save!r}")
    if args.save is not None:
        from bmnn._files import refuse_foreign, writable_folder

        writable_folder(Path(args.save).parent or Path("."), "folder of --save")
        refuse_foreign(args.save, _is_bmnn_netcdf)  # before any sampling
    m = _regressor(args, loc)
    if big:
        gram, xty, yty, n, x_mean, y_mean = stats
        m.fit_statistics(gram, xty, yty, n, x_mean=x_mean, y_mean=y_mean, centered=True, feature_names=names)
    else:
        m.fit(X, y, feature_names=names)
    lo, hi = m.coef_interval(0.9)
    prior = getattr(args, "prior", "laplace")
    out = {"prior": prior, "feature_names": names, "fit_intercept": m.fit_intercept,
           "intercept": m.intercept_ if m.fit_intercept else None,
           "posterior_mean": m.coef_mean_.tolist(), "posterior_sd": m.coef_sd_.tolist(), "mcse": m.mcse_.tolist(),
           "ess_bulk": m.ess_bulk_.tolist(), "rhat": m.rhat_.tolist(), "q05": lo.tolist(), "q95": hi.tolist(),
           "algorithm": m.algorithm_}
    if hasattr(m, "coef_map_"):  # the horseshoe has no MAP
        out.update(map=m.coef_map_.tolist(), map_at=m.map_at_,
                   intercept_map=m.intercept_map_ if m.fit_intercept else None)
    if prior == "laplace":
        out.update(**{"lambda": m.lambda_, "tau_star": m.tau_star_, "kkt_violation": m.kkt_violation_.tolist()})
    elif prior == "gaussian":
        out["alpha"] = m.alpha_
    for key, attr in (("noise_sd", "noise_sd_summary_"), ("scale", "scale_summary_")):
        if hasattr(m, attr):
            out[key] = getattr(m, attr)
    out = _strict_json(out, nullable=UNDEFINED_IN_LASSO)
    if args.save is not None:
        import io

        from bmnn._files import atomic_write

        buf = io.BytesIO()  # HDF5 writes to memory; the disk is written by atomic_write alone
        source = args.dataset or args.csv or args.parquet
        idata = m.to_inference_data(source=source) if big else m.to_inference_data(X, y, source=source)
        idata.to_datatree().to_netcdf(buf, engine="h5netcdf")
        atomic_write(args.save, buf.getbuffer(), owned=_is_bmnn_netcdf)
    if args.json:
        _print_json(out)
        return 0
    _print_regression(out, m, (n_rows, p), args.save)
    return 0


def _regressor(args: argparse.Namespace, loc):
    """The estimator of ``--prior`` (``bmnn lasso``: the Laplace prior) from the command's options; an option the
    prior does not take is refused."""
    from bmnn.laplace import GaussianPriorRegression, HorseshoeRegression, LaplaceRegression
    from bmnn.laplace.settings import SCALE_PRIOR, SamplerSettings

    prior = getattr(args, "prior", "laplace")
    cls = {"laplace": LaplaceRegression, "horseshoe": HorseshoeRegression, "gaussian": GaussianPriorRegression}[prior]
    takes = set(cls._get_param_names())
    kw = {name: getattr(args, name) for name in SamplerSettings.names() if name in takes}
    if args.coordinate_steps is not None and "coordinate_steps" not in takes:
        raise InputError(f"--coordinate-steps: the {prior} prior has no collapsed coordinate steps (laplace only)")
    if args.scale_prior is not None and "scale_prior" not in takes:
        raise InputError(f"--scale-prior: the {prior} prior's scale has a fixed prior (a half-Cauchy)")
    if "scale_prior" in takes:
        kw["scale_prior"] = tuple(args.scale_prior) if args.scale_prior is not None else SCALE_PRIOR[prior][0]
    return cls(args.noise_sd, args.scale, loc, fit_intercept=not args.no_intercept, random_state=args.seed,
               noise_prior=args.noise_prior, **kw)


def _print_regression(out: dict, m, shape: tuple[int, int], saved: str | None) -> None:
    """The text summary of ``bmnn lasso`` / ``bmnn regress``."""
    prior, names = out["prior"], out["feature_names"]
    n_rows, p = shape
    sym = {"laplace": "tau", "horseshoe": "tau", "gaussian": "s"}[prior]
    if prior == "laplace":
        ts, at = out["tau_star"], m.map_at_
        print(f"N = {n_rows}, p = {p}, lambda = {m.lambda_:.6g}, tau* = "
              + ("unbounded (y = X mu: the MAP is the location for every tau)" if ts is None else f"{ts:.6g}")
              + ("  (tau <= tau*: the MAP is the location)" if ts is not None and at["scale"] <= ts else ""))
    elif prior == "gaussian":
        print(f"N = {n_rows}, p = {p}, Gaussian prior; the MAP is ridge regression with alpha = {m.alpha_:.6g}")
    else:
        print(f"N = {n_rows}, p = {p}, horseshoe prior (it has no MAP: its density is infinite at the location)")
    for key, name in (("noise_sd", "sigma"), ("scale", sym)):
        if key in out:
            d = out[key]
            print(f"{name} learned: mean {d['mean']:.5g}, median {d['median']:.5g}, 90% interval "
                  f"[{d['q05']:.5g}, {d['q95']:.5g}], ESS {_fmt(d['ess_bulk'], '.0f')}, R-hat {_fmt(d['rhat'], '.3f')}")
    at = out.get("map_at")
    if at is not None and at["scale_from"] != "given" or at is not None and at["noise_sd_from"] == "posterior median":
        sigma = "" if at["noise_sd"] is None else f"sigma = {at['noise_sd']:.5g} ({at['noise_sd_from']}) and "
        print(f"the MAP is taken at {sigma}{sym} = {at['scale']:.5g} ({at['scale_from']})")
    if not m.fit_intercept:
        print("no intercept (--no-intercept: the material's model)")
    else:
        print(f"intercept: {m.intercept_:.6g} (posterior mean; flat prior)"
              + (f", at the MAP {m.intercept_map_:.6g}" if "map" in out else ""))
    w = max(8, *(len(n) for n in names))
    has_map = "map" in out
    print(f"{'feature':<{w}}  " + (f"{'MAP':>11}  " if has_map else "") + f"{'post. mean':>11}  {'post. sd':>10}  "
          f"{'90% interval':>25}  {'MCSE':>9}  {'ESS bulk':>9}  {'R-hat':>6}")

    def cell(v, spec, width):
        return f"{_fmt(v, spec):>{width}}"

    for j, name in enumerate(names):
        iv = f"[{out['q05'][j]:.5g}, {out['q95'][j]:.5g}]"
        print(f"{name:<{w}}  " + (f"{out['map'][j]:>11.5g}  " if has_map else "")
              + f"{out['posterior_mean'][j]:>11.5g}  {cell(out['posterior_sd'][j], '.4g', 10)}  {iv:>25}  "
              f"{cell(out['mcse'][j], '.2g', 9)}  {cell(out['ess_bulk'][j], '.0f', 9)}  "
              f"{cell(out['rhat'][j], '.3f', 6)}")
    tail = f"Gaussian draw: {m.algorithm_}" + (f"; draws saved to {saved}" if saved else "")
    if prior == "laplace":
        tail = f"MAP certificate (largest subgradient violation / lambda): {max(out['kkt_violation']):.2e}; " + tail
    print(tail)
    if any(r is None for r in out["rhat"]):
        print("n/a: R-hat needs at least two chains (and ESS and MCSE at least four draws)")


def _is_bmnn_netcdf(path: Path) -> bool:
    """Whether ``path`` is an InferenceData file ``bmnn lasso --save`` wrote (its posterior's ``model`` mark)."""
    try:
        import h5py

        with h5py.File(path, "r") as fh:
            model = fh["posterior"].attrs.get("model", b"")
    except Exception:  # not HDF5, no posterior group, unreadable: not bmnn's
        return False
    return (model.decode() if isinstance(model, bytes) else str(model)).startswith("bmnn ")


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _table_statistics(args: argparse.Namespace):
    """``((X^T X, X^T y, y^T y, n), names)`` of the files of ``--csv GLOB`` or ``--parquet GLOB``, on Dask."""
    from bmnn import cluster
    from bmnn.datasets import table_moments

    flag, kind = ("--parquet", "parquet") if args.parquet else ("--csv", "csv")
    address = cluster.scheduler_address(args.scheduler)
    try:
        if address is not None:
            with cluster.client(address) as c:
                moments, cols, t = table_moments(getattr(args, kind), args.target, kind, client=c)
        else:
            moments, cols, t = table_moments(getattr(args, kind), args.target, kind)
        stats = (*moments.regression(t, args.standardize, center=not args.no_intercept, names=cols),
                 *moments.means(t, args.standardize))
    except InputError as exc:
        raise _flag("--target" if exc.param == "target" else flag, exc) from None
    names = [c for j, c in enumerate(cols) if j != t]
    return stats, names


#: results of ``bmnn lasso`` that are undefined for some valid inputs, written as JSON ``null`` (text ``n/a``):
#: tau* when y = X mu exactly (every tau gives the MAP mu), R-hat with one chain, and ESS, MCSE and the sd when
#: there are too few draws
UNDEFINED_IN_LASSO = ("tau_star", "rhat", "ess_bulk", "mcse", "posterior_sd", "noise_sd", "scale")


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from bmnn.experiments.sigmoid_mlp import AUTOGRAD_BOUND, FD_BOUND, gradient_errors

    errs = gradient_errors(args.inputs, args.hidden, args.batch, args.seed)
    ok = all(v <= FD_BOUND for v in errs["finite_differences"].values()) and all(
        v <= AUTOGRAD_BOUND for v in errs["autograd"].values())
    if args.json:
        _print_json(errs)
    else:
        print(f"M = {args.inputs}, H = {args.hidden}, N = {args.batch}, seed {args.seed}: largest relative errors")
        print(f"{'parameter':<10}  {'finite differences':>18}  {'torch.autograd':>15}")
        for k in errs["autograd"]:
            print(f"{k:<10}  {errs['finite_differences'][k]:>18.2e}  {errs['autograd'][k]:>15.2e}")
        print(f"bounds: {FD_BOUND:g} (finite differences), {AUTOGRAD_BOUND:g} (autograd): "
              f"{'all within' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


def _write_training_figures(ck: dict, arrays: dict, out: Path, title: str, earlier: set[str]) -> dict:
    """training.png and confusion.png from a checkpoint; returns the test metrics. A figure already there is replaced
    when it belongs to the run (``earlier``: the run's files when the command started) or carries bmnn's mark."""
    from bmnn import plots
    from bmnn.datasets import FASHION_CLASSES
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint

    def owned(path: Path) -> bool:
        return path.name in earlier or plots.is_bmnn_png(path)

    metrics = evaluate_checkpoint(ck, arrays)
    plots.save_png(plots.training_progress(ck["history"], title).figure, out / "training.png", owned=owned)
    plots.save_png(plots.confusion(metrics["confusion"], FASHION_CLASSES).figure, out / "confusion.png", owned=owned)
    return metrics


def _fashion_mnist(data_dir: str | None):
    from bmnn.datasets import DataNotFound, load_fashion_mnist

    try:
        return load_fashion_mnist(data_dir)
    except DataNotFound as exc:
        raise FlagError(f"{exc} (on the command line: --data-dir D)") from None


def cmd_train(args: argparse.Namespace) -> int:
    from bmnn._files import writable_folder
    from bmnn.scratch_mlp import runs
    from bmnn.scratch_mlp.config import make_config, parse_setting
    from bmnn.scratch_mlp.train import TrainingDiverged, check_run_folder, resolve_device, train

    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "device": args.device, "validation": args.validation, "backward": args.backward, "threads": args.threads}
    extra = {}
    for text in args.set or []:
        try:
            key, value = parse_setting(text)
        except InputError as exc:
            raise _flag("--set", exc) from None
        if key in flags:
            raise InputError(f"--set {key}: use --{key.replace('_', '-')} instead")
        if key in extra:
            raise InputError(f"--set {key} is given twice ({extra[key]!r} and {value!r}); give it once")
        extra[key] = value
    if args.resume and args.overwrite:
        raise InputError("--resume and --overwrite exclude each other: --resume continues the run in --out, "
                         "--overwrite replaces it")
    cfg = make_config(args.recipe, **extra, **flags)
    resolve_device(cfg.device)
    try:
        out = writable_folder(args.out, "folder")
    except InputError as exc:
        raise _flag("--out", exc) from None
    try:
        with runs.run_lock(out):  # held from the first check to the last figure
            if not args.overwrite:  # refuse before loading data; an overwrite clears the old run only in train()
                check_run_folder(cfg, out, args.resume, False, log=lambda *_: None)
            earlier = ({name for name in runs.RUN_FILES if (out / name).exists()} if runs.run_state(out) is not None
                       else set())  # a run's own files; anything that appears later must carry bmnn's mark
            arrays = _fashion_mnist(args.data_dir)
            print(f"training recipe {cfg.recipe!r} for {cfg.epochs} epochs into {out}")
            ck = train(cfg, arrays, out, resume=args.resume, overwrite=args.overwrite)
            metrics = _write_training_figures(ck, arrays, out, f"recipe {cfg.recipe}", earlier)
    except InputError as exc:
        if exc.param != "out":
            raise
        raise _flag("--out", exc) from None
    except runs.RunExists as exc:
        raise FlagError(f"--out {str(exc.folder)!r} already holds {exc.state}: add --resume to continue it, choose "
                        "another --out, or add --overwrite to replace it") from None
    except runs.SettingsDiffer as exc:
        raise FlagError(f"--resume: the run in {str(exc.folder)!r} was started with other settings "
                        f"({'; '.join(exc.differences)}); give its settings (see its history.json) or choose "
                        "another --out") from None
    except runs.RunInUse as exc:
        raise _flag("--out", exc) from None
    except TrainingDiverged as exc:
        raise FlagError(f"{exc} (flags: --lr, or --set KEY=VALUE for the others)") from None
    seconds = sum(h["seconds"] for h in ck["history"])
    print(f"test accuracy {metrics['accuracy']:.4f}, test loss {metrics['loss']:.4f} after {ck['epoch']} epochs "
          f"({seconds:.0f} s of training); wrote {out / 'checkpoint.pt'}, history.json, training.png, confusion.png")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from bmnn.experiments.sweep import parse_grid, parse_seeds, sweep

    _check_cluster_flags(args)
    try:
        seeds = parse_seeds(args.seeds)
    except InputError as exc:
        raise _flag("--seeds", exc) from None
    try:
        grid = parse_grid(args.set or [])
    except InputError as exc:
        raise _flag("--set", exc) from None
    try:
        doc = sweep(args.recipe, seeds, grid, args.out, data_dir=args.data_dir, scheduler=args.scheduler,
                    workers=args.workers)
    except InputError as exc:
        if str(exc).startswith("sweep folder"):
            raise _flag("--out", exc) from None
        if exc.param == "set":
            raise _flag("--set", exc) from None
        raise
    for s in doc["summary"]:
        sd = "n/a (one seed)" if s["sd"] is None else f"{s['sd']:.4f}"
        print(f"{s['label']}: test accuracy mean {s['mean']:.4f}, sd {sd} over seeds {s['seeds']}")
    print(f"wrote {Path(args.out) / 'sweep.json'} and sweep.png")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint
    from bmnn.scratch_mlp.runs import CheckpointError, load_checkpoint

    try:
        ck = load_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise _flag("--checkpoint", exc) from None
    metrics = evaluate_checkpoint(ck, _fashion_mnist(args.data_dir))
    if args.json:
        _print_json({"accuracy": metrics["accuracy"], "loss": metrics["loss"], "epoch": ck.get("epoch")})
    else:
        epoch = f"epoch {ck['epoch']}" if "epoch" in ck else "epoch not recorded"
        print(f"{args.checkpoint}: test accuracy {metrics['accuracy']:.4f}, test loss {metrics['loss']:.4f} "
              f"(10,000 test images; {epoch})")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from bmnn import datasets
    from bmnn._files import writable_folder
    from bmnn.datasets import fetch_fashion_mnist

    if args.dir is not None:
        try:
            writable_folder(args.dir, "folder")
        except InputError as exc:
            raise _flag("--dir", exc) from None
    dest = fetch_fashion_mnist(args.dir, base_url=datasets.FASHION_MNIST_URL, progress=sys.stderr.isatty())
    print(f"Fashion-MNIST verified in {dest}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bmnn._files import ForeignFile, writable_folder
    from bmnn.cluster import scheduler_address
    from bmnn.report.build import build_report

    _check_cluster_flags(args)
    scheduler = scheduler_address(args.scheduler)  # $DASK_SCHEDULER_ADDRESS stands for --scheduler
    try:
        out = writable_folder(args.out, "folder")
    except InputError as exc:
        raise _flag("--out", exc) from None
    try:
        writable_folder(args.runs, "folder")
    except InputError as exc:
        raise _flag("--runs", exc) from None
    try:
        path, held, total = build_report(out, quick=args.quick, data_dir=args.data_dir, runs_dir=args.runs,
                                         log=print, replicates=args.replicates, scheduler=scheduler,
                                         workers=args.workers)
    except ForeignFile as exc:
        raise _flag("--out", exc) from None
    print(f"wrote {path}: {held} of {total} checks held")
    if held < total:
        print(f"{total - held} check(s) did not hold: they are listed at the top of the report", file=sys.stderr)
    return 1 if args.strict and held < total else 0


def _regression_parser(sub, command: str) -> None:
    """The options of ``bmnn lasso`` and ``bmnn regress`` (which adds ``--prior``)."""
    from bmnn.laplace.settings import SCALE, SCALE_PRIOR, SamplerSettings, help_text
    from bmnn.laplace.settings import SETTINGS as L2S

    if command == "lasso":
        lz = sub.add_parser("lasso", help="job 2: MAP and posterior of linear regression with a Laplace prior")
    else:
        lz = sub.add_parser("regress", help="job 2 with a choice of prior: Laplace (as lasso), horseshoe or Gaussian")
        lz.add_argument("--prior", choices=tuple(SCALE), default="laplace",
                        help="the prior on the weights: laplace (the material's; MAP = lasso), horseshoe (keeps large "
                             "signals, no MAP) or gaussian (MAP = ridge; exact with --scale) (default laplace)")
    src = lz.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=["diabetes"], help="a data set bundled with scikit-learn")
    src.add_argument("--csv", metavar="FILE", help="a CSV file with a header row; a glob (data/*.csv) of several "
                     "is read in one pass over its partitions, keeping only the sufficient statistics")
    src.add_argument("--parquet", metavar="GLOB", help="Parquet files, read like a --csv glob")
    lz.add_argument("--target", metavar="COLUMN", help="with --csv: the column to predict")
    lz.add_argument("--noise-sd", type=_positive_float(), help=help_text("noise_sd"))
    scale_help = help_text("scale") if command == "lasso" else "; ".join(
        f"{prior}: {row.meaning}" for prior, row in SCALE.items())
    lz.add_argument("--scale", type=_positive_float(), help=scale_help)
    lz.add_argument("--scale-prior", nargs=2, type=_positive_float(), metavar=("A", "B"),
                    help="; ".join(f"{prior}: {text} (default {' '.join(f'{v:g}' for v in pair)})"
                                   for prior, (pair, text) in SCALE_PRIOR.items()
                                   if command == "regress" or prior == "laplace"))
    lz.add_argument("--noise-prior", nargs=2, type=_positive_float(), metavar=("A0", "B0"),
                    help=f"{help_text('noise_prior')}")
    _setting_flags(lz, L2S, SamplerSettings.names(), least={"draws": 1})
    lz.add_argument("--save", metavar="FILE.nc", help="write the draws as ArviZ InferenceData (netCDF)")
    lz.add_argument("--scheduler", metavar="ADDR", type=_address,
                    help="with a glob: read the files on this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
                         "else here)")
    loc = lz.add_mutually_exclusive_group()
    loc.add_argument("--location", metavar="V", help="mu: one number, or p numbers separated by commas")
    loc.add_argument("--location-file", metavar="F", help="mu: a file of p numbers")
    lz.add_argument("--standardize", action="store_true", help="standardise the columns of X and centre y first")
    lz.add_argument("--no-intercept", action="store_true",
                    help="fit no intercept (the material's model); by default an intercept with a flat prior is "
                         "fitted, as scikit-learn's linear models do")
    lz.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")
    lz.add_argument("--json", action="store_true", help="print one JSON object")
    lz.set_defaults(func=cmd_lasso)


def build_parser() -> argparse.ArgumentParser:
    from bmnn import __version__
    from bmnn.scratch_mlp import config as C

    p = _Parser(prog="bmnn", description="Bayesian Methods and Neural Networks: computed, verified and reported.")
    p.add_argument("--version", action="version", version=f"bmnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("report", help="run every job and write the HTML report (the main job)")
    r.add_argument("--out", default="report", help="output folder (default: report)")
    r.add_argument("--quick", action="store_true", help="smaller simulations, for CI")
    r.add_argument("--strict", action="store_true", help="exit with code 1 when any check does not hold")
    r.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search)")
    r.add_argument("--runs", default="runs", metavar="DIR",
                   help="job 4's training runs: a run with the report's settings is reused when finished and resumed "
                        "when interrupted; a folder holding another run is never written over (default runs)")
    r.add_argument("--replicates", type=_count(2, MAX_REPLICATES), metavar="N",
                   help="replicates of the 2.5 simulation study at n = p (the curve over n gets N/3 each)")
    r.add_argument("--scheduler", metavar="ADDR", type=_address,
                   help="run the simulation study's blocks on this Dask scheduler")
    r.add_argument("--workers", type=_count(), help="run them on an embedded Dask cluster of this many workers")
    r.set_defaults(func=cmd_report)

    g = sub.add_parser("gaussian", help="job 1: posterior, MLE, MAP and predictives for data with known noise sd")
    g.add_argument("--noise-sd", required=True, type=_positive_float(), help="sigma, the known noise sd")
    g.add_argument("--prior-sd", required=True, type=_positive_float(), help="tau, the prior sd of mu")
    g.add_argument("--prior-mean", default=0.0, type=_finite_float(), help="m0 (default 0)")
    g.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="numbers separated by white space, commas or semicolons; lines starting with # are "
                        "skipped; - or none: stdin")
    g.add_argument("--header", action="store_true", help="skip the first line that is not blank or a # comment")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.set_defaults(func=cmd_gaussian)

    for command in ("lasso", "regress"):
        _regression_parser(sub, command)

    gc = sub.add_parser("gradcheck", help="job 3: hand gradients against finite differences and torch.autograd")
    gc.add_argument("--inputs", type=_count(), default=5, metavar="M", help="input dimension M (default 5)")
    gc.add_argument("--hidden", type=_count(), default=4, metavar="H", help="hidden units H (default 4)")
    gc.add_argument("--batch", type=_count(), default=8, metavar="N", help="data points N (default 8)")
    gc.add_argument("--seed", type=_count(0), default=0, metavar="K", help="random seed (default 0)")
    gc.add_argument("--json", action="store_true", help="print one JSON object")
    gc.set_defaults(func=cmd_gradcheck)

    tr = sub.add_parser("train", help="job 4: train the from-scratch 784-256-10 MLP on Fashion-MNIST")
    tr.add_argument("--recipe", choices=C.choices("recipe"), default="best",
                    help="classic: the material's set-up; best (default): tuned training of the same architecture")
    tr.add_argument("--epochs", type=_count(), help="override the recipe's epochs")
    tr.add_argument("--batch-size", type=_count(), help="override the recipe's batch size")
    tr.add_argument("--lr", type=_positive_float(), help="override the recipe's (peak) learning rate")
    tr.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")
    tr.add_argument("--backward", choices=C.choices("backward"), help="override the recipe's backward mode")
    tr.add_argument("--validation", type=_count(0), help="hold out this many training images for validation")
    tr.add_argument("--threads", type=_count(0), help="torch CPU threads (default: all cores)")
    tr.add_argument("--device", choices=C.choices("device"), default="cpu", help="where to train (default cpu)")
    flags = {a.dest for a in tr._actions}  # the settings with a flag of their own; --set takes the others
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override any other training setting (repeatable), e.g. --set dropout=0.2 --set "
                         "augment=cross; the settings: " + "; ".join(
                             f"{name}: {C.describe(name)}" for name in C.FIELDS if name not in flags))
    tr.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search)")
    tr.add_argument("--out", default="runs/mlp", help="output folder (default runs/mlp); a folder that holds a run "
                    "is refused unless --resume or --overwrite")
    mode = tr.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same settings)")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    tr.set_defaults(func=cmd_train)

    sw = sub.add_parser("sweep", help="job 4: training runs over seeds and settings, as Dask tasks")
    sw.add_argument("--recipe", choices=C.choices("recipe"), default="best", help="the recipe (default best)")
    sw.add_argument("--seeds", default="0-4", help="seeds: a range, a list, or both (default 0-4)")
    sw.add_argument("--set", action="append", metavar="KEY=V1,V2",
                    help="a setting and its values to sweep (repeatable: every combination is run)")
    sw.add_argument("--out", default="runs/sweep", help="the sweep's folder (default runs/sweep); finished runs "
                    "in it are reused and interrupted ones resumed")
    sw.add_argument("--scheduler", metavar="ADDR", type=_address,
                    help="an existing Dask scheduler, e.g. tcp://host:8786 (default: $DASK_SCHEDULER_ADDRESS, else an "
                    "embedded cluster with one worker per core)")
    sw.add_argument("--workers", type=_count(), help="workers of the embedded cluster (default: one per core)")
    sw.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search); "
                    "on a real cluster, a path every worker can read")
    sw.set_defaults(func=cmd_sweep)

    ev = sub.add_parser("evaluate", help="job 4: test accuracy of a saved checkpoint")
    ev.add_argument("--checkpoint", required=True, metavar="FILE")
    ev.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=cmd_evaluate)

    da = sub.add_parser("data", help="data sets")
    dsub = da.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    fe = dsub.add_parser("fetch", help="download and verify Fashion-MNIST (needs internet access)")
    fe.add_argument("--dir", metavar="D", help="destination (default ~/.cache/bmnn/fashion-mnist)")
    fe.set_defaults(func=cmd_data_fetch)
    return p


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_SURROGATE_TEXT = re.compile(r"\\udc([89a-f][0-9a-f])")


def _one_line(text: str) -> str:
    """A message as one printable line: no ANSI escapes, no line breaks or other control characters; the bytes of a
    file name that is not UTF-8 shown as ``\\xNN``, not lost."""
    text = _SURROGATE_TEXT.sub(r"\\x\1", _ANSI.sub("", text))  # as repr() wrote them: \udce9 -> \xe9
    text = "".join(f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF else ch for ch in text)
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


#: caches and configuration that libraries write at import: (environment variable, default folder)
_CACHES = (("XDG_CACHE_HOME", "~/.cache"), ("MPLCONFIGDIR", "~/.config/matplotlib"))


def _private_cache() -> Path:
    """A folder of this user's alone for the libraries' caches: ``$TMPDIR/bmnn-<uid>`` when it is a real folder
    owned by this user and closed to others, else a fresh one (removed at exit)."""
    import atexit
    import shutil
    import stat
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tempfile.gettempdir()) / f"bmnn-{uid if uid is not None else 'user'}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(base)
        if stat.S_ISDIR(st.st_mode) and (uid is None or st.st_uid == uid) and not st.st_mode & 0o077:
            return base
    except OSError:
        pass
    fresh = Path(tempfile.mkdtemp(prefix="bmnn-cache-"))
    atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    return fresh


def _writable_caches() -> None:
    """Where the home folder (or the cache a variable names) cannot be written, or does not exist, point the
    libraries' caches at a private temporary folder instead, so that a read-only or missing home neither stops a
    command nor prints warnings, and no home folder is made."""
    import tempfile

    home_exists = os.path.isdir(os.path.expanduser("~"))
    for var, default in _CACHES:
        path = Path(os.path.expanduser(os.environ.get(var) or default))
        try:  # writable if a file can be made in it (os.access says yes to root even on /proc)
            if not (os.environ.get(var) or home_exists):
                raise FileNotFoundError  # a home folder that does not exist is not bmnn's to make
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
            continue
        except OSError:
            pass
        tmp = _private_cache() / var.lower()
        try:
            tmp.mkdir(exist_ok=True, mode=0o700)
        except OSError:
            continue
        os.environ[var] = str(tmp)


#: the commands that start Dask, vl-convert or torch, and how many open files they need
_FILES_NEEDED = {"report": 512, "sweep": 512, "lasso": 256, "regress": 256, "train": 128, "evaluate": 128}


def _check_open_files(command: str) -> None:
    """Raise the soft limit on open files towards what ``command`` needs; refuse in one line, before any work, when
    the hard limit is below it."""
    need = _FILES_NEEDED.get(command)
    try:
        import resource
    except ImportError:  # not POSIX: no such limit to check
        return
    if need is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard == resource.RLIM_INFINITY or hard >= need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        return
    raise InputError(f"bmnn {command} needs to open up to {need} files at once, but this process may open only "
                     f"{hard} (ulimit -n); raise the limit")


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 success, 1 a failed check where the command promises it, or a fault of
    the machine such as a full disk; 2 a usage or input error; 128 + N for signal N)."""
    if sys.stdout is None:
        _say("bmnn: error: standard output is closed; nothing could be printed (run it with an open stdout)")
        return 1
    try:
        os.getcwd()
    except FileNotFoundError:  # libraries (torch's MKL, Dask) fail on it with messages that name nothing
        _say("bmnn: error: the current folder no longer exists (it was deleted or moved); change to an existing "
             "folder and run the command again")
        return 1
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    where = f"bmnn {args.command}" + (f" {args.data_command}" if getattr(args, "data_command", None) else "")
    numeric = args.command in ("gaussian", "lasso", "regress", "gradcheck")
    if hasattr(sys.stdout, "reconfigure"):  # a name a terminal's encoding cannot show is escaped, not fatal
        try:
            sys.stdout.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass
    stdout, sys.stdout = sys.stdout, _NamedStdout(sys.stdout)
    try:
        _writable_caches()
        _check_open_files(args.command)
        if _caught() is not None:  # a signal whose exception a library swallowed while bmnn started
            raise KeyboardInterrupt
        with warnings.catch_warnings(), np.errstate(**(_RAISE if numeric else {})):
            warnings.simplefilter("ignore")  # library warnings never reach the terminal; results carry the facts
            code = int(args.func(args))
        if _caught() is not None:  # a signal whose exception a library swallowed still stops the command
            raise KeyboardInterrupt
        sys.stdout.flush()
        return code
    except BaseException as exc:  # noqa: BLE001 -- sorted by _failure; what it does not know is raised again
        return _failure(exc, where, args.command)
    finally:
        sys.stdout = stdout


def _failure(exc: BaseException, where: str, command: str) -> int:
    """Says in one line why the command stopped and returns its exit code. A signal that has arrived decides, whatever
    exception followed it (see :mod:`bmnn._entry`); an exception nobody expects is raised again."""
    signum = _caught()
    if signum is None and isinstance(exc, KeyboardInterrupt):
        signum = getattr(exc, "signum", signal.SIGINT)
    if signum is not None:
        _say(f"{where}: {_stopped(signum)}")
        return 128 + int(signum)
    if isinstance(exc, BmnnError):
        message = str(exc)
    elif isinstance(exc, (FloatingPointError, OverflowError, ZeroDivisionError)):
        message = (f"a result left float64's range for these inputs ({exc}); rescale the data or choose less "
                   "extreme settings")
    elif isinstance(exc, MemoryError):
        message = "not enough memory for this request" + _MEMORY_ADVICE.get(command, "")
    elif isinstance(exc, ImportError):  # a library that cannot be loaded, most often under a memory limit (ulimit -v)
        _say(f"{where}: error: {_one_line(_import_message(exc))}")
        return 1
    elif isinstance(exc, OSError):  # the environment, not the user: a full disk, a vanished folder, a closed stream
        _say(f"{where}: error: {_one_line(_os_message(exc))}")
        return 1
    else:
        raise exc
    _say(f"{where}: error: {_one_line(message)}")
    return 2


#: what to ask for less of, per command, when memory runs out
_MEMORY_ADVICE = {"lasso": "; ask for fewer draws or chains",
                  "regress": "; ask for fewer draws or chains", "gradcheck": "; ask for a smaller batch or network",
                  "report": "; run it with more memory (or --quick)", "train": "; ask for a smaller batch size",
                  "sweep": "; run fewer workers (--workers)"}


def _import_message(exc: ImportError) -> str:
    return (f"a library could not be loaded ({exc}); a memory limit (ulimit -v) may be too low, or the installation "
            "is incomplete")


def _os_message(exc: OSError) -> str:
    if exc.filename == _STDOUT and exc.errno in (errno.EPIPE, errno.EBADF):
        return f"standard output is closed or its reader has gone ({exc.strerror}); the output was not delivered"
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


_STDOUT = "<standard output>"


class _NamedStdout:
    """``sys.stdout`` whose write failures (a full disk behind ``>``, a closed pipe) name it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, name)(*args)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, _STDOUT) from None

    def write(self, text: str) -> Any:
        return self._call("write", text)

    def flush(self) -> Any:
        return self._call("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_RAISE = {"divide": "raise", "over": "raise", "invalid": "raise", "under": "ignore"}


if __name__ == "__main__":
    from bmnn._entry import entry

    entry()
