# The two commands: `make run` (embedded demo) and `make test` (the test suite).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test install clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import django, celery, rest_framework, drf_spectacular, psycopg, playwright" 
	touch $@

install: $(VENV)/.installed

## Sets up and runs the control plane with a demo on http://127.0.0.1:8000 (SQLite and a
## local broker unless DATABASE_URL / REDIS_URL are set).
run: $(VENV)/.installed
	VENV=$(VENV) bash scripts/run.sh

## Sets up and runs the tests against PostgreSQL and Redis on 127.0.0.1 and headless Chromium.
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
