# Two commands: `make demo` and `make test`. Each creates .venv and installs from the lock files.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := build/shadow/demo
# the compiled build (setup.py: mypyc over the kernel, environment and models), installed apart
FAST := .venv-fast
SOURCES := setup.py $(shell find shadow legacy_models unified reports replay_data -type f -not -name '*.pyc')

.PHONY: demo test test-browser bench fast lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(VENV)/.runtime: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.lock
	$(BIN)/pip install --quiet -r requirements-test.lock
	touch $@

demo: $(VENV)/.runtime
	$(BIN)/shadow replay replay_data/captures/sample-cloud-api.jsonl --out $(DEMO_OUT) --force
	@echo "report: $(DEMO_OUT)/report.md and $(DEMO_OUT)/report.html"

# pytest: two tests at a time per worker, longest first (tests/conftest.py, LONGEST_FIRST): no
# worker is left alone with a long test at the end
test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest -n 2 --dist load --maxschedchunk 2 --durations=15 -m "not browser and not bench"

test-browser: $(VENV)/.test
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/pytest -m browser

$(FAST)/.installed: requirements.lock pyproject.toml $(SOURCES)
	$(PYTHON) -m venv $(FAST)
	$(FAST)/bin/pip install --quiet --upgrade "pip>=24"
	$(FAST)/bin/pip install --quiet -r requirements.lock
	SHADOW_COMPILE=1 $(FAST)/bin/pip install --quiet --no-deps --force-reinstall .
	touch $@

# The same tool, compiled: byte-identical run files, about twice as fast (README, Performance).
fast: $(FAST)/.installed
	@echo "compiled build: $(FAST)/bin/shadow"

bench: $(VENV)/.test $(FAST)/.installed
	$(BIN)/pytest -m bench --benchmark-enable --benchmark-only --benchmark-columns=min,mean,max tests/bench
	$(BIN)/shadow bench --messages 200000
	$(FAST)/bin/shadow bench --messages 200000

# Regenerate the lock files from pyproject (needs the registries); commit the result.
lock:
	rm -rf /tmp/shadow-lock && $(PYTHON) -m venv /tmp/shadow-lock
	/tmp/shadow-lock/bin/pip install --quiet --upgrade "pip>=24"
	/tmp/shadow-lock/bin/pip install --quiet .
	/tmp/shadow-lock/bin/pip freeze --exclude coordinator-shadow > requirements.lock
	/tmp/shadow-lock/bin/pip install --quiet ".[test]"
	/tmp/shadow-lock/bin/pip freeze --exclude coordinator-shadow > requirements-test.lock

clean:
	rm -rf $(VENV) $(FAST) build .mypy_cache .ruff_cache
