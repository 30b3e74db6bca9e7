# Entry points fixed by DESIGN.md: setup (venv + pinned packages), run (web + worker + beat), test.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser run test lint bench

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	@# The metrics' files of the last run (prometheus_client's multiprocess mode) go before any process of this one
	@# writes its own: their counters start again from zero together, which Prometheus reads as one reset.
	rm -rf "$${PROMETHEUS_MULTIPROC_DIR:-$${VAR_DIR:-var}/metrics}"
	@echo "Postback hub on http://127.0.0.1:$(PORT)/  admin: http://127.0.0.1:$(PORT)/admin/"
	WEB_PORT=$(PORT) $(BIN)/honcho start -f Procfile

# The browser test drives Debian's Chromium (never a browser download); installed once, as root.
browser:
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
		|| echo "warning: could not install Debian's chromium; the browser test will be skipped (a failure with CI=true)"

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmarks, then bench/results.md from their JSON (bench/README.md). A full run takes about
# 40 minutes on 2 cores (receiver ~9 with its 1,000,000-postback preload, forwarding ~13, scale-out ~5,
# prune ~11);
# BENCH_ARGS goes to all of them (e.g. --quick, about 5 minutes), BENCH_NOTE into the results' header.
# The receiver's load generator is Debian's wrk, installed here once as root (else its asyncio client).
BENCH_OUT ?= bench/out
bench: setup
	@command -v wrk >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; } \
		|| echo "warning: could not install Debian's wrk; bench/receiver.py uses its asyncio client instead"
	@mkdir -p $(BENCH_OUT) && rm -f $(BENCH_OUT)/*.json
	@# Every benchmark runs even if one fails; the exit status says whether any did.
	status=0; \
	$(BIN)/python bench/receiver.py --out $(BENCH_OUT)/receiver.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/receiver_profile.py --out $(BENCH_OUT)/receiver_profile.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/forwarding.py --out $(BENCH_OUT)/forwarding.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/scale_out.py --out $(BENCH_OUT)/scale_out.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/backlog.py --out $(BENCH_OUT)/backlog.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/prune.py --out $(BENCH_OUT)/prune.json $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/report.py $(BENCH_OUT) --note "$(BENCH_NOTE)" > bench/results.md || status=1; \
	echo "wrote bench/results.md"; exit $$status
