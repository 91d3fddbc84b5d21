# Two commands for a newcomer: `make demo` (build an example spec to green) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SPEC ?= examples/wordfreq/spec.md
OUT ?= out/wordfreq

.PHONY: setup machine test demo bench bench-orchestration lint clean

$(BIN)/healer: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev,local]'
	touch $@

setup: $(BIN)/healer machine

machine:
	bash scripts/setup-machine.sh
	$(BIN)/healer sandbox build

test: setup
	$(BIN)/pytest -q -rs; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 0; fi; exit $$rc

demo: setup
	$(BIN)/healer build $(SPEC) -o $(OUT) --max-iters 5

bench: setup
	$(BIN)/python -m benchmarks run --suite all --difficulty-max 3 --max-iters 3 --workers 2 \
		--request-timeout 1800 --out benchmarks/results/local-qwen1.5b

bench-orchestration: $(BIN)/healer
	$(BIN)/python -m benchmarks orchestration

lint: $(BIN)/healer
	$(BIN)/ruff check healer tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
