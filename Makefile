# `make test` installs everything the tests need (Debian's chromium included) and runs them,
# one pytest worker per core (pytest-xdist).
PYTHON ?= python3

.PHONY: install test lint bench

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

test: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(PYTHON) -m ruff check argyll tests bench apps
	$(PYTHON) -m pytest -q -n auto

lint:
	$(PYTHON) -m ruff check argyll tests bench apps

bench:
	$(PYTHON) -m bench.core
