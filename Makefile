# Video-export kit. `make help` lists the targets; the two that set up everything on a fresh machine:
#   make dev-up   bring up LocalStack (no Docker needed) and deploy the whole stack to it
#   make test     lint, Terraform checks, unit tests and end-to-end tests against the local stack
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ENV ?= local
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# ---------------------------------------------------------------- set-up
.PHONY: system-deps venv node-tools lock
system-deps: ## Install ffmpeg, a font, a JDK, Node.js and Chromium from Debian when missing
	@scripts/bootstrap/system_deps.sh

venv: system-deps ## Create .venv (the Python of .python-version) with the project and its dev tools
	@scripts/bootstrap/venv.sh

lock: ## Re-lock uv.lock after a pyproject change; export each Lambda's requirements from it
	@scripts/bootstrap/lock.sh

node-tools: system-deps ## Install the Node client's dev tools (Deno, pinned in clients/node/package-lock.json)
	@scripts/bootstrap/node_tools.sh

# ---------------------------------------------------------------- local stack
.PHONY: dev-up dev-down dev-status dev-env dev-logs demo rotate-secret revoke-previous-secret
dev-up: venv ## Start LocalStack (host mode, no Docker) and deploy terraform/envs/local to it
	@scripts/local_stack/up.sh

dev-down: ## Destroy the local deployment and stop LocalStack
	@scripts/local_stack/down.sh

dev-status: ## Show what runs locally
	@scripts/local_stack/status.sh

dev-env: ## Print EXPORT_API_URL, EXPORT_SIGNING_SECRET, EXPORT_WEBHOOK_SECRET, AWS_ENDPOINT_URL for `eval $$(make -s dev-env)`
	@scripts/local_stack/env.sh

rotate-secret: venv ## Rotate a secret (SECRET=signing|webhook, ENV=local|prod): a new value, the old one accepted for previous_secret_grace_seconds
	@scripts/rotate_secret.sh rotate

revoke-previous-secret: venv ## End the grace of the previous secret at once (SECRET=signing|webhook, ENV=local|prod), e.g. after a leak
	@scripts/rotate_secret.sh revoke-previous

dev-logs: ## Follow LocalStack's log
	@tail -n 200 -f .localstack/localstack.log

demo: dev-up ## Browser demo on http://127.0.0.1:8044/ (DEMO_PORT=...): pick a video and music, export, play
	@scripts/demo.sh

# ---------------------------------------------------------------- build and deploy
.PHONY: build image plan deploy
build: venv ## Build the Lambda artefacts into build/
	@$(PY) scripts/build_lambdas.py

image: venv ## Build the worker image localhost/video-export-worker:dev (Docker, else podman; no registry needed)
	@scripts/image/build.sh

plan: venv ## terraform plan for ENV (prod needs AWS credentials)
	@scripts/deploy.sh plan $(ENV)

deploy: venv ## Build and push the worker image, then terraform apply ENV (prod needs AWS credentials and Docker)
	@scripts/deploy.sh apply $(ENV)

# ---------------------------------------------------------------- checks
.PHONY: lint typecheck tf-validate tf-scan unit unit-fast image-test e2e chaos rehearse-prod test bench bench-fanout
lint: venv ## ruff (lint and format check)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: venv ## mypy --strict over the Python packages
	@$(VENV)/bin/mypy

tf-validate: venv ## terraform fmt -check and validate for every root, offline through the provider mirror
	@scripts/terraform/validate.sh

tf-scan: venv ## checkov over terraform/ (fails on findings without a justified inline skip)
	@scripts/terraform/scan.sh

unit: venv node-tools ## Unit tests (moto, real ffmpeg; the Node client on Node and Deno)
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

unit-fast: venv ## Unit tests without ffmpeg, Node/Deno, network or sleeps (the worker through a fake engine), in under a minute
	@$(PY) -m pytest tests/unit -m "not ffmpeg and not slow and not node and not realtime" -q $(PYTEST_ARGS)

image-test: image ## The worker image as Lambda runs it: contents, a cold start, the render tests on its ffmpeg, host parity
	@$(PY) -m pytest tests/image -p no:cacheprovider -s $(PYTEST_ARGS)

e2e: dev-up ## End-to-end tests against the local stack (brought up if needed; left running)
	@$(PY) -m pytest tests/e2e -m e2e -p no:cacheprovider $(PYTEST_ARGS)

chaos: dev-up ## Fault suite against the local stack: killed worker, killed ffmpeg, duplicates, poison (also in e2e)
	@$(PY) -m pytest tests/e2e/test_faults.py -m e2e -p no:cacheprovider -s $(PYTEST_ARGS)

rehearse-prod: venv ## Apply terraform/envs/prod to the local stack, one signed export with a webhook through it, destroy it
	@PYTEST_ARGS="$(PYTEST_ARGS)" scripts/rehearse_prod.sh

test: lint typecheck tf-validate tf-scan unit image-test e2e rehearse-prod ## Everything CI runs

BENCH_ARGS ?= --variant filter-threads-2 --variant decoder-threads-auto --variant scaler-bilinear
bench: venv image ## Render benchmark on the host's ffmpeg and in the worker image (vs plain encode, naive concat; setting variants), API cold starts
	@$(PY) benchmarks/bench_render.py $(BENCH_ARGS)
	@benchmarks/bench_in_image.sh $(BENCH_ARGS)
	@$(PY) benchmarks/bench_api.py

bench-fanout: venv ## Fan-out benchmark: two 10 min 720p exports (short sources; a cut of a 60 min 1080p source), single pass vs 20 chunks (each with its sound) + join, reads included (BENCH_ARGS="--case long")
	@$(PY) benchmarks/bench_fanout.py $(BENCH_ARGS)
