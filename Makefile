# make demo: the default end-to-end study; make test: the test suite.
# Both create .venv on a fresh machine (torch 2.13.0 first: its CPU wheel is on local disk)
# and reinstall only when pyproject.toml changed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= demo-output
SEED ?= 0

.PHONY: demo test lint benchmark clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/synthebsd demo --out $(OUT) --seed $(SEED)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check synthebsd tests benchmarks
	$(VENV)/bin/ruff format --check synthebsd tests benchmarks

benchmark: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(OUT)
