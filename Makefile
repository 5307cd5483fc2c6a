# Test and demo entry points. Everything sets itself up from a fresh clone:
# virtualenvs under .venv/, a copy of the checkout under
# build/ansible_collections/existio/exist/ for ansible-test, results and logs
# under build/results/. The test stages are nox sessions: see noxfile.py for them and their knobs.

SHELL := /bin/bash
TOOLS := tests/tools
# nox itself, in a virtualenv of its own on the machine's Python 3.11 (tests/requirements-nox.txt).
NOX_VENV := .venv/nox
NOX := $(NOX_VENV)/bin/nox
PYTHON ?= $(shell bash -c 'source $(TOOLS)/common.sh && any_python')
# After the sessions, the summary: its last line is `N passed, N failed`, its exit status make's.
SUMMARY := $(NOX_VENV)/bin/python $(TOOLS)/results.py summary build/results

.PHONY: test sanity units integration emulator-tests compat fuzz lint docs demo venv clean help

help:
	@echo "make test            sanity, units, emulator tests, integration, compat, fuzz, demo-fleet, bench-requests, lint; then 'N passed, N failed'"
	@echo "make sanity          ansible-test sanity on ansible-core 2.16 and 2.19 (Py3.11) and 2.21 (Py3.12)"
	@echo "make units           ansible-test units on both ansible-core versions"
	@echo "make emulator-tests  the emulator's own pytest suite"
	@echo "make integration     ansible-test integration against a freshly started emulator"
	@echo "make compat          the Galaxy tarball on ansible-core 2.16 and 2.21: install, emulator from the install, demo on both paths"
	@echo "make fuzz            the fault fuzzers (ownership, values, token flow) against the emulator (FUZZ_SECONDS each, FUZZ_SEED)"
	@echo "make lint            ansible-lint, antsibull-docs, antsibull-changelog, version, README links, tarball contents, the README's emulator install, galaxy-importer, the docs site"
	@echo "make docs            the docs site (antsibull-docs + sphinx-build -W, offline) into build/docs/html"
	@echo "make demo            build + install the collection, run playbooks/demo.yml against the emulator"
	@echo "make demo-fleet      three users: exchange codes into a token store, inventory, converge, report, refresh"
	@echo "make venv            only create/refresh the virtualenvs"
	@echo "make bench           benchmarks (tests/perf): requests per run, time per task, scale; writes docs/docsite/rst/performance.rst"
	@echo "make bench-requests  only the requests-per-run benchmark (also part of make test)"
	@echo "make test-real       opt-in: the attribute_real target against exist.io (needs EXIST_TEST_TOKEN; never in make test)"
	@echo "make clean           remove .venv/, build/, .ansible/ (ansible-lint) and tests/output/"

$(NOX): tests/requirements-nox.txt
	@rm -rf $(NOX_VENV) && $(PYTHON) -m venv $(NOX_VENV)
	@set -o pipefail; $(NOX_VENV)/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements-nox.txt 2>&1 \
		| { grep -v "^WARNING: Location 'file://" || true; }
	@touch $(NOX)

test: $(NOX)
	@rm -rf build/results; $(NOX) --nocolor; $(SUMMARY)

sanity units integration emulator-tests compat fuzz lint docs: $(NOX)
	@rm -rf build/results; $(NOX) --nocolor --sessions $@; $(SUMMARY)

demo:
	@bash $(TOOLS)/demo.sh

.PHONY: demo-fleet
demo-fleet:
	@bash $(TOOLS)/demo_fleet.sh

venv: $(NOX)
	@bash $(TOOLS)/venv.sh 2.16 && bash $(TOOLS)/venv.sh 2.19 && bash $(TOOLS)/venv.sh 2.21

.PHONY: bench bench-requests
bench:
	@bash tests/perf/bench.sh all $(BENCH_ARGS)

bench-requests:
	@bash tests/perf/bench.sh requests

clean:
	rm -rf .venv build .ansible tests/output tests/integration/integration_config.yml

.PHONY: test-real
test-real:
	@bash $(TOOLS)/test_real.sh
