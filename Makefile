# Every target installs what it needs: a venv in .venv with the pinned requirements-dev.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ROLE ?= marketer
export SAM_CLI_TELEMETRY := 0
# The dev tools (demo, local stack, bench) import the layer package the way pytest does (pyproject pythonpath).
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/common/python

# pytest workers of `make test` (xdist, one local stack and moto server each). Measured on this project's 2-CPU
# machines: docs/decisions.md, "The test loop". WORKERS=0 runs the suite in one process.
WORKERS ?= 2
export WORKERS

.PHONY: venv browser demo local fire token test test-fast suite lint unit validate openapi build deploy smoke bench clean

# Once per clone (and again only when a requirements file changes): the stamp file says it is done.
$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@echo "Setting up $(VENV) (once): $$(grep -c '==' requirements-dev.txt) pinned packages from requirements-dev.txt:"
	@echo "  moto, the AWS SAM CLI, boto3, pydantic, Powertools, pytest, ruff, mypy, the Google Ads and Meta SDKs, ..."
	@echo "  about 900 MB; roughly 2 minutes on a fast connection. Later runs reuse it."
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@
	@echo "$(VENV) is ready."

venv: $(VENV)/.installed

## Debian's Chromium + ChromeDriver for the careers-site snippet test (installed when missing and root).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (Debian packages)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium/chromedriver missing: the browser test will skip (apt-get install chromium chromium-driver)"; fi; \
	fi

## The main job locally: local stack, a scripted scenario over HTTP, a printed report.
demo: venv
	$(PY) -m attract_local.demo

## Serve the API on http://127.0.0.1:3000 backed by the embedded AWS emulator.
local: venv
	$(PY) -m attract_local.serve

## Fire one schedule of a running `make local` now: make fire SCHEDULE=<event or schedule name> [URL=http://127.0.0.1:3000] [AT=<ISO time>]
fire: venv
	@$(PY) -m attract_local.fire "$(SCHEDULE)" $(if $(URL),--url $(URL)) $(if $(AT),--at $(AT))

## A bearer token for the local API: make token ROLE=marketer|recruiter|admin
token: venv
	@$(PY) -m attract_local.auth --role $(ROLE)

## All tests: ruff and mypy, then unit, integration (moto + real databases), e2e (local stack over HTTP),
## template checks, in parallel. The wall time is recorded in .local/test-times.json (printed by make bench).
test: venv browser
	@$(PY) -m attract_local.test_times record test -- $(MAKE) --no-print-directory lint checkov suite

## Every pytest test, on $(WORKERS) workers; an xdist_group (browser, load, demo) stays on one worker.
suite: venv
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup

## The loop a developer keeps running, under a minute: ruff, then the unit and logic tests (no servers).
test-fast: venv
	@WORKERS=0 $(PY) -m attract_local.test_times record test-fast -- sh -c '$(VENV)/bin/ruff check . && $(PY) -m pytest tests/unit -q'

## checkov over template.yaml (its own venv: .ci/checkov); every suppression is justified where it stands.
checkov: ; @bash .ci/checkov

## ruff and mypy over the code (configured in pyproject.toml); part of `make test`.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: test-fast

validate: venv
	AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline $(VENV)/bin/sam validate --region us-east-1

## sam build with the venv's SAM CLI and the Lambda runtime's Python (3.12: $$PYTHON312, python3.12 on PATH, or pyenv's);
## a missing one is named with what to do. BUILD_DIR=<dir> builds elsewhere than .aws-sam/build.
build: venv
	@$(PY) -m attract_local.deploy build $(if $(BUILD_DIR),--build-dir $(BUILD_DIR))

## sam deploy of the build: guided the first time (no samconfig.toml yet: it asks and saves), then as saved.
deploy: build
	@$(PY) -m attract_local.deploy deploy

## Opt-in: the e2e suite against a deployed stack: make smoke STACK=<name> [REGION=<region>]. URLs from the stack's
## outputs, a Cognito test user per group (created, then deleted); needs EnableSmokeTests=true on the stack.
## Without AWS credentials it says so and exits 0 (docs/privacy.md, "A deployed smoke test").
smoke: venv
	@$(PY) -m attract_local.smoke --stack "$(STACK)" $(if $(REGION),--region $(REGION))

## Regenerate the committed OpenAPI document (a test fails when it is stale).
openapi: venv
	$(PY) -m attract_local.openapi --write

bench: venv
	$(PY) bench/test_loop.py
	$(PY) bench/click_redirect.py
	$(PY) bench/joins.py
	$(PY) bench/cold_import.py
	$(PY) bench/relevance.py
	$(PY) bench/rescoring.py
	$(PY) bench/aggregates.py
	$(PY) bench/reports.py
	$(PY) bench/local_stack.py
	$(PY) bench/invite_sender.py
	$(PY) bench/invite_sources.py
	$(PY) bench/ads_layer.py
	$(PY) bench/spend.py
	$(PY) bench/invite_planner.py
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) .local .pytest_cache .aws-sam
