# FastSock: `make run` serves the web chat on http://127.0.0.1:8000 (Daphne via `manage.py serve`); `make test` lints and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format worker bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "FastSock needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	@export DEBUG=$${DEBUG:-1} LOG_FORMAT=$${LOG_FORMAT:-console}; \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py seed_demo && \
	echo "" && \
	echo "  FastSock is starting on http://$(HOST):$(PORT)/" && \
	echo "  Log in as alice, bob or carol with the password fastsock-demo." && \
	echo "" && \
	exec $(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	DJANGO_SETTINGS_MODULE=fastsock.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

worker: install
	$(BIN)/celery -A fastsock worker --loglevel=INFO

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
