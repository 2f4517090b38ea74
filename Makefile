# dockermem: set-up, demo, tests and benchmarks. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := compose/demo.yaml

.PHONY: help venv engine images engines tools demo demo-down test lint typecheck unit integration clock-guard bench clean

help:
	@echo "make demo       bring up the demo stack with dockermem and show its health"
	@echo "make test       the whole suite: lint, types, unit and real-engine tests"
	@echo "make bench      side-by-side benchmarks, written to docs/benchmarks.md"
	@echo "make demo-down  remove the demo stack"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,html]'
	@touch $@

venv: $(STAMP)

engine:
	@PYTHON=$(PYTHON) scripts/ensure-docker

images: engine
	@scripts/build-images

# The test matrix's two more engines, beside the default one: Docker 26 (Debian trixie's
# packages) and Podman 4.3 (bookworm's), with the test images.
engines: images
	@scripts/ensure-engines

tools:
	@scripts/ensure-tools faketime=faketime tmux=tmux chromium=chromium

demo: venv images
	$(BIN)/dockermem up -f $(DEMO)
	$(BIN)/dockermem health -p dockermem-demo

demo-down: engine
	docker compose -f $(DEMO) down --volumes --remove-orphans

lint: venv
	$(BIN)/ruff check dockermem tests benchmarks
	$(BIN)/ruff format --check dockermem tests benchmarks

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not docker"

integration: venv images engines
	$(BIN)/pytest -m docker

test: venv images engines tools lint typecheck
	DOCKERMEM_REQUIRE_DOCKER=1 $(BIN)/pytest
	$(MAKE) --no-print-directory clock-guard

# The tests without docker once more with the clock far ahead and far back (libfaketime), so
# that a test that reads today's date fails the day it is written, not years later. The
# property tests run fewer examples here: the guard is after dates, not parser inputs. Only
# the date moves: the monotonic clock is left real (FAKETIME_DONT_FAKE_MONOTONIC), as faking it
# goes through a lock that a process forked from a threaded one can find held (libfaketime
# issue 331: a stand-in docker started from asyncio then hangs until its timeout).
CLOCK_GUARD_DATES := 2031-06-15 12:00:00|2024-02-29 23:59:30
clock-guard: venv tools
	@dates='$(CLOCK_GUARD_DATES)'; IFS='|'; for date in $$dates; do \
		echo "clock guard: the tests without docker at $$date"; \
		FAKETIME_DONT_FAKE_MONOTONIC=1 DOCKERMEM_TEST_EXAMPLES=200 faketime "$$date" $(BIN)/pytest -q -m "not docker" -p no:cacheprovider \
			|| exit 1; \
	done

# dockermem's bytecode compiled first, as pip does when it installs a package (an editable
# install under PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run).
bench: venv images engines
	$(BIN)/python -m compileall -q dockermem
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
