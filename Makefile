# finsent: the two commands a fresh machine needs are `make up` and `make test`.
# Both create .venv/ on first use (Python >= 3.11; packages from PyPI, pinned by constraints.txt).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv up test bench lint clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,airflow]'
	touch $(STAMP)

venv: $(STAMP)

## up: the main job on embedded defaults: migrate, then crawl boards and prices of FINSENT_TICKERS
up: venv
	$(BIN)/finsent db upgrade
	$(BIN)/finsent crawl
	$(BIN)/finsent prices

## test: the whole suite against a real Postgres (FINSENT_TEST_DATABASE_URL, else an embedded one)
test: venv
	$(BIN)/python -m pytest

## bench: ingest throughput against a naive baseline and a bare COPY, in one run
bench: venv
	$(BIN)/python bench/ingest.py

clean-venv:
	rm -rf $(VENV)
