# sealtrace: every target sets up .venv first, so any of them works first on a
# fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck layers vectors bench eval clean help

help:
	@echo "make run     set up, create the demo brand, keys and labels, serve the verifier"
	@echo "make test    set up, lint, type-check, check layers and vectors, run the tests"
	@echo "make lint    ruff, mypy and the layer contracts"
	@echo "make vectors regenerate tests/vectors and fail if they changed"
	@echo "make bench   run the benchmarks in bench/ and print their tables"
	@echo "make eval    run the clone-detection evaluation on the supply-chain simulator"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m sealtrace.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

vectors: $(STAMP)
	$(BIN)/python -m tools.make_vectors --check

test: lint vectors
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

eval: $(STAMP)
	$(BIN)/python -m bench.clone_eval

clean:
	rm -rf $(VENV) demo .mypy_cache .ruff_cache .pytest_cache .hypothesis
