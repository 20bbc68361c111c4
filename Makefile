# dynaworld: two commands on a fresh machine.
#   make demo   set up .venv (the library only) and run the main job
#   make test   set up .venv with the dev tools and run the test suite
# torch is pinned through constraints.txt (torch==2.13.0: the local CPU wheel here, no CUDA download).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: install test demo lint typecheck bench docs clean

BASE   := $(VENV)/.installed-base

# what the demo and the library need (no Ray, VizDoom, envpool, GPyTorch, SB3, mypy); not
# byte-compiled at install: Python compiles only what a run imports, at its first import. The
# part of torch every optimizer imports (torch._dynamo, ~800 modules, ~8 s to compile) is
# compiled on the other core while pip installs the rest. dynaworld is built with the setuptools
# torch brings (no isolated build environment to set up: 4 s less).
$(BASE): pyproject.toml constraints.txt
	test -x $(PY) || ($(PYTHON) -m venv --without-pip $(VENV) && $(PYTHON) -m pip --python $(PY) \
	  install -q --no-compile pip > /dev/null 2>&1) || $(PYTHON) -m venv $(VENV)  # (5 s less than venv's own pip)
	$(PY) -m pip install -q --no-compile -c constraints.txt torch 'setuptools>=77'
	$(PY) -W ignore -c "import torch._dynamo" > /dev/null 2>&1 & \
	  $(PY) -m pip install -q --no-compile --no-build-isolation -c constraints.txt -e . && wait
	$(PY) -c "import torch, dynaworld; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(BASE)

# everything the test suite exercises
$(STAMP): $(BASE)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true  # the suite's many processes (a package's deliberately broken test file is not an error)
	touch $(STAMP)

install: $(BASE)

test: $(STAMP)
	$(PY) -m pytest -q --durations=10

demo: $(BASE)
	$(VENV)/bin/dynaworld demo --out runs/demo-$$(date +%Y%m%d-%H%M%S)

lint: $(STAMP)
	$(VENV)/bin/ruff check dynaworld tests benchmarks
	$(VENV)/bin/ruff format --check dynaworld tests benchmarks

# the documentation site (site/; `$(VENV)/bin/mkdocs serve` to browse while editing)
docs: $(STAMP)
	$(PY) -m dynaworld.cli.reference docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/dqn_throughput.py
	$(PY) benchmarks/planning_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
