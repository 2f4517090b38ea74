# dockermem: set-up, demo, tests and benchmarks. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := compose/demo.yaml

.PHONY: help venv engine images demo demo-down test lint typecheck unit integration bench clean

help:
	@echo "make demo       bring up the demo stack with dockermem and show its health"
	@echo "make test       the whole suite: lint, types, unit and real-engine tests"
	@echo "make bench      side-by-side benchmarks, written to docs/benchmarks.md"
	@echo "make demo-down  remove the demo stack"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP)

engine:
	@PYTHON=$(PYTHON) scripts/ensure-docker

images: engine
	@scripts/build-images

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

integration: venv images
	$(BIN)/pytest -m docker

test: venv images lint typecheck
	DOCKERMEM_REQUIRE_DOCKER=1 $(BIN)/pytest

# dockermem's bytecode compiled first, as pip does when it installs a package (an editable
# install under PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run).
bench: venv images
	$(BIN)/python -m compileall -q dockermem
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
