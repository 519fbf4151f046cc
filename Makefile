# The README's two commands: `make demo` and `make test`. Each bootstraps .venv on first use.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)

.PHONY: demo test lint system-deps clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "GridWatch needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	@$(MAKE) --no-print-directory system-deps
	@touch $(STAMP)

# Mosquitto (broker and C clients) and Chromium (the dashboard's browser test) from the
# system's packages when missing and we may install.
system-deps:
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ] \
	   || ! command -v mosquitto_pub >/dev/null || [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      mosquitto mosquitto-clients chromium >/dev/null; \
	  else echo "note: install mosquitto, mosquitto-clients and chromium, or set GRIDWATCH_MQTT_URL"; fi; \
	fi

demo: $(STAMP)
	$(VENV)/bin/gridwatch demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .gridwatch .mypy_cache .ruff_cache .pytest_cache
