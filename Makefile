# swarmguard: `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all check bench bench-defend schemas clean e2e

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,deep,federated,service,postgres,logs,defend,sandbox]'
	touch $(STAMP)

demo: install
	$(BIN)/swarmguard demo

test: install
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q

check: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# End to end, as root: namespaces, real attacks, agent + nftables, coordinator restart, CrowdSec bouncer.
e2e: install
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python tests/e2e/e2e_run.py

# Speed and memory figures (a few are root-only and say "skipped" otherwise). The defender's
# measurement (1,000 episodes per profile and defender, about 15 minutes) has its own target.
bench: install
	@for script in benchmarks/bench_*.py benchmarks/parser_candidates.py; do \
		[ "$$script" = benchmarks/bench_defend.py ] && continue; \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-defend: install
	$(BIN)/python benchmarks/bench_defend.py --episodes 1000 --seed 2 --jobs 2 --out defend-bench.json

schemas: install
	$(BIN)/python -m swarmguard.records.schema

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build
