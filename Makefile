# The two commands of the README (and `make lint`). All set up ./.venv first when needed
# (tools/setup_env.sh is idempotent: seconds when the environment is ready).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?= -q -ra -n 2

.PHONY: setup demo test lint

# What `make lint` checks (it changes nothing): the OpenMMLab pre-commit set.
LINT_PATHS ?= mmseg_refiner tools tests demo configs

setup:
	bash tools/setup_env.sh

demo: setup
	$(PYTHON) demo/refine_demo.py --out-dir outputs/demo

test: setup
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

lint: setup
	$(PYTHON) -m flake8 $(LINT_PATHS)
	$(PYTHON) -m isort --check-only --diff $(LINT_PATHS)
	$(PYTHON) -m yapf --diff --recursive $(LINT_PATHS)
