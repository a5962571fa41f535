# The two commands of the README: `make demo` and `make test`.
# Each sets up everything it needs: a virtual environment in .venv with
# pserv and its test extras, and (when run as root) the Debian packages
# the emulators need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := ipmitool openipmi freeipmi-tools snmpd snmp openssl
STAMP := $(VENV)/.installed

.PHONY: demo test setup apt clean

demo: setup
	$(BIN)/pserv demo

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): setup.py
	@$(MAKE) --no-print-directory apt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

# Debian packages for the emulators and the tools the tests compare with.
# Only root can install them; anyone else needs them installed already.
apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "apt-get install $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info
