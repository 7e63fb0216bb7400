# The two commands of the README are `make run` and `make test`; the rest help.
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
STAMP := $(VENV)/.installed

.PHONY: install run test test-faults lint security format check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Tango needs Python 3.11: set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the app on the embedded default: SQLite, tasks in-process, demo data, demo logins.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py run_economics --if-missing
	$(PY) manage.py demo_logins --port $(PORT)
	$(PY) manage.py runserver 0.0.0.0:$(PORT)

## Run the whole test suite (SQLite by default; DATABASE_URL / CELERY_BROKER_URL switch it).
test: install
	$(PY) -m pytest

## The worker-kill test (marked worker_kill, left out of `make test`): a real worker is
## killed in the middle of an economics run. Needs DATABASE_URL (PostgreSQL) and
## CELERY_BROKER_URL (Redis).
test-faults: install
	$(PY) -m pytest -m worker_kill

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

## bandit over the application's code (exclusions in pyproject.toml). Its log (a note for
## each `# nosec` on a statement of several lines) goes to var/bandit.log, shown on failure.
security: install
	@mkdir -p var
	$(VENV)/bin/bandit -c pyproject.toml -r . -q 2>var/bandit.log || { cat var/bandit.log; exit 1; }

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

## The performance figures of docs/performance.md: import, economics run, CLV stage, pages,
## load (table on screen, JSON in var/benchmark.json). It writes to the database: point
## DATABASE_URL at a PostgreSQL scratch database, e.g.
##   DATABASE_URL=postgres://postgres@127.0.0.1:5432/tango_bench make bench
## With fewer than BENCH_CUSTOMERS customers there, a data set of that size is generated.
BENCH_CUSTOMERS ?= 1000000
bench: install
	$(PY) manage.py benchmark --customers $(BENCH_CUSTOMERS)

clean:
	rm -rf $(VENV) var
