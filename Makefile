# xraylab: two commands on a fresh machine (Python 3.11 + pip).
#   make demo   create .venv, install the base package, render the quick-start job on the embedded default CT
#   make test   create .venv, install with every extra, lint (ruff), type-check (mypy), run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.xraylab-base
FULL   := $(VENV)/.xraylab-full

.PHONY: demo test install clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The base install renders, generates, imports and degrades (pyproject.toml: dependencies).
$(BASE): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

# Everything: training (smp, timm, MONAI), TotalSegmentator, Ray, pytest/hypothesis, ruff/mypy.
$(FULL): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[all,test,dev]'
	touch $(FULL) $(BASE)

install: $(FULL)

demo: $(BASE)
	$(VENV)/bin/xraylab demo --out outputs/demo

test: $(FULL)
	$(VENV)/bin/ruff check src tests benchmarks docs examples scripts
	$(VENV)/bin/mypy
	$(PY) -m pytest

clean:
	rm -rf outputs .pytest_cache
