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
	@$(BIN)/python -m compileall -q src  # these machines set PYTHONDONTWRITEBYTECODE: every CLI start would compile the package

.PHONY: tools
tools: ## Install helm v3/v4 and kubectl (verified digests) and conftest, opa, promtool, actionlint, helmfile (pinned Go modules, built once per machine into the per-user cache) into .tools/bin
	@$(PYTHON) scripts/install_tools.py

$(VENV)/.installed: requirements.lock pyproject.toml
	@# a venv whose creation was interrupted has a python but no pip: made again, never half-used
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@
	@echo "python: $(VENV) ready" >&2

.PHONY: test
test: setup ## Run the whole suite: chart, fleet, policies, generated-file drift (pytest -n auto)
	$(BIN)/pytest -n auto --dist loadgroup

.PHONY: e2e
e2e: setup ## The e2e tier: build the control plane (kube-apiserver, controller-manager, scheduler, etcd, kwok) and install, roll and drain every environment on it
	@$(PYTHON) scripts/install_tools.py --group e2e
	$(BIN)/pytest e2e -p no:cacheprovider -o testpaths=e2e --ignore=e2e/live

# The live node (containerd, kubelet, mounts, iptables) needs root: sudo where make runs as another user
# (a hosted runner), keeping the environment (PATH, HOME: the per-user cache).
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo -E env "PATH=$$PATH")

.PHONY: live
live: setup ## The live tier (root, Linux): a real node (kubelet, kube-proxy, containerd, runc, CNI) joined to the e2e control plane, where pods run
	@$(PYTHON) scripts/install_tools.py --group e2e --group live
	@# kube-proxy and the CNI portmap plugin drive the host's iptables; the pause image is compiled static (gcc, libc.a); the vLLM and aws-cli images start from mmdebstrap root filesystems
	@command -v iptables-restore >/dev/null && command -v mmdebstrap >/dev/null && command -v gcc >/dev/null && test -e /usr/lib/x86_64-linux-gnu/libc.a \
		|| { $(AS_ROOT) apt-get update -qq && $(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables gcc libc6-dev mmdebstrap >/dev/null; }
	$(AS_ROOT) $(BIN)/pytest e2e/live -p no:cacheprovider -o testpaths=e2e/live

.PHONY: render
render: setup ## Render ENV (default staging; RELEASE=name for one release) after verifying it; NO_HOOKS=1 leaves out the helm test Pods
	@$(CLI) render --env $(ENV) $(if $(RELEASE),--release $(RELEASE)) $(if $(NO_HOOKS),--no-hooks)

.PHONY: lint
lint: setup ## helm lint --strict every release with its environment's values, and every chart example
	@$(CLI) lint
	@$(BIN)/python -m vllm_models.chart_examples

.PHONY: lock
lock: ## Recompile requirements.lock (pinned, hashed) from requirements.in
	@$(PYTHON) -m venv /tmp/vllm-models-piptools && /tmp/vllm-models-piptools/bin/pip install --quiet pip-tools==7.6.2
	@/tmp/vllm-models-piptools/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file=requirements.lock requirements.in

.PHONY: lock-live
lock-live: ## Recompile the live tier's locks (e2e/live/*.lock: the vLLM and AWS CLI images, the tiny model's and the S3 server's venvs)
	@e2e/live/lock.sh

.PHONY: clean
clean: ## Remove the render cache (keeps .tools and .venv)
	rm -rf .render

.PHONY: clean-tools
clean-tools: ## Remove this clone's .tools (the next make setup takes the tools from the per-user cache again, in seconds)
	rm -rf .tools

.PHONY: clean-cache
clean-cache: ## Remove the per-user cache every clone shares (built tools, downloads, Go caches): the next setup builds from scratch
	@cache="$$($(PYTHON) scripts/install_tools.py --print-cache)"; \
	if [[ -d "$$cache" ]]; then chmod -R u+w "$$cache" && rm -rf "$$cache" && echo "removed $$cache"; else echo "no cache at $$cache"; fi

.PHONY: bench
bench: setup ## Benchmark the suite against a bare helm template, and its growth with fleet size (docs/benchmark.md)
	$(BIN)/python scripts/bench.py

.PHONY: generate-docs
generate-docs: setup ## Regenerate the README parameter table and the schema descriptions of charts/vllm-models from values.yaml
	@$(BIN)/python scripts/generate_chart_docs.py

.PHONY: lint-examples
lint-examples: setup ## helm lint --strict the chart with each example values file (the seeds' six templates)
	@$(BIN)/python -m vllm_models.chart_examples

VLLM ?= 0.11.0
.PHONY: generate-vllm-catalog
generate-vllm-catalog: ## Regenerate src/vllm_models/data/vllm/v$(VLLM).json from vLLM $(VLLM)'s real parser (throwaway venvs in $$TMPDIR: ~7 GB per torch version, ~2 GB per vLLM), then charts/vllm-models/vllm-versions.yaml
	scripts/vllm_catalog/generate.sh $(VLLM)
	@$(MAKE) --no-print-directory generate-vllm-versions

.PHONY: generate-vllm-versions
generate-vllm-versions: setup ## Regenerate charts/vllm-models/vllm-versions.yaml (what the chart knows per vLLM version) from the catalogs
	@$(BIN)/python -m vllm_models.vllm_versions

ONLY ?=
.PHONY: verify-vllm-args
verify-vllm-args: setup ## Parse every rendered command line with the real parser of its image's vLLM version (slow: installs vLLM; ONLY=x.y.z for one version)
	$(BIN)/python scripts/vllm_catalog/export_args.py .render/vllm-args
	for args in .render/vllm-args/*.json; do \
		version="$$(basename "$$args" .json)"; \
		if [[ -n "$(ONLY)" && "$$version" != "$(ONLY)" ]]; then continue; fi; \
		scripts/vllm_catalog/verify.sh "$$version" "$$args"; \
	done

# Operator CLI: thin wrappers around .venv/bin/vllm-models (`vllm-models <command> --help` documents
# every option). Exit codes: 0 ok, 1 problems found, 2 usage error or refusal (make reports any
# non-zero exit as its own error 2). OUTPUT=json prints JSON; ARGS passes extra options through.
# ENV is passed only when given on the command line for commands where it is optional.
OUTPUT ?= table
ARGS ?=
OPTIONAL_ENV = $(if $(filter command line environment,$(origin ENV)),--env $(ENV))

.PHONY: new-model
new-model: setup ## Add a model: NAME=x ENV=staging SHAPE=multi-gpu MODEL_PATH=/models/org/name HF_CONFIG=config.json [PARAMS=70] [ARGS=..]
	@$(CLI) new-model $(NAME) --env $(ENV) --shape $(SHAPE) --model-path $(MODEL_PATH) \
		$(if $(HF_CONFIG),--hf-config $(HF_CONFIG)) $(if $(PARAMS),--params-b $(PARAMS)) \
		$(if $(CATEGORY),--category $(CATEGORY)) --output $(OUTPUT) $(ARGS)

.PHONY: ports
ports: setup ## NodePorts per range: used, free, conflicts (all environments, or ENV=env)
	@$(CLI) ports $(OPTIONAL_ENV) --output $(OUTPUT)

.PHONY: promote
promote: setup ## Copy model NAME from FROM to TO (the next environment), enable it, show the rendered diff [ARGS=--force]
	@$(CLI) promote $(NAME) --from $(FROM) --to $(TO) --output $(OUTPUT) $(ARGS)

.PHONY: diff
diff: setup ## Semantic diff of the rendered manifests of environments A and B [RELEASE=llms-v2-x]
	@$(CLI) diff $(A) $(B) $(if $(RELEASE),--release $(RELEASE)) --output $(OUTPUT) $(ARGS)

.PHONY: plan
plan: setup ## Capacity of ENV (default staging): GPUs, memory, CPU per enabled release vs the quota
	@$(CLI) plan --env $(ENV) --output $(OUTPUT)

.PHONY: verify
verify: setup ## Render and check what FILES affect (all of ENV, or everything, without FILES)
	@$(CLI) verify $(OPTIONAL_ENV) --output $(OUTPUT) $(FILES)

# --- Policies (policies/*.rego, run by conftest; Rego unit tests by opa test) ---

.PHONY: policy
policy: setup ## Print every policy result for each release of ENV (default staging); RELEASE=name for one
	@$(BIN)/python -m vllm_models.policy --env $(ENV) $(if $(RELEASE),--release $(RELEASE))

.PHONY: generate-policy-docs
generate-policy-docs: setup ## Regenerate the rule table in policies/README.md from the rules' METADATA blocks
	@$(BIN)/python -m vllm_models.policy --write-docs

# --- Golden renders (tests/golden/: every environment's releases and every chart example) ---

.PHONY: update-golden
update-golden: setup ## Rewrite tests/golden/ from the current chart and environments (review the diff, then commit)
	@$(BIN)/python scripts/update_golden.py
