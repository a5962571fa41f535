# The two commands of the README: `make demo` and `make test`.
# Each sets up everything it needs: a virtual environment in .venv with
# pserv and its test extras, and (when run as root) the Debian packages
# the emulators need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# chromium and its fonts: the browser tests' browser (tests/browser).
# debhelper to lintian: building the Debian packages and installing them
# into a fresh Debian 12 root (tests/packaging).
APT_PACKAGES := ipmitool openipmi freeipmi-tools snmpd snmp openssl chromium fonts-dejavu-core \
	debhelper dpkg-dev python3-venv lintian debootstrap
STAMP := $(VENV)/.installed
# Playwright drives Debian's chromium; it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test setup apt clean

demo: setup
	$(BIN)/pserv demo

# Each part's tests run on the reactor its daemon uses (tests/conftest.py):
# one pytest run on Twisted's default reactor (region, client, simulation),
# one on asyncio (cluster, drivers, demo, whole system).  PYTEST_ARGS goes
# to both.  The target fails if either run fails; a run that selects no
# test (exit 5) is fine only if the other ran some.
test: setup
	@status=0; ran=0; \
	for reactor in default asyncio; do \
	  $(BIN)/python -m pytest --reactor=$$reactor $(PYTEST_ARGS); code=$$?; \
	  case $$code in 0) ran=1 ;; 5) ;; *) status=$$code ;; esac; \
	done; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	if [ $$ran -eq 0 ]; then echo "make test: no test ran"; exit 5; fi

setup: $(STAMP)

$(STAMP): setup.py
	@$(MAKE) --no-print-directory apt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres,cluster]'
	touch $(STAMP)

# Debian packages for the emulators, the tools the tests compare with and
# the browser tests' chromium.
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
