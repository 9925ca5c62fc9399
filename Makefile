# Every target sets itself up: a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# sam build of the python3.13 runtime needs python3.13 on PATH (pyenv here).
SAM_ENV := PYENV_VERSION=3.13.0:3.11.7 SAM_CLI_TELEMETRY=0
AWS_REGION ?= us-east-1
export AWS_REGION

.PHONY: venv test lint unit validate-template build demo bench fuzz clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: venv
	$(BIN)/pytest -q

validate-template: venv
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --region $(AWS_REGION)

test: lint unit validate-template

build: venv
	$(SAM_ENV) $(BIN)/sam build

# After `make build`: import and invoke each built function as Lambda would (python3.13, only the
# function folder, the layer and the runtime's boto3 on the path). Fails when there is no build.
.PHONY: import-test
import-test: venv
	$(BIN)/python tests/deploy/import_check.py

demo: venv
	$(BIN)/uptime-relay local --demo

# The fuzz tests run briefly inside `make test`; this runs them in rounds for FUZZ_SECONDS (10 min).
FUZZ_SECONDS ?= 600
fuzz: venv
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS)

bench: venv
	$(BIN)/python bench/probe.py
	$(BIN)/python bench/relay.py

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
