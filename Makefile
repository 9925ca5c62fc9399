# Every target sets itself up: a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# sam build of the python3.13 runtime needs python3.13 on PATH (pyenv here).
SAM_ENV := PYENV_VERSION=3.13.0:3.11.7 SAM_CLI_TELEMETRY=0
AWS_REGION ?= us-east-1
export AWS_REGION
# What `sam build` produces, rebuilt when older than its sources: the scan and the import test
# read it, so `make test` never checks a stale build.
BUILT_TEMPLATE := .aws-sam/build/template.yaml
BUILD_INPUTS   := template.yaml $(shell find functions layers config -type f -not -name '*.pyc' 2>/dev/null)

.PHONY: venv test lint unit validate-template build demo bench fuzz clean
.PHONY: scan package deploy-check

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: venv $(BUILT_TEMPLATE)
	$(BIN)/pytest -q

validate-template: venv
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --region $(AWS_REGION)

test: lint unit validate-template scan

build: venv
	$(SAM_ENV) $(BIN)/sam build

# After `make build`: import and invoke each built function as Lambda would (python3.13, only the
# function folder, the layer and the runtime's boto3 on the path). Fails when there is no build.
.PHONY: import-test
import-test: venv
	$(BIN)/python tests/deploy/import_check.py

# ---- IaC scan, SAR package, deploy check (docs/operations.md#check-a-deploy-without-an-account)
# checkov pins older boto3/packaging/networkx than the dev extra: it gets its own venv.
CHECKOV_VENV   := .venv-checkov
CHECKOV_STAMP  := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -q -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# The scan reads what `sam build` produces: built when missing or older than its sources.
$(BUILT_TEMPLATE): $(BUILD_INPUTS) | $(STAMP)
	$(SAM_ENV) $(BIN)/sam build

# Fails on any failed check, unreadable template or skip without a reason; deliberate exceptions
# are skipped, each with its reason, in the resource's Metadata (checkov: skip:) in template.yaml.
scan: $(CHECKOV_STAMP) $(BUILT_TEMPLATE)
	$(BIN)/python -m uptime_relay_tools.iacscan --checkov $(CHECKOV_VENV)/bin/checkov $(BUILT_TEMPLATE)

# Without S3_BUCKET, offline: build, check the SAR metadata, `sam package` into a moto S3 here
# (.aws-sam/packaged-local.yaml). With S3_BUCKET=<bucket> and AWS credentials: the real upload,
# .aws-sam/packaged.yaml, which `sam publish` takes.
package: build
ifeq ($(S3_BUCKET),)
	$(BIN)/python -m uptime_relay_tools.deploycheck --package-local .aws-sam/packaged-local.yaml \
	  --sam $(BIN)/sam $(BUILT_TEMPLATE)
else
	$(BIN)/python -m uptime_relay_tools.deploycheck --sar-only $(BUILT_TEMPLATE)
	SAM_CLI_TELEMETRY=0 $(BIN)/sam package --template-file $(BUILT_TEMPLATE) --s3-bucket $(S3_BUCKET) \
	  --output-template-file .aws-sam/packaged.yaml --region $(AWS_REGION)
endif

# Everything short of a deploy, then what `sam deploy` would create.
DEPLOY_CONFIG ?= config/uptime.yaml
deploy-check: validate-template build import-test scan
	$(BIN)/python -m uptime_relay_tools.deploycheck $(BUILT_TEMPLATE) --config $(DEPLOY_CONFIG)

demo: venv
	$(BIN)/uptime-relay local --demo

# The fuzz tests run briefly inside `make test`; this runs them in rounds for FUZZ_SECONDS (10 min).
FUZZ_SECONDS ?= 600
fuzz: venv
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS)

# bench/shards.py: 10,000 checks, 10% hanging, through the real scheduler and shards; then the
# issue-size local-stack e2e (2,100 checks, a third hanging; `make test` runs it scaled down).
bench: venv
	$(BIN)/python bench/probe.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/shards.py
	UPTIME_RELAY_FULL_SCALE=1 $(BIN)/pytest -q -p no:cacheprovider -p no:logging tests/e2e/test_probe_scale_local.py

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
