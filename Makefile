# finsent: the two commands a fresh machine needs are `make up` and `make test`.
# Both create .venv/ on first use (Python >= 3.11; packages from PyPI, pinned by constraints.txt).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv up up-celery down demo env lint test bench soak docs screenshots clean-venv compose-build compose-up compose-demo compose-down test-stack

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,airflow]'
	touch $(STAMP)

venv: $(STAMP)

## up: the whole pipeline locally (embedded Postgres, MLflow :5000, Airflow :8080 with the finsent DAGs)
up: venv
	$(BIN)/finsent stack up

## up-celery: the same with the CeleryExecutor on the local Redis (127.0.0.1:6379): workers for queues default and gpu
up-celery: venv
	$(BIN)/finsent stack up --executor celery

## down: stop what `make up`, `make up-celery` and `make demo` started (task processes included)
down: venv
	$(BIN)/finsent stack down
	FINSENT_DATA_DIR=$${FINSENT_DEMO_DATA_DIR:-$(CURDIR)/data/demo} $(BIN)/finsent stack down

## demo: up, against the loopback Naver (a board and news with a planted signal; the page says the data are synthetic);
## runs ingest -> label -> train (board, then news) -> score -> backtest and waits (run it again: it reuses what runs)
demo: venv
	FINSENT_DATA_DIR=$${FINSENT_DEMO_DATA_DIR:-$(CURDIR)/data/demo} $(BIN)/finsent stack demo

## env: write .env with random secrets for docker compose (never overwrites an existing one)
env:
	@test ! -e .env || { echo ".env exists; remove it to generate new secrets"; exit 1; }
	@umask 077 && $(PYTHON) -c 'import base64,os,secrets; k=["POSTGRES_PASSWORD","FINSENT_DB_PASSWORD","AIRFLOW_DB_PASSWORD","MLFLOW_DB_PASSWORD","REDIS_PASSWORD","AIRFLOW_JWT_SECRET","AIRFLOW_API_SECRET_KEY"]; print("COMPOSE_PROJECT_NAME=finsent"); print("\n".join(f"{n}={secrets.token_urlsafe(24)}" for n in k)); print("AIRFLOW_FERNET_KEY="+base64.urlsafe_b64encode(os.urandom(32)).decode())' > .env
	@chmod 600 .env && echo "wrote .env (chmod 600)"

## compose-build: the images, also without a registry (local bases), with this host's pip settings
compose-build:
	docker/compose.sh build

## compose-up: build, start the compose stack (Airflow 127.0.0.1:8080, MLflow 127.0.0.1:5000), wait until healthy
compose-up:
	docker/compose.sh up

## compose-demo: compose-up with the loopback Naver, then crawl, label, train, score and backtest in the stack
compose-demo:
	docker/compose.sh demo

## compose-down: stop and remove the compose containers; volumes are kept (make compose-down ARGS=-v removes them)
compose-down:
	docker/compose.sh down $(ARGS)

## lint: ruff, then mypy on the typed boundaries (both configured in pyproject.toml); also run first by `make test`
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

## test: ruff, then the whole suite against a real Postgres (FINSENT_TEST_DATABASE_URL, else an embedded one);
## the compose stack's checks are `make test-stack` (they need a Docker engine: .ci/run starts one)
test: lint
	$(BIN)/python -m pytest --ignore=tests/compose --durations=20

## test-stack: the operator's checks of the docker compose stack (tests/compose; skipped without a Docker engine)
test-stack: venv
	$(BIN)/python -m pytest tests/compose

## bench: ingest throughput against a naive baseline and a bare COPY, in one run
bench: venv
	$(BIN)/python bench/ingest.py

## soak: twenty simulated days of the DAGs on the loopback Naver, faults injected every day, each day checked against
## the loopback's truth (bench/soak.py; figures in docs/soak.md); a scratch database on FINSENT_DATABASE_URL's server
## (else an embedded Postgres); ARGS="--days 5 --tickers 3" for another size
soak: venv
	$(BIN)/python bench/soak.py $(ARGS)

## docs: the docs site into site/ (mkdocs, material theme; strict: a broken link fails; the CLI reference and the
## schema are generated from the parser and the migrations); open site/index.html
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## screenshots: the docs' screenshots of every view, from the running demo (`make demo` first), in headless Chromium
screenshots: venv
	FINSENT_DATA_DIR=$${FINSENT_DEMO_DATA_DIR:-$(CURDIR)/data/demo} $(BIN)/python docs/screenshots.py

clean-venv:
	rm -rf $(VENV)
