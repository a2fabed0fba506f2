# pymodular — developer entry points. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
DEPS := pyproject.toml constraints.txt

.PHONY: run run-prod test lint typecheck pytest reliability fuzz bench services system-deps lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): $(BIN)/python $(DEPS)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all]"
	touch $@

$(STAMP_DEV): $(BIN)/python $(DEPS)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@ $(STAMP_RUN)

## run: the showcase on embedded defaults (SQLite, memory cache, memory event bus)
run: $(STAMP_RUN)
	$(BIN)/python -m examples.showcase

## run-prod: the showcase on PostgreSQL, Redis and NATS: three replicas behind the reverse proxy
run-prod: $(STAMP_RUN) services
	$(BIN)/python -m examples.showcase.prod

## test: install everything the tests need, (re)start services, run the gates and the suite
test: $(STAMP_DEV) system-deps npm-deps services lint typecheck pytest

system-deps:
	@scripts/system-deps.sh

npm-deps:
	@scripts/npm-deps.sh

services:
	@scripts/services.sh

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts

typecheck: $(STAMP_DEV)
	$(BIN)/mypy src

# The suite waits on servers far more than it computes: workers overlap the waiting.
PYTEST_WORKERS ?= 4

pytest: $(STAMP_DEV)
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## reliability: the reliability suite (tests/reliability), then its table, kept in docs/reliability.md
reliability: $(STAMP_DEV)
	@rm -rf var/reliability; status=0; \
	RELIABILITY_REPORT=var/reliability $(BIN)/pytest -q -n $(PYTEST_WORKERS) tests/reliability $(PYTEST_ARGS) || status=$$?; \
	echo; $(BIN)/python -m tests.reliability.report var/reliability docs/reliability.md || status=1; \
	exit $$status

## fuzz: the fuzzing suite (tests/fuzz) on its long profile, then atheris on each parser (not in `make test`)
FUZZ_SCALE ?= 50
ATHERIS_SECONDS ?= 120
ATHERIS_TARGETS ?= jwt yaml json toml cron
fuzz: $(STAMP_DEV)
	PYMODULAR_FUZZ=soak PYMODULAR_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/pytest -n $(PYTEST_WORKERS) --timeout=0 tests/fuzz $(PYTEST_ARGS)
	@mkdir -p var/atheris; for target in $(ATHERIS_TARGETS); do \
		log=var/atheris/$$target.log; \
		if $(BIN)/python scripts/fuzz_atheris.py $$target -max_total_time=$(ATHERIS_SECONDS) \
			-rss_limit_mb=2048 -artifact_prefix=var/atheris/$$target- -print_final_stats=1 >$$log 2>&1; \
		then echo "atheris $$target: $$(grep -E '^#[0-9]+[[:space:]]+DONE' $$log)"; \
		else echo "atheris $$target FAILED (input saved as var/atheris/$$target-crash-*):"; \
			tail -n 40 $$log; exit 1; fi; \
	done

## bench: every performance target with peers side by side
bench: $(STAMP_DEV)
	$(BIN)/python -m benchmarks

## mutation: mutants of the core files and bundled modules against their nearest tests, a score per file (not in `make test`)
mutation: $(STAMP_DEV)
	$(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

## lock: regenerate constraints.txt from a fresh resolution of the dev extra
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet -e ".[dev]"
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
