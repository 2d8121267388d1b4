# Dockyard's entry points. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
GENERATED := gen/.generated
PROTOS := $(shell find proto -name '*.proto')

.PHONY: run test proto lint bench clean

run: $(INSTALLED) $(GENERATED)
	PYTHONPATH=$(CURDIR):$(CURDIR)/gen $(PY) -m dockyard_kit.stack

test: $(INSTALLED) $(GENERATED)
	$(PY) -m pytest $(PYTEST_ARGS)

proto: $(INSTALLED)
	$(PY) proto/build.py && touch $(GENERATED)

lint: $(INSTALLED) $(GENERATED) node_modules/.bin/buf
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# The import contracts in pyproject.toml: services independent, the kit imports no service, layers.
	$(VENV)/bin/lint-imports
	# buf lints the descriptor set (it carries source info): no schema registry is needed for googleapis.
	node_modules/.bin/buf lint gen/dockyard.pb#format=binpb --config proto/buf.yaml --path dockyard

bench: $(INSTALLED) $(GENERATED)
	PYTHONPATH=$(CURDIR):$(CURDIR)/gen $(PY) -m bench

clean:
	rm -rf gen $(VENV) node_modules

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(GENERATED): $(INSTALLED) $(PROTOS) proto/build.py gateway/openapi.py
	$(PY) proto/build.py
	touch $@

node_modules/.bin/buf: package.json
	npm install --no-audit --no-fund --silent
	touch $@
