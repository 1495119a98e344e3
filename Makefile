# Agent registry: every target documents itself; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null
	$(PY) -m pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]'
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv and install the project with dev extras

.PHONY: redis-server
redis-server: ## Make sure redis-server is installed (apt, when run as root)
	@command -v redis-server >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	else \
		echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server)"; exit 1; \
	fi

.PHONY: promtool
promtool: ## Make sure promtool and prometheus are installed (apt package prometheus, when run as root)
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
		command -v systemctl >/dev/null && systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	else \
		echo "promtool is missing: install it (Debian/Ubuntu: sudo apt-get install prometheus)"; exit 1; \
	fi

.PHONY: chromium
chromium: ## Make sure headless Chromium and its driver are installed (apt, when run as root; the /ui test)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	else \
		echo "chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium chromium-driver)"; exit 1; \
	fi

.PHONY: bundle
bundle: $(STAMP) ## Build the dev config bundle into .bundle (served by `make run`)
	$(VENV)/bin/registry-build build --env dev --out .bundle -q

PORT ?= 8000

.PHONY: run
run: bundle ## Run one replica on 127.0.0.1:PORT (default 8000; make run PORT=8001) with the embedded store and the dev bundle
	REGISTRY_BUNDLE_DIR=.bundle $(VENV)/bin/registry serve --host 127.0.0.1 --port $(PORT)

.PHONY: validate
validate: $(STAMP) ## Validate templates, values and schemas for every environment (CI gate)
	$(VENV)/bin/registry-build validate --all-envs

.PHONY: bench-build
bench-build: $(STAMP) ## Benchmark: build + validate 1,000 profiles x 3 environments
	$(VENV)/bin/python -m buildtime.bench

.PHONY: helm-lint
helm-lint: $(STAMP) promtool ## Render, lint, validate and test the Helm chart
	$(VENV)/bin/python helm/tools/values_table.py --check
	$(VENV)/bin/pytest tests/unit/helm

.PHONY: helm-template
helm-template: $(STAMP) ## Print the chart's rendered manifests (ARGS='-f values-prod.yaml --set redis.url=...')
	@$(VENV)/bin/python helm/tools/template.py $(ARGS)

.PHONY: helm-docs
helm-docs: $(STAMP) ## Regenerate the values table in helm/agent-registry/README.md
	$(VENV)/bin/python helm/tools/values_table.py

.PHONY: loadtest
loadtest: $(STAMP) redis-server ## Locust: Redis + 2 replicas, mixed scenario (60 s), exits non-zero on a broken threshold
	$(PY) -m loadtests.run --duration 60

.PHONY: bench
bench: $(STAMP) redis-server ## Benchmark: ratios vs the framework ceiling, 1k/100k agents (wrk) -> loadtests/results/latest.json; HEAD with token auth, HEAD during a config rollout
	$(PY) -m loadtests.bench
	$(PY) -m loadtests.bench_auth
	$(PY) -m loadtests.bench_rollout

.PHONY: bench-propagation
bench-propagation: $(STAMP) redis-server ## Benchmark: a new active config reaching 1,000 RegistryClients (p50/p99/max vs the interval), then each step of a rollout reaching its cohort
	$(PY) -m loadtests.bench_propagation --agents 1000 --interval 5 --histogram
	$(PY) -m loadtests.bench_propagation --agents 1000 --interval 5 --rollout

.PHONY: bench-servers
bench-servers: $(STAMP) redis-server ## Benchmark: HEAD heartbeats under uvicorn, granian, hypercorn, `registry serve` (ratio to uvicorn) + slow-header probe
	$(PY) -m loadtests.servers --duration 5

.PHONY: bench-peer
bench-peer: $(STAMP) redis-server ## Benchmark: same HEAD/POST workload against the MCP Mesh reference registry (npm pack)
	$(PY) -m loadtests.peer

.PHONY: faults
faults: $(STAMP) redis-server ## Fault injection (2 replicas, Redis/Sentinel/Cluster, 300 agents): kills, restarts, failovers -> loadtests/results/faults-latest.json; exits non-zero on a missed goal
	$(PY) -m loadtests.faults

.PHONY: image
image: $(STAMP) ## Build the image for ENV (default prod) with rootful podman: localhost/agent-registry:<version>-cfg-<12 hex>
	image/build.sh --env $(or $(ENV),prod)

.PHONY: image-test
image-test: $(STAMP) redis-server ## As root: build two config versions, run them under podman (rollout, rollback by image, tamper, healthcheck)
	$(VENV)/bin/pytest tests/image

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check), mypy --strict and the import-linter layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

.PHONY: fmt
fmt: $(STAMP) ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: test
test: $(STAMP) redis-server promtool chromium ## Install everything; lint, validate configs, run every test (image tests as root)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory validate
	$(VENV)/bin/python helm/tools/values_table.py --check
	$(VENV)/bin/pytest --ignore=tests/image
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory image-test; \
	else echo "image-test skipped: it needs root (rootful podman); run it as root: make image-test"; fi
