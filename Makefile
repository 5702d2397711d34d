# The README's commands. Every target sets itself up first; set-up is idempotent and quick once done.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: setup data report report-quick test lint bench sweep mutation clean

setup: $(STAMP) data

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "bmnn needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Debian packages: Fashion-MNIST (dataset-fashion-mnist) and Chromium (for the browser test of the report).
# Nothing is downloaded at test time.
data:
	@missing=""; \
	[ -f $(FMNIST)/t10k-labels-idx1-ubyte.gz ] || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "note: missing Debian packages:$$missing (install them, or pass --data-dir for Fashion-MNIST)"; \
	fi

report: setup
	$(VENV)/bin/bmnn report

report-quick: setup
	$(VENV)/bin/bmnn report --quick

test: setup
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)

lint: setup
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)

# The best recipe over five seeds, two runs at a time on this machine (26 minutes on two cores); the report
# then states its accuracy as a mean and sd over the seeds.
sweep: setup
	$(VENV)/bin/bmnn sweep --recipe best --seeds 0-4 --out runs/sweep-best

# The benchmarks need the optional extra (NumPyro and JAX, about 600 MB); they are not part of make test.
bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	cd benchmarks && for b in bench_*.py; do ../$(PY) $$b || exit 1; done

# Mutation testing of the mathematical core ([tool.mutmut] in pyproject.toml; docs/mutation.md has the last
# figures). Not part of make test: tens of CPU-minutes. Results stay in mutants/ (mutmut results, mutmut show).
mutation: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[mutation]'
	$(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut export-cicd-stats 2>/dev/null || true
	$(VENV)/bin/mutmut results

# Only what the Makefile and bmnn made: report/index.html is removed only when bmnn wrote it (its generator mark),
# and the folder only when nothing else is left in it; runs/ holds trained runs and is never cleaned.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis mutants
	@if [ -f report/index.html ] && [ ! -L report/index.html ] && head -c 4096 report/index.html | \
	  grep -qE '<meta name="generator" content="bmnn |<title>bmnn report: Bayesian Methods and Neural Networks'; \
	  then rm -f report/index.html; fi
	@rmdir report 2>/dev/null || true
