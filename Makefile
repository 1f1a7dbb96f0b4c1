# Review Sentiment Pipeline: every command a user or CI runs.
# Four virtual environments: .venv (python3.13, the Lambda runtime: code, tests, training, emulator),
# .tools/sam/.venv (aws-sam-cli, which pins its own boto3 and pydantic), .tools/sagemaker/.venv (python3.12
# with the SageMaker scikit-learn image's serving and training toolkits, which the model tests run the artifact
# through) and .tools/checkov/.venv (checkov, which pins an older packaging than pytest accepts). Each tool's
# environment is named .venv too, so tools that skip virtual environments by name skip them all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A python3.13 (3.12) that really runs (a pyenv shim on PATH may not): see scripts/find_python.sh.
PYTHON313 ?= $(shell scripts/find_python.sh 3.13)
PYTHON312 ?= $(shell scripts/find_python.sh 3.12)
VENV := .venv
VENV_SAM := .tools/sam/.venv
VENV_SAGEMAKER := .tools/sagemaker/.venv
VENV_CHECKOV := .tools/checkov/.venv
PY := $(VENV)/bin/python
SAM := $(VENV_SAM)/bin/sam
# Quiet installs (-qq: no progress, no warnings): pip still prints every error, and make stops on it.
PIP_INSTALL := pip install -qq --disable-pip-version-check --no-input --progress-bar off
# sam build looks for python3.13 on PATH: the project venv provides it. Telemetry off: no prompt, no stdin.
SAM_ENV := PATH=$(CURDIR)/$(VENV)/bin:$$PATH SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}
# IMDb's Large Movie Review Dataset as downloaded (aclImdb_v1.tar.gz from the Stanford AI Lab page), put in
# data/ (gitignored): see "The model" in README.md. An aclImdb folder, .jsonl(.gz) or .csv(.gz) works too.
DATA ?= data/aclImdb_v1.tar.gz
# samconfig.toml environment: default (dev) or prod.
ENV ?= default

.PHONY: help setup demo local test unit integration e2e lint format build build-check train bench deploy delete clean \
	outputs env-json logs invoke invoke-usage redrive

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# $(call make_venv,directory,python,version,requirements file): a virtual environment with those requirements.
define make_venv
	@test -n "$(2)" || { echo "python$(3) not found: install it or set PYTHON$(subst .,,$(3))=/path/to/python$(3)"; exit 1; }
	@echo "creating $(1) with $(2) and installing $(4)"
	@$(2) -m venv $(1)
	@$(1)/bin/python -m $(PIP_INSTALL) --upgrade pip
	@$(1)/bin/python -m $(PIP_INSTALL) -r $(4)
endef

# Then this project itself, editable and without dependencies (they are pinned above): the console script
# .venv/bin/review-sentiment.
$(VENV)/.installed: requirements/dev.txt layers/review_pipeline/requirements.txt pyproject.toml
	$(call make_venv,$(VENV),$(PYTHON313),3.13,requirements/dev.txt)
	@$(PY) -m $(PIP_INSTALL) --no-deps -e .
	@touch $@

$(VENV_SAM)/.installed: requirements/sam.txt
	$(call make_venv,$(VENV_SAM),$(PYTHON313),3.13,requirements/sam.txt)
	@touch $@

$(VENV_SAGEMAKER)/.installed: requirements/sagemaker.txt
	$(call make_venv,$(VENV_SAGEMAKER),$(PYTHON312),3.12,requirements/sagemaker.txt)
	@touch $@

$(VENV_CHECKOV)/.installed: requirements/checkov.txt
	$(call make_venv,$(VENV_CHECKOV),$(PYTHON313),3.13,requirements/checkov.txt)
	@touch $@

setup: $(VENV)/.installed $(VENV_SAM)/.installed $(VENV_SAGEMAKER)/.installed $(VENV_CHECKOV)/.installed ## create the virtual environments

demo: $(VENV)/.installed ## run the whole pipeline on the local emulator with the shipped model
	$(PY) -m local.demo

local: $(VENV)/.installed ## start the local emulator and keep it running (Ctrl-C stops it)
	$(PY) -m local

test: setup lint build-check ## lint, validate and build the template, then every test
	$(PY) -m pytest

unit: $(VENV)/.installed ## unit tests only
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed $(VENV_SAGEMAKER)/.installed ## handler and model tests against moto and the SageMaker toolkits
	$(PY) -m pytest tests/integration

e2e: $(VENV)/.installed ## end-to-end tests on the local emulator
	$(PY) -m pytest tests/e2e

# Every check runs even when an earlier one fails, so one run lists everything to fix.
# cfn-lint runs with the serverless rules (cfn-lint-serverless) as well; checkov scans the template's
# security settings. Both count a finding as a failure unless the resource's Metadata suppresses it with a
# reason (cfn-lint: Metadata.cfn-lint.config.ignore_checks, checkov: Metadata.checkov.skip[].comment).
lint: setup ## ruff (with bandit rules), mypy, cfn-lint (+ serverless rules), checkov and sam validate --lint
	@failed=""; \
	run() { local name=$$1; shift; echo "--- $$name"; "$$@" < /dev/null || failed="$$failed [$$name]"; }; \
	run "ruff check" $(VENV)/bin/ruff check .; \
	run "ruff format --check" $(VENV)/bin/ruff format --check .; \
	run "mypy" $(VENV)/bin/mypy; \
	run "cfn-lint" $(VENV)/bin/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules; \
	run "checkov" $(VENV_CHECKOV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
	  --file template.yaml; \
	run "sam validate --lint" env $(SAM_ENV) $(SAM) validate --lint; \
	if [ -n "$$failed" ]; then echo "lint failed:$$failed"; exit 1; fi; \
	echo "lint passed"

format: $(VENV)/.installed ## ruff format and ruff check --fix: what `make lint` asks for, done
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

SAM_BUILD = $(SAM_ENV) $(SAM) build --config-env $(ENV)

build: setup ## sam build
	$(SAM_BUILD) < /dev/null

# What `make test` checks: the template builds. Into a temporary directory, uncached, removed afterwards, so a
# test run leaves no copy of the layer's code in .aws-sam/ (`make build` keeps one there for sam deploy).
build-check: setup ## sam build into a temporary directory (what make test checks)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(SAM_BUILD) --no-cached --build-dir "$$tmp/build" < /dev/null

train: $(VENV)/.installed ## train the model: make train [DATA=data/aclImdb_v1.tar.gz|folder|file.jsonl.gz|file.csv]
	@test -e "$(DATA)" || { echo "$(DATA) not found: get IMDb as README.md says (Train the model), or set DATA="; exit 1; }
	$(PY) -m model.train --data $(DATA)

bench: $(VENV)/.installed ## benchmarks, written to docs/benchmarks.md
	$(PY) -m bench

# Uploads model/artifact/model.tar.gz under its content hash (scripts/publish_model.py) and deploys with
# ModelDataUrl set, merged into samconfig's parameter_overrides (scripts/samconfig.py); then uploads the
# results dashboard to its bucket behind CloudFront (scripts/publish_dashboard.py). Variables:
#   ENV=prod                  the [prod] environment of samconfig.toml
#   EXISTING_ENDPOINT=name    use that SageMaker endpoint instead of creating one (no upload)
#   MODEL_BUCKET=bucket       upload there instead of review-sentiment-models-<account>-<region>
#   GUIDED=1                  sam deploy --guided: review every setting and save it to samconfig.toml
deploy: build ## upload the model and sam deploy: make deploy [ENV=prod] [EXISTING_ENDPOINT=name] [GUIDED=1]
	@set -euo pipefail; \
	region=$$($(PY) -m scripts.samconfig --config-env $(ENV) region); \
	if [ -n "$(EXISTING_ENDPOINT)" ]; then \
	  model=("ExistingEndpointName=$(EXISTING_ENDPOINT)" "ModelDataUrl="); \
	else \
	  model_uri=$$($(PY) -m scripts.publish_model --region "$$region" $(if $(MODEL_BUCKET),--bucket "$(MODEL_BUCKET)")); \
	  model=("ModelDataUrl=$$model_uri" "ExistingEndpointName="); \
	fi; \
	merged=$$($(PY) -m scripts.samconfig --config-env $(ENV) overrides "$${model[@]}"); \
	mapfile -t overrides <<< "$$merged"; \
	echo "sam deploy --config-env $(ENV) --region $$region --parameter-overrides $${overrides[*]}"; \
	$(SAM_ENV) $(SAM) deploy --config-env $(ENV) --region "$$region" \
	  --parameter-overrides "$${overrides[@]}" $(if $(GUIDED),--guided); \
	$(PY) -m scripts.publish_dashboard --config-env $(ENV) --region "$$region"

# The commands below act on the deployed stack of samconfig.toml's environment (ENV=prod for [prod]).
outputs: $(VENV)/.installed ## the deployed stack's outputs (bucket, API and CloudFront URLs, queues): [ENV=prod]
	$(PY) -m scripts.stack_outputs --config-env $(ENV) outputs

env-json: $(VENV)/.installed ## fill events/env.json from the deployed functions' environment: [ENV=prod]
	$(PY) -m scripts.stack_outputs --config-env $(ENV) env-json

# FN is a function's logical id (PreprocessFunction, InferenceFunction, QueryApiFunction); without it, all.
logs: setup ## tail the deployed functions' logs: make logs [FN=QueryApiFunction] [ENV=prod]
	$(SAM_ENV) $(SAM) logs --config-env $(ENV) --tail $(if $(FN),--name $(FN)) < /dev/null

# sam local invoke runs the built function in a container (Docker) against the deployed stack's resources,
# with events/env.json (samconfig's local_invoke section names it; `make env-json` fills it).
# Without FN and EVENT it says how to call it, before building anything.
invoke: $(if $(and $(FN),$(EVENT)),build,invoke-usage) ## sam local invoke: make invoke FN=QueryApiFunction EVENT=events/api_health.json
	$(SAM_ENV) $(SAM) local invoke --config-env $(ENV) $(FN) --event $(EVENT) < /dev/null

invoke-usage:
	@echo "usage: make invoke FN=<function logical id> EVENT=events/<file>.json (events/README.md lists them)"; exit 2

delete: setup ## delete the stack (the bucket and table are retained): make delete [ENV=prod]
	$(PY) -m scripts.publish_dashboard --config-env $(ENV) --remove
	$(SAM_ENV) $(SAM) delete --config-env $(ENV)

# Jobs shown STALLED carry on once their messages are back; the watcher clears the mark on its next run.
redrive: $(VENV)/.installed ## move dead-lettered messages back to their queues (the CLI's redrive)
	$(VENV)/bin/review-sentiment redrive

clean: ## remove build output and the emulator state
	rm -rf .aws-sam .local
