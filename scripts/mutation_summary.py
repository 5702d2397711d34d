"""Summarise a mutmut run (``make mutation``): per module, mutants killed, survived and not checked, split into
*logic* mutants and *string* mutants (those whose change is a string literal replaced, emptied or dropped, such as an
error message or the parameter name it quotes: they change what a message says, not what is computed; a string
that selects behaviour, such as a dictionary key, is counted with them, and a surviving one is read like any other).

Usage: ``.venv/bin/python scripts/mutation_summary.py [--survivors]`` from the repository root, after
``mutmut run``. Reads ``mutmut results --all true`` and the mutated sources under ``mutants/``.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def statuses() -> dict[str, str]:
    out = subprocess.run([str(ROOT / ".venv/bin/mutmut"), "results", "--all", "true"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        if ": " in line:
            name, status = line.strip().rsplit(": ", 1)
            res[name] = status
    return res


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _string_only(orig: ast.AST, mut: ast.AST) -> bool:
    """Whether the first place where the two functions differ is a string (replaced, emptied or dropped)."""
    a, b = list(ast.walk(orig)), list(ast.walk(mut))
    for x, y in zip(a, b, strict=False):
        if type(x) is not type(y):
            return _is_text(x)
        if isinstance(x, ast.Constant) and x.value != y.value:
            return _is_text(x)
        if isinstance(x, ast.Call) and (len(x.args) != len(y.args) or len(x.keywords) != len(y.keywords)):
            gone = [v for v in x.args if ast.dump(v) not in {ast.dump(w) for w in y.args}]
            gone += [k.value for k in x.keywords if ast.dump(k) not in {ast.dump(w) for w in y.keywords}]
            return bool(gone) and all(_is_text(v) for v in gone)
        if isinstance(x, ast.keyword) and x.arg != y.arg:
            return False
    return False


def _functions(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name}


def classify(names: list[str]) -> dict[str, str]:
    """mutant name -> "logic" or "string"."""
    kinds, cache = {}, {}
    for name in names:
        module = name.split(".x", 1)[0] if ".x" in name else name.rsplit(".", 1)[0]
        short = name[len(module) + 1:]
        path = ROOT / "mutants" / "src" / Path(*module.split(".")).with_suffix(".py")
        if path not in cache:
            cache[path] = _functions(path) if path.is_file() else {}
        fns = cache[path]
        orig = fns.get(short.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        mut = fns.get(short)
        if orig is None or mut is None:
            kinds[name] = "logic"
            continue
        kinds[name] = "string" if _string_only(orig, mut) else "logic"
    return kinds


def equivalent() -> dict[str, str]:
    """The survivors judged equivalent in docs/mutation.md (lines ``- `NAME`: reason``), with their reasons."""
    out = {}
    for line in (ROOT / "docs" / "mutation.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^- `(bmnn\.[^`]+__mutmut_\d+)`: (.+)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--survivors", action="store_true",
                    help="list the surviving logic mutants not judged equivalent in docs/mutation.md")
    opts = ap.parse_args()
    st = statuses()
    kinds = classify(list(st))
    equiv = equivalent()
    table = defaultdict(Counter)
    for name, status in st.items():
        parts = name.split(".")
        module = ".".join(parts[1:3]) if parts[1] in ("laplace", "scratch_mlp") else parts[1]
        table[module][(kinds[name], status)] += 1
        if kinds[name] == "logic" and status in ("survived", "no tests") and name in equiv:
            table[module]["equivalent"] += 1
    print("| module | logic mutants checked | killed | score | equivalent survivors | score without them | "
          "not run | string mutants checked | killed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for module in sorted(table):
        c = table[module]
        lk, ls = c[("logic", "killed")], c[("logic", "survived")] + c[("logic", "no tests")]
        lt = c[("logic", "timeout")]
        sk, ss = c[("string", "killed")], c[("string", "survived")] + c[("string", "no tests")]
        checked = lk + ls + lt
        score = f"{(lk + lt) / checked:.1%}" if checked else "not run"
        real = checked - c["equivalent"]
        score2 = f"{(lk + lt) / real:.1%}" if real else "not run"
        unrun = c[("logic", "not checked")] + c[("string", "not checked")]
        print(f"| `{module}` | {checked} | {lk + lt} | {score} | {c['equivalent']} | {score2} | {unrun} | "
              f"{sk + ss + c[('string', 'timeout')]} | {sk + c[('string', 'timeout')]} |")
    if opts.survivors:
        for name, status in sorted(st.items()):
            if kinds[name] == "logic" and status in ("survived", "no tests") and name not in equiv:
                print(name, status)


if __name__ == "__main__":
    sys.exit(main())
