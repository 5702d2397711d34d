"""Regenerate README.md's figures block and docs/benchmarks.md from the result files in src/bmnn/results/."""

from pathlib import Path

from bmnn._files import atomic_write
from bmnn.bench_results import README_BEGIN, README_END, benchmarks_doc, readme_block

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    atomic_write(ROOT / "README.md", readme[:start] + readme_block() + readme[end:])
    atomic_write(ROOT / "docs" / "benchmarks.md", benchmarks_doc())


if __name__ == "__main__":
    main()
