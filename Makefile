# The two commands of the README. Both set up ./.venv first when needed
# (tools/setup_env.sh is idempotent: seconds when the environment is ready).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?= -q -ra -n 2

.PHONY: setup demo test

setup:
	bash tools/setup_env.sh

demo: setup
	$(PYTHON) demo/refine_demo.py --out-dir outputs/demo

test: setup
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)
