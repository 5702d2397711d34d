"""Every measured figure lives in one place, a result file (package data); README's figures block and
docs/benchmarks.md are generated from them, and a stale copy fails here."""

from pathlib import Path

from bmnn import bench_results as br

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_figures_block_is_the_generators_output():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(br.README_BEGIN), readme.index(br.README_END) + len(br.README_END)
    assert readme[start:end] == br.readme_block(), "README's figures are stale: run python scripts/make_figures.py"


def test_docs_benchmarks_is_the_generators_output():
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    assert doc == br.benchmarks_doc(), "docs/benchmarks.md is stale: run python scripts/make_figures.py"


def test_every_result_file_is_read_and_says_where_it_came_from():
    for name in br.NAMES:
        d = br.read(name)
        assert d is not None, name
        assert {"date", "commit", "machine", "command"} <= set(d["provenance"]), name
    assert len(br._lines(br._all(br.RESULTS))) >= len(br.NAMES)


def test_a_figure_moves_with_its_result_file(tmp_path):
    import json
    import shutil

    for name in br.NAMES:
        shutil.copy(br.RESULTS / f"{name}.json", tmp_path)
    doc = json.loads((tmp_path / "laplace.json").read_text())
    doc["ratio_ess_per_s"] = 87.25  # below the goal: the README says so
    (tmp_path / "laplace.json").write_text(json.dumps(doc))
    block = br.readme_block(tmp_path)
    assert "**87.2x** (goal 100x: **missed**)" in block
    assert "87.2x" in br.benchmarks_doc(tmp_path)
    (tmp_path / "scale.json").unlink()  # a missing file leaves its rows out, nothing else
    assert "Dask" not in br.readme_block(tmp_path) and "Job 2 MAP" in br.readme_block(tmp_path)


def test_readme_lines_are_short():
    long = [i + 1 for i, line in enumerate((ROOT / "README.md").read_text().splitlines()) if len(line) > 300]
    assert not long, f"README lines over 300 characters: {long}"
