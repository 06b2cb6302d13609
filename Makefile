# Developer entry points. `make test` is what CI runs (through .ci/run) and what the README names.
PYTHON ?= python3
VENV := .venv
CLIENTS := .venv-clients
NODE_DEPS := tests/e2e/node

.PHONY: install clients node-deps test test-fast test-newer bench bench-compress bench-proxy bench-cost clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test]"
	touch $@

# The SDKs a wrapped agent would have, in their own venv: the newest openai/anthropic cannot share
# a venv with mitmproxy 11 (platform.md §1), and a real agent never shares ours anyway.
clients: $(CLIENTS)/.installed

$(CLIENTS)/.installed: Makefile
	$(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/pip install -q --upgrade pip
	$(CLIENTS)/bin/pip install -q openai anthropic google-genai
	touch $@

node-deps: $(NODE_DEPS)/node_modules/.installed

$(NODE_DEPS)/node_modules/.installed: $(NODE_DEPS)/package.json
	cd $(NODE_DEPS) && npm install --no-audit --no-fund --loglevel=error
	touch $@

# pytest's exit code 5 means no test ran: that must fail, never pass silently.
test: install clients node-deps
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

test-fast: install
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not e2e"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: no tests were collected" >&2; exit 1; fi; exit $$rc

# The fast suite on a newer Python than the system's (CI's second interpreter): CPython 3.13, built once from
# Debian's source into .cache by .ci/newer-python, in a venv of its own.
NEWER_PREFIX := .cache/python3.13
NEWER_VENV := .venv-313

$(NEWER_VENV)/.installed: pyproject.toml .ci/newer-python
	.ci/newer-python $(NEWER_PREFIX) >/dev/null
	$(NEWER_PREFIX)/bin/python3.13 -m venv $(NEWER_VENV)
	$(NEWER_VENV)/bin/pip install -q -e ".[test]"
	touch $@

test-newer: $(NEWER_VENV)/.installed
	$(NEWER_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not e2e"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-newer: no tests were collected" >&2; exit 1; fi; exit $$rc

bench: bench-compress bench-proxy

bench-compress: install
	$(VENV)/bin/python benchmarks/compress_bench.py

bench-proxy: install clients
	$(VENV)/bin/python benchmarks/proxy_overhead.py

# Side by side with bare mitmproxy (issue 17): interleaved rounds, per-round ratios.
bench-cost: install
	$(VENV)/bin/python benchmarks/proxy_cost.py --rounds 5

clean:
	rm -rf $(VENV) $(CLIENTS) $(NEWER_VENV) $(NODE_DEPS)/node_modules test-output
