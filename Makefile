# vllm-models: `make help` lists every target. `make test` and `make render` install what they
# need first (pinned tools into .tools/bin, Python packages into .venv), so either works as the
# first command on a fresh clone.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/vllm-models
ENV ?= staging
RELEASE ?=
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: tools $(VENV)/.installed ## Install the pinned toolchain and Python packages (idempotent)

.PHONY: tools
tools: ## Install helm v3/v4, kubectl and helmfile into .tools/bin, verifying every digest
	@$(PYTHON) scripts/install_tools.py

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@
	@echo "python: $(VENV) ready"

.PHONY: test
test: setup ## Run the whole suite: chart, fleet, policies, generated-file drift (pytest -n auto)
	$(BIN)/pytest -n auto --dist loadgroup

.PHONY: render
render: setup ## Render ENV (default staging; RELEASE=name for one release) after verifying it
	@$(CLI) render --env $(ENV) $(if $(RELEASE),--release $(RELEASE))

.PHONY: lint
lint: setup ## helm lint --strict the chart with each environment's values for every release
	@$(CLI) lint

.PHONY: lock
lock: ## Recompile requirements.lock (pinned, hashed) from requirements.in
	@$(PYTHON) -m venv /tmp/vllm-models-piptools && /tmp/vllm-models-piptools/bin/pip install --quiet pip-tools==7.6.2
	@/tmp/vllm-models-piptools/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file=requirements.lock requirements.in

.PHONY: clean
clean: ## Remove the render cache (keeps .tools and .venv)
	rm -rf .render

.PHONY: bench
bench: setup ## Benchmark the suite against a bare helm template, and its growth with fleet size (docs/benchmark.md)
	$(BIN)/python scripts/bench.py
