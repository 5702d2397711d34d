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


def cmd_report(args: argparse.Namespace) -> int:
    from bmnn.report.build import build_report

    path, held, total = build_report(Path(args.out), quick=args.quick)
    print(f"wrote {path}: {held} of {total} checks held")
    return 0 if held == total else 1


def build_parser() -> argparse.ArgumentParser:
    from bmnn import __version__

    p = _Parser(prog="bmnn", description="Bayesian Methods and Neural Networks: computed, verified and reported.")
    p.add_argument("--version", action="version", version=f"bmnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("report", help="run every job and write the HTML report (the main job)")
    r.add_argument("--out", default="report", help="output directory (default: report)")
    r.add_argument("--quick", action="store_true", help="smaller simulations, for CI")
    r.set_defaults(func=cmd_report)

    g = sub.add_parser("gaussian", help="job 1: posterior, MLE, MAP and predictives for data with known noise sd")
    g.add_argument("--noise-sd", required=True, type=_positive_float(), help="sigma, the known noise sd")
    g.add_argument("--prior-sd", required=True, type=_positive_float(), help="tau, the prior sd of mu")
    g.add_argument("--prior-mean", default=0.0, type=_finite_float(), help="m0 (default 0)")
    g.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="numbers separated by white space or commas (a one-column CSV works); - or none: stdin")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.set_defaults(func=cmd_gaussian)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code (0 success, 1 a failed check, 2 a usage or input error)."""
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
