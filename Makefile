# xraylab: two commands on a fresh machine (Python 3.11 + pip).
#   make demo   create .venv, install, render the quick-start job on the embedded default CT
#   make test   create .venv, install, lint (ruff), type-check (mypy), run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.xraylab-installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/xraylab demo --out outputs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks docs examples scripts
	$(VENV)/bin/mypy
	$(PY) -m pytest

clean:
	rm -rf outputs .pytest_cache
