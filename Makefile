# Human entry points. `make run` and `make test` do all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= reference,test
PYTEST_ARGS ?=
# `make run` needs only the base install (suite, mock, spec: no torch), in a venv of its own.
RUN_VENV := .venv-run
RUN_STAMP := $(RUN_VENV)/.installed

.PHONY: run test lint spec-check spec bench-mock bench-suite bench-reference constraints clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall when the dependency declarations change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml constraints.txt
	test -x $(RUN_VENV)/bin/python || $(PY) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install -q -c constraints.txt -e .
	touch $(RUN_STAMP)

## The main job: start the mock in-process, run the conformance suite against it, print the report.
run: $(RUN_STAMP)
	$(RUN_VENV)/bin/asr-conformance run --profile default --report-dir reports/mock

## Lint, spec drift check, and the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/asr-conformance spec generate --check
	$(BIN)/pytest -q -n 2 --durations=25 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

spec: $(STAMP)
	$(BIN)/asr-conformance spec generate

spec-check: $(STAMP)
	$(BIN)/asr-conformance spec generate --check

constraints: $(STAMP)
	$(BIN)/pip freeze --all --exclude-editable | grep -v '^pip==' | sed 's/+cpu//' > constraints.txt  # --all keeps setuptools (the wheel tests build with it)

clean:
	rm -rf $(VENV) $(RUN_VENV) reports .pytest_cache .ruff_cache .hypothesis
