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

# Benchmarks (benchmarks/README.md). bench: W1-W4 on Cadenza (service and embedded) plus the
# 1k/10k scale runs, a few minutes; bench-scale: 1k/10k/100k, opt-in (the 100k runs take minutes);
# bench-peer: the same workloads on Prefect 2.20 and 3.9 in their own venvs under .bench/.
BENCH_REPEAT ?= 3
BENCH_PEERS := .bench/prefect2/.installed .bench/prefect3/.installed

bench: install
	$(PY) -m benchmarks.run --repeat $(BENCH_REPEAT)

.PHONY: bench-scale
bench-scale: install
	$(PY) -m benchmarks.run --scale-only --scale 1000,10000,100000

bench-peer: install $(BENCH_PEERS)
	$(PY) -m benchmarks.run --peer --scale '' --repeat $(BENCH_REPEAT)

# Prefect is installed only when its venv or its pinned version is missing, never into $(VENV).
.bench/%/.installed: benchmarks/requirements-%.txt
	test -x .bench/$*/bin/python || $(PYTHON) -m venv .bench/$*
	.bench/$*/bin/python -m pip install -q --upgrade pip
	.bench/$*/bin/python -m pip install -q -r $<
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
	find $(PROTO_ROOT) -name '*_pb2*.py*' -delete
