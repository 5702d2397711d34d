"""The ``bmnn`` command line: flags to configs, then calls into experiments and models. No numerics here.

A user's mistake prints one line on stderr and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from bmnn._checks import BmnnError, InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_float():
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
        return v

    return parse


def _finite_float():
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        return v

    return parse


def _count(minimum: int = 1):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return v

    return parse


def _read_text(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except FileNotFoundError:
        raise InputError(f"FILE {path!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"FILE {path!r} is a directory, expected a file of numbers") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"FILE {path!r} cannot be read: {exc}") from None


def _normal(dist: Any) -> dict[str, float]:
    return {"mean": float(dist.mean), "var": float(dist.var)}


def cmd_gaussian(args: argparse.Namespace) -> int:
    from bmnn.datasets import parse_numbers
    from bmnn.gaussian import NormalKnownVariance

    text, source = _read_text(args.file)
    x = parse_numbers(text, source)
    m = NormalKnownVariance(args.noise_sd, args.prior_sd, args.prior_mean).fit(x)
    n = int(m.n_)
    out = {
        "n": n,
        "sum": float(m.sum_),
        "mle": float(m.mle()) if n else None,
        "map": float(m.map()),
        "posterior": _normal(m.posterior()),
        "predictive": _normal(m.predictive()),
        "plugin_mle": _normal(m.plugin_predictive("mle")) if n else None,
        "plugin_map": _normal(m.plugin_predictive("map")),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    if n == 0:
        print("note: no data; the posterior is the prior and the predictive is the prior predictive")
    rows = [("n", f"{n}"), ("sum x", f"{out['sum']:.10g}"),
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
        text, source = _read_text(args.location_file)
        loc = parse_numbers(text, source)
    elif args.location is not None:
        loc = parse_numbers(args.location.replace(",", " "), "--location")
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
    from bmnn.laplace import LaplaceRegression

    if args.dataset is not None:
        X, y, names = load_bundled(args.dataset)
    else:
        if args.target is None:
            raise InputError("--csv needs --target COLUMN (the column to predict)")
        X, y, names = read_csv_xy(args.csv, args.target)
    if args.standardize:
        sd = X.std(axis=0)
        if np.any(sd == 0):
            raise InputError(f"--standardize: column {names[int(np.argmax(sd == 0))]!r} is constant")
        X, y = (X - X.mean(axis=0)) / sd, y - y.mean()
    loc = _location(args, X.shape[1])
    m = LaplaceRegression(args.noise_sd, args.scale, loc, draws=args.draws, chains=args.chains,
                          seed=args.seed).fit(X, y)
    out = {"lambda": m.lambda_, "tau_star": m.tau_star_, "map": m.coef_map_.tolist(),
           "posterior_mean": m.coef_mean_.tolist(), "posterior_sd": m.coef_sd_.tolist(), "mcse": m.mcse_.tolist(),
           "ess_bulk": m.ess_bulk_.tolist(), "rhat": m.rhat_.tolist(), "kkt_violation": m.kkt_violation_.tolist()}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"N = {X.shape[0]}, p = {X.shape[1]}, lambda = sigma^2/tau = {m.lambda_:.6g}, tau* = {m.tau_star_:.6g}"
          f"{'  (tau <= tau*: the MAP is the location)' if args.scale <= m.tau_star_ else ''}")
    w = max(8, *(len(n) for n in names))
    print(f"{'feature':<{w}}  {'MAP':>11}  {'post. mean':>11}  {'post. sd':>10}  {'MCSE':>9}  {'ESS bulk':>9}  "
          f"{'R-hat':>6}")
    for j, name in enumerate(names):
        print(f"{name:<{w}}  {out['map'][j]:>11.5g}  {out['posterior_mean'][j]:>11.5g}  {out['posterior_sd'][j]:>10.4g}"
              f"  {out['mcse'][j]:>9.2g}  {out['ess_bulk'][j]:>9.0f}  {out['rhat'][j]:>6.3f}")
    print(f"MAP certificate (largest subgradient violation / lambda): {max(out['kkt_violation']):.2e}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from bmnn.experiments.sigmoid_mlp import AUTOGRAD_BOUND, FD_BOUND, gradient_errors

    errs = gradient_errors(args.inputs, args.hidden, args.batch, args.seed)
    ok = all(v <= FD_BOUND for v in errs["finite_differences"].values()) and all(
        v <= AUTOGRAD_BOUND for v in errs["autograd"].values())
    if args.json:
        print(json.dumps(errs))
    else:
        print(f"M = {args.inputs}, H = {args.hidden}, N = {args.batch}, seed {args.seed}: largest relative errors")
        print(f"{'parameter':<10}  {'finite differences':>18}  {'torch.autograd':>15}")
        for k in errs["autograd"]:
            print(f"{k:<10}  {errs['finite_differences'][k]:>18.2e}  {errs['autograd'][k]:>15.2e}")
        print(f"bounds: {FD_BOUND:g} (finite differences), {AUTOGRAD_BOUND:g} (autograd): "
              f"{'all within' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


def _write_training_figures(ck: dict, arrays: dict, out: Path, title: str) -> dict:
    """training.png and confusion.png from a checkpoint; returns the test metrics."""
    from bmnn import plots
    from bmnn.datasets import FASHION_CLASSES
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint

    metrics = evaluate_checkpoint(ck, arrays)
    plots.save_png(plots.training_progress(ck["history"], title).figure, out / "training.png")
    plots.save_png(plots.confusion(metrics["confusion"], FASHION_CLASSES).figure, out / "confusion.png")
    return metrics


def cmd_train(args: argparse.Namespace) -> int:
    from bmnn.datasets import load_fashion_mnist
    from bmnn.scratch_mlp.train import make_config, parse_setting, train

    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "device": args.device, "validation": args.validation, "backward": args.backward, "threads": args.threads}
    extra = dict(parse_setting(text) for text in args.set or [])
    clash = sorted(extra.keys() & flags.keys())
    if clash:
        raise InputError(f"--set {clash[0]}: use --{clash[0].replace('_', '-')} instead")
    cfg = make_config(args.recipe, **extra, **flags)
    arrays = load_fashion_mnist(args.data_dir)
    out = Path(args.out)
    print(f"training recipe {cfg.recipe!r} for {cfg.epochs} epochs into {out}")
    ck = train(cfg, arrays, out, resume=args.resume)
    metrics = _write_training_figures(ck, arrays, out, f"recipe {cfg.recipe}")
    seconds = sum(h["seconds"] for h in ck["history"])
    print(f"test accuracy {metrics['accuracy']:.4f}, test loss {metrics['loss']:.4f} after {ck['epoch']} epochs "
          f"({seconds:.0f} s of training); wrote {out / 'checkpoint.pt'}, history.json, training.png, confusion.png")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bmnn.datasets import load_fashion_mnist
    from bmnn.scratch_mlp.evaluate import evaluate_checkpoint
    from bmnn.scratch_mlp.train import load_checkpoint

    ck = load_checkpoint(args.checkpoint)
    metrics = evaluate_checkpoint(ck, load_fashion_mnist(args.data_dir))
    if args.json:
        print(json.dumps({"accuracy": metrics["accuracy"], "loss": metrics["loss"], "epoch": ck.get("epoch")}))
    else:
        print(f"{args.checkpoint}: test accuracy {metrics['accuracy']:.4f}, test loss {metrics['loss']:.4f} "
              f"(10,000 test images; epoch {ck.get('epoch')})")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from bmnn import datasets
    from bmnn.datasets import fetch_fashion_mnist

    dest = fetch_fashion_mnist(args.dir, base_url=datasets.FASHION_MNIST_URL, progress=sys.stderr.isatty())
    print(f"Fashion-MNIST verified in {dest}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bmnn.report.build import build_report

    path, held, total = build_report(Path(args.out), quick=args.quick, data_dir=args.data_dir, runs_dir=args.runs,
                                     log=print)
    print(f"wrote {path}: {held} of {total} checks held")
    if held < total:
        print(f"{total - held} check(s) did not hold: they are listed at the top of the report", file=sys.stderr)
    return 1 if args.strict and held < total else 0


def build_parser() -> argparse.ArgumentParser:
    from bmnn import __version__

    p = _Parser(prog="bmnn", description="Bayesian Methods and Neural Networks: computed, verified and reported.")
    p.add_argument("--version", action="version", version=f"bmnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("report", help="run every job and write the HTML report (the main job)")
    r.add_argument("--out", default="report", help="output directory (default: report)")
    r.add_argument("--quick", action="store_true", help="smaller simulations, for CI")
    r.add_argument("--strict", action="store_true", help="exit with code 1 when any check does not hold")
    r.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search)")
    r.add_argument("--runs", default="runs", metavar="DIR",
                   help="job 4's training runs: reused when finished, resumed when interrupted (default runs)")
    r.set_defaults(func=cmd_report)

    g = sub.add_parser("gaussian", help="job 1: posterior, MLE, MAP and predictives for data with known noise sd")
    g.add_argument("--noise-sd", required=True, type=_positive_float(), help="sigma, the known noise sd")
    g.add_argument("--prior-sd", required=True, type=_positive_float(), help="tau, the prior sd of mu")
    g.add_argument("--prior-mean", default=0.0, type=_finite_float(), help="m0 (default 0)")
    g.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="numbers separated by white space or commas (a one-column CSV works); - or none: stdin")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.set_defaults(func=cmd_gaussian)

    lz = sub.add_parser("lasso", help="job 2: MAP and posterior of linear regression with a Laplace prior")
    src = lz.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=["diabetes"], help="a data set bundled with scikit-learn")
    src.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    lz.add_argument("--target", metavar="COLUMN", help="with --csv: the column to predict")
    lz.add_argument("--noise-sd", required=True, type=_positive_float(), help="sigma, the known noise sd")
    lz.add_argument("--scale", required=True, type=_positive_float(), help="tau, the Laplace prior's scale")
    loc = lz.add_mutually_exclusive_group()
    loc.add_argument("--location", metavar="V", help="mu: one number, or p numbers separated by commas")
    loc.add_argument("--location-file", metavar="F", help="mu: a file of p numbers")
    lz.add_argument("--standardize", action="store_true", help="standardise the columns of X and centre y first")
    lz.add_argument("--draws", type=_count(), default=2000, help="Gibbs draws per chain (default 2000)")
    lz.add_argument("--chains", type=_count(), default=16, help="Gibbs chains (default 16)")
    lz.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")
    lz.add_argument("--json", action="store_true", help="print one JSON object")
    lz.set_defaults(func=cmd_lasso)

    gc = sub.add_parser("gradcheck", help="job 3: hand gradients against finite differences and torch.autograd")
    gc.add_argument("--inputs", type=_count(), default=5, metavar="M", help="input dimension M (default 5)")
    gc.add_argument("--hidden", type=_count(), default=4, metavar="H", help="hidden units H (default 4)")
    gc.add_argument("--batch", type=_count(), default=8, metavar="N", help="data points N (default 8)")
    gc.add_argument("--seed", type=_count(0), default=0, metavar="K", help="random seed (default 0)")
    gc.add_argument("--json", action="store_true", help="print one JSON object")
    gc.set_defaults(func=cmd_gradcheck)

    tr = sub.add_parser("train", help="job 4: train the from-scratch 784-256-10 MLP on Fashion-MNIST")
    tr.add_argument("--recipe", choices=["classic", "best"], default="best",
                    help="classic: the material's set-up; best (default): tuned training of the same architecture")
    tr.add_argument("--epochs", type=_count(), help="override the recipe's epochs")
    tr.add_argument("--batch-size", type=_count(), help="override the recipe's batch size")
    tr.add_argument("--lr", type=_positive_float(), help="override the recipe's (peak) learning rate")
    tr.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")
    tr.add_argument("--backward", choices=["autograd", "hand"], help="override the recipe's backward mode")
    tr.add_argument("--validation", type=_count(0), help="hold out this many training images for validation")
    tr.add_argument("--threads", type=_count(0), help="torch CPU threads (default: all cores)")
    tr.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu", help="where to train (default cpu)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override any other training setting, e.g. --set dropout=0.2 --set augment=cross "
                         "(repeatable; the settings are the fields of bmnn.scratch_mlp.train.TrainConfig)")
    tr.add_argument("--data-dir", metavar="D", help="where the Fashion-MNIST IDX files are (default: search)")
    tr.add_argument("--out", default="runs/mlp", help="output directory (default runs/mlp)")
    tr.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    tr.set_defaults(func=cmd_train)

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


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 success, 1 a failed check where the command promises it, 2 a usage or
    input error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except BmnnError as exc:
        print(f"bmnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bmnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
