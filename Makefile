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
# make test runs tests in parallel processes: most of its time is spent waiting (servers starting,
# fsyncs, subprocesses), so more workers than cores still shortens it.
TEST_WORKERS ?= 4

.PHONY: install proto run test test-all tour faults-long lint bench bench-relay profile soak load fuzz report-screenshot clean help

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
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --dist worksteal

test-all: install $(H2GEN)  ## everything, slow tests included
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# The README's commands in order, exactly as pasted (its 20,000-order simulation too), against a server
# started as `make run` starts it on a fresh database in a temporary copy; `make test` runs the same
# tour with a 2,000-order simulation (tests/integration/test_readme_tour.py).
tour: install  ## every README command as pasted, against a server like make run's (~2 minutes)
	$(BIN)/pytest -q -s -m slow tests/integration/test_readme_tour.py

# Fault tests at their real length, marked slow: make test runs the same faults shortened (a webhook
# receiver down for 2 s with a fast back-off instead of a minute with the shipped one).
faults-long: install  ## the integration faults at full length: a webhook receiver down a minute, both stores (~3 minutes)
	$(BIN)/pytest -q -m slow -n 2 tests/server/relay/test_webhooks.py

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

bench-relay: install $(H2GEN)  ## the outbox relay alone, then Allocate at its peak with the relay off and on (needs NATS JetStream at 127.0.0.1:4222)
	$(PY) -m benchmarks.relay_bench
	$(PY) -m benchmarks.relay_at_peak_bench --repeats 3

# The phase table runs under valgrind's callgrind (instructions: the same from run to run, where
# time on a shared machine is not); valgrind comes from Debian's package, installed when missing.
profile: install  ## a Source call by phase in instructions and time, before/after the lean path (benchmarks/phases.py), then cProfile; see docs/profiling.md
	@command -v valgrind >/dev/null || { echo "installing valgrind"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null; }; }
	$(PY) -m benchmarks.phases --out benchmarks/results/$$(date -u +%F)-phases.md
	$(PY) -m benchmarks.profile_source --rounds 3

soak: install $(H2GEN)  ## 10 minutes of Source at 70% of measured peak: errors, memory, threads flat (not in make test)
	$(PY) -m benchmarks.soak --minutes $(or $(MINUTES),10)

# The server fuzzers (tests/fuzz/) run FUZZ_SECONDS each (or FUZZ_CASES cases, whichever ends first) on a
# fresh seed, printed with the case counts; SEED=<n> repeats a run. `make test` runs them briefly, seed fixed.
fuzz: install  ## the optimizer's and the promise calculator's property tests with 20x the examples, then the server fuzzers; not in make test
	OMS_FUZZ_FACTOR=$(or $(FACTOR),20) $(BIN)/pytest -q tests/engine/optimizer/test_optimality.py \
		tests/engine/optimizer/test_search.py tests/engine/optimizer/test_dominance.py tests/engine/test_problem_build.py \
		tests/engine/test_batch.py tests/engine/promise/test_reference.py
	OMS_FUZZ_SECONDS=$(or $(FUZZ_SECONDS),120) OMS_FUZZ_CASES=$(FUZZ_CASES) OMS_FUZZ_SEED=$(or $(SEED),random) \
		$(BIN)/pytest -q -s --timeout 0 tests/fuzz/test_server_fuzz.py

load: install  ## headless locust load test (step load) against a server it starts; reports in benchmarks/load/reports/
	$(PY) -m benchmarks.load.run

# The README's month of orders simulated, and its report drawn by headless Chromium (Debian's
# chromium: apt-get install -y chromium), to look at the page as a planner sees it. Not in make test:
# tests/server/simulation/test_report.py reads the charts' axes, ticks and legends back instead.
CHROMIUM ?= /usr/bin/chromium
SHOT     := var/report-screenshot
report-screenshot: install  ## simulate the README's month and screenshot report.html: var/report-screenshot/report.png
	@test -x $(CHROMIUM) || { echo "needs Chromium at $(CHROMIUM) (apt-get install -y chromium, or CHROMIUM=...)"; exit 1; }
	mkdir -p $(SHOT)
	$(PY) -m benchmarks.history --network data/sample-network.json --orders $(or $(ORDERS),20000) --days 30 \
		--seed 7 --out $(SHOT)/history.jsonl --legacy-out $(SHOT)/legacy.jsonl --restock-every-days 7
	sed 's/protect: {node: {type: STORE}, units: 2}/protect: {node: {type: STORE}, units: 4}/' rules/default.yaml \
		> $(SHOT)/candidate.yaml
	$(BIN)/oms-sourcing simulate run --network data/sample-network.json --orders $(SHOT)/history.jsonl \
		--rules rules/default.yaml --compare $(SHOT)/candidate.yaml --legacy $(SHOT)/legacy.jsonl \
		--restock-every-days 7 --out $(SHOT) --no-progress \
		--fail-if 'cost_per_order>+1%' --fail-if 'fill_rate<0' || test $$? -eq 3  # 3: a threshold failed, as planned
	profile=$$(mktemp -d) && $(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir=$$profile \
		--screenshot=$(SHOT)/report.png --window-size=1400,$(or $(HEIGHT),3400) file://$(CURDIR)/$(SHOT)/report.html \
		2>/dev/null; status=$$?; rm -rf $$profile; exit $$status
	@echo "screenshot: $(SHOT)/report.png (the page: $(SHOT)/report.html)"

clean:  ## remove the virtualenv, generated code and local databases
	rm -rf $(VENV) $(GEN) var .pytest_cache .mypy_cache .ruff_cache build *.egg-info
