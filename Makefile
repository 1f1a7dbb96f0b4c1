# Review Sentiment Pipeline: every command a user or CI runs.
# Two virtual environments: .venv (python3.13, the Lambda runtime: code, tests, training, emulator)
# and .venv-sam (aws-sam-cli, which pins its own boto3 and pydantic).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON313 ?= $(shell command -v python3.13 2>/dev/null || (command -v pyenv >/dev/null && echo $$(pyenv root)/versions/3.13.0/bin/python3.13))
VENV := .venv
VENV_SAM := .venv-sam
PY := $(VENV)/bin/python
SAM := $(VENV_SAM)/bin/sam
# sam build looks for python3.13 on PATH: the project venv provides it.
SAM_ENV := PATH=$(CURDIR)/$(VENV)/bin:$$PATH SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}
DATA ?= ../shared/data/imdb/train.jsonl.gz

.PHONY: help setup demo local test unit integration e2e lint build train bench deploy clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt layers/review_pipeline/requirements.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

$(VENV_SAM)/.installed: requirements/sam.txt
	$(PYTHON313) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install --quiet --upgrade pip
	$(VENV_SAM)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

setup: $(VENV)/.installed $(VENV_SAM)/.installed ## create both virtual environments

demo: $(VENV)/.installed ## run the whole pipeline on the local emulator with the shipped model
	$(PY) -m local.demo

local: $(VENV)/.installed ## start the local emulator and keep it running (Ctrl-C stops it)
	$(PY) -m local

test: setup lint build ## lint, validate and build the template, then every test
	$(PY) -m pytest

unit: $(VENV)/.installed ## unit tests only
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed ## handler tests against moto
	$(PY) -m pytest tests/integration

e2e: $(VENV)/.installed ## end-to-end tests on the local emulator
	$(PY) -m pytest tests/e2e

lint: setup ## ruff, mypy, cfn-lint and sam validate --lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_ENV) $(SAM) validate --lint

build: setup ## sam build
	$(SAM_ENV) $(SAM) build

train: $(VENV)/.installed ## train the model: make train DATA=path/to/aclImdb|file.jsonl.gz|file.csv
	$(PY) -m model.train --data $(DATA)

bench: $(VENV)/.installed ## benchmarks, written to docs/benchmarks.md
	$(PY) -m bench

deploy: build ## sam deploy (guided the first time): make deploy ENV=prod
	$(SAM_ENV) $(SAM) deploy --config-env $${ENV:-default}

clean: ## remove build output and the emulator state
	rm -rf .aws-sam .local
