# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-8)

.PHONY: demo test test-all install chromium postgres lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# torch: the CPU build on this machine's disk (any other version pulls a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/careline demo

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

postgres:
	@scripts/ensure-postgres.sh

test: install chromium postgres
	CARELINE_TEST_POSTGRES_URL=$$(cat var/test-postgres-url 2>/dev/null) $(PY) -m pytest

test-all: install chromium postgres
	CARELINE_TEST_POSTGRES_URL=$$(cat var/test-postgres-url 2>/dev/null) $(PY) -m pytest -m ''

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info
