# oms-sourcing: every target creates what it needs (virtualenv, stubs, database) itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto')
GEN    := server/generated
GEN_STAMP := $(GEN)/.stamp
DB     ?= var/oms-sourcing.db
H2GEN  := build/h2gen

.PHONY: install proto run test test-all lint bench profile soak load fuzz clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(STAMP) $(GEN_STAMP)  ## create the virtualenv from the lock file and generate stubs

# Stubs are generated with the pinned grpcio-tools that also runs them; never edited by hand.
$(GEN_STAMP): $(STAMP) $(PROTOS)
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(GEN) --pyi_out=$(GEN) --grpc_python_out=$(GEN) $(PROTOS)
	touch $@

proto: $(GEN_STAMP)  ## generate Python stubs from proto/

# The benchmarks' load generator (benchmarks/h2gen): C over nghttp2, whose headers come from
# Debian's libnghttp2-dev, installed here when missing.
$(H2GEN): benchmarks/h2gen/h2gen.c
	@test -f /usr/include/nghttp2/nghttp2.h || { echo "installing libnghttp2-dev for $(H2GEN)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q libnghttp2-dev >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libnghttp2-dev >/dev/null; }; }
	mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lnghttp2

run: install  ## serve on SQLite with the sample network and rules (loads them into an empty store)
	mkdir -p $(dir $(DB))
	$(BIN)/oms-sourcing serve --config config/development.toml --database sqlite:///$(DB) --load-sample-if-empty

test: install $(H2GEN)  ## the whole suite that CI runs (PostgreSQL tests skip only outside CI when it is absent)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy engine server benchmarks
	$(BIN)/pytest -m "not slow"

test-all: install $(H2GEN)  ## everything, slow tests included
	$(BIN)/pytest

lint: install  ## ruff, mypy and the engine-purity import contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true
	$(BIN)/lint-imports
	$(BIN)/mypy engine server benchmarks

# Each benchmark starts the servers it needs (SQLite in a temp dir; PostgreSQL from
# OMS_TEST_POSTGRES_DSN or postgres@127.0.0.1:5432, skipped when absent). ~10 minutes.
bench: install $(H2GEN)  ## optimizer (with hard orders), rules, service, allocate and joint-decision benchmarks + summary; results in benchmarks/results/
	$(PY) -m benchmarks.optimizer_bench --no-progress
	$(PY) -m benchmarks.rules_bench
	$(PY) -m benchmarks.service_bench
	$(PY) -m benchmarks.allocate_bench
	$(PY) -m benchmarks.batch_bench
	$(PY) -m benchmarks.summary

profile: install  ## where a Source call's time goes (cProfile, in process); see docs/profiling.md
	$(PY) -m benchmarks.profile_source

soak: install $(H2GEN)  ## 10 minutes of Source at 70% of measured peak: errors, memory, threads flat (not in make test)
	$(PY) -m benchmarks.soak --minutes $(or $(MINUTES),10)

fuzz: install  ## the optimizer's property tests (against exhaustive search) with 20x the examples; not in make test
	OMS_FUZZ_FACTOR=$(or $(FACTOR),20) $(BIN)/pytest -q tests/engine/test_optimality.py \
		tests/engine/test_optimizer_subset_search.py tests/engine/test_dominance.py tests/engine/test_problem_build.py \
		tests/engine/test_batch.py

load: install  ## headless locust load test (step load) against a server it starts; reports in benchmarks/load/reports/
	$(PY) -m benchmarks.load.run

clean:  ## remove the virtualenv, generated code and local databases
	rm -rf $(VENV) $(GEN) var .pytest_cache .mypy_cache .ruff_cache build *.egg-info
