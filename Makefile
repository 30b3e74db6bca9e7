# Entry points fixed by DESIGN.md: setup (venv + pinned packages), run (web + worker + beat), test.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	@echo "Postback hub on http://127.0.0.1:$(PORT)/  admin: http://127.0.0.1:$(PORT)/admin/"
	WEB_PORT=$(PORT) $(BIN)/honcho start -f Procfile

test: setup
	@# The browser test drives Debian's Chromium (never a browser download); install it once, as root.
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
		|| echo "warning: could not install Debian's chromium; the browser test will be skipped (a failure with CI=true)"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Both benchmarks (receiver about 2.5 minutes, forwarding about 6.5); BENCH_ARGS goes to both, e.g. --quick.
bench: setup
	$(BIN)/python bench/receiver.py $(BENCH_ARGS)
	$(BIN)/python bench/forwarding.py $(BENCH_ARGS)
