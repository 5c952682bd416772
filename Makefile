# Cadenza: every target works from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTO_ROOT := protos
PROTOS := $(shell find $(PROTO_ROOT)/cadenza -name '*.proto')
STAMP := $(VENV)/.installed

.PHONY: install protos test run run-orchestrator run-executor demo bench bench-peer clean

install: $(STAMP) protos

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Python stubs and typed stubs (.pyi) for the contract; never edited by hand.
protos: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m grpc_tools.protoc -I$(PROTO_ROOT) \
	  --python_out=$(PROTO_ROOT) --grpc_python_out=$(PROTO_ROOT) \
	  --mypy_out=$(PROTO_ROOT) --mypy_grpc_out=$(PROTO_ROOT) $(PROTOS)

test: install
	$(PY) -m pytest

run-orchestrator: install
	$(PY) -m orchestrator serve

run: install
	$(VENV)/bin/cadenza start

demo: install
	$(VENV)/bin/cadenza demo

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info
	find $(PROTO_ROOT) -name '*_pb2*.py*' -delete
