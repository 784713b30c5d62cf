# stepcoder: every target installs what it needs into .venv first (Python 3.11, pinned versions).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VERL_VENV := .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
PROFILE ?= tiny
REAL_DATA ?= ../shared/realdata
PYTEST_ARGS ?=
LAB_ARGS ?=
NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.py)

.PHONY: help venv test test-fast lab lint reproduce check-reproduction validate-real bench notebooks-sync lock clean \
	verl-venv test-verl lock-verl gpu-check

help:
	@echo "make reproduce   run notebooks 01-06 headlessly with papermill (PROFILE=$(PROFILE)) into papermill_runs/$(PROFILE)/;"
	@echo "                 unchanged steps are skipped (FORCE=1 redoes them); ends with the table and where the figures are"
	@echo "make check-reproduction   reproduce, then each table cell against papermill_runs/reference/$(PROFILE)/"
	@echo "make test        run the test suite"
	@echo "make test-fast   the suite without tests marked slow (the inner loop)"
	@echo "make lab [LAB_ARGS=...]   JupyterLab on notebooks/: each .py and its paired .ipynb open as one notebook"
	@echo "make lint        ruff (style, imports, bugs) and mypy (types of stepcoder_lib)"
	@echo "make validate-real [REAL_DATA=dir]  check the executor on real known-good solutions"
	@echo "make bench       executor, masking and prompt benchmarks"
	@echo "make notebooks-sync   re-pair notebooks/*.ipynb from their jupytext .py sources"
	@echo "make verl-venv   the verl==0.9.1 venv ($(VERL_VENV)); make test-verl runs tests/verl in it"
	@echo "make gpu-check   the CUDA check (tiny profile end to end, 6.7B-shaped sampler and PPO memory); needs a GPU"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "stepcoder needs Python 3.11+, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

test: venv
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# JupyterLab serving the checkout, opened on notebooks/, jupytext's pairing in effect (stepcoder_lib/lab.py says why).
lab: venv
	$(PY) -m stepcoder_lib.lab $(LAB_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

reproduce: venv
	$(PY) -m stepcoder_lib.reproduce --profile $(PROFILE) --out papermill_runs/$(PROFILE) $(if $(filter 1 yes true,$(FORCE)),--force)

check-reproduction: venv
	$(PY) -m stepcoder_lib.reproduce --profile $(PROFILE) --out papermill_runs/$(PROFILE) $(if $(filter 1 yes true,$(FORCE)),--force) --check

validate-real: venv
	$(PY) -m stepcoder_lib.validate_real $(REAL_DATA)

bench: venv
	$(PY) benchmarks/run_all.py

notebooks-sync: venv
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS)

lock: venv
	(echo "# Every package, pinned: what 'make venv' installs. Regenerate with 'make lock'."; \
	 $(PY) -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' | grep -v '^-e') > requirements.lock

verl-venv: $(VERL_VENV)/.installed

$(VERL_VENV)/.installed: requirements-verl.txt pyproject.toml
	test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install -q -r requirements-verl.txt
	$(VERL_PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

test-verl: verl-venv
	$(VERL_PY) -m pytest -q -p no:cacheprovider tests/verl $(PYTEST_ARGS)

lock-verl: verl-venv
	(echo "# Every package, pinned: what 'make verl-venv' installs into .venv-verl (CPU: the tests in tests/verl)."; \
	 echo "# verl==0.9.1 needs transformers<5.11, below the project's pin, hence a venv of its own. On a GPU node,"; \
	 echo "# see requirements-verl-gpu.txt (vLLM). Regenerate with 'make lock-verl'."; \
	 $(VERL_PY) -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' | grep -v '^-e') > requirements-verl.txt

gpu-check: venv
	$(PY) benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) $(VERL_VENV) artifacts .pytest_cache .hypothesis
