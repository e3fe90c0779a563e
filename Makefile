# sealtrace: every target sets up .venv first, so any of them works first on a
# fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The officer app's barcode decoder (zxing-cpp as WebAssembly, pinned in its package-lock.json),
# copied from npm into the app's static files; git-ignored.
OFFICER := mobile_api/officer_app
ZXING   := $(OFFICER)/static/vendor/zxing
ZXING_STAMP := $(ZXING)/.built
# axe-core, the accessibility checker the browser tests inject (pinned in its
# package-lock.json); test-only, git-ignored, never served.
AXE_TOOLS := tests/browser_tools
AXE_STAMP := $(AXE_TOOLS)/node_modules/.installed

.PHONY: run test lint typecheck layers vectors messages bench eval clean help

help:
	@echo "make run     set up, create the demo brand, keys and labels, serve the verifier"
	@echo "make test    set up, lint, type-check, check layers and vectors, run the tests"
	@echo "make lint    ruff, mypy and the layer contracts"
	@echo "make vectors regenerate tests/vectors and fail if they changed"
	@echo "make messages extract the consumer pages' messages (Babel), update every catalogue"
	@echo "make bench   run the benchmarks in bench/ and print their tables"
	@echo "make eval    run the clone-detection evaluation on the supply-chain simulator"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(ZXING_STAMP): $(OFFICER)/package.json $(OFFICER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	    (cd $(OFFICER) && npm ci --ignore-scripts --no-audit --no-fund --silent) && \
	    rm -rf $(ZXING) && mkdir -p $(ZXING)/reader && \
	    cp $(OFFICER)/node_modules/zxing-wasm/dist/es/reader/index.js $(ZXING)/reader/index.js && \
	    cp $(OFFICER)/node_modules/zxing-wasm/dist/es/share.js $(ZXING)/share.js && \
	    cp $(OFFICER)/node_modules/zxing-wasm/dist/reader/zxing_reader.wasm $(ZXING)/ && \
	    cp $(OFFICER)/node_modules/zxing-wasm/LICENSE $(ZXING)/LICENSE && \
	    touch $(ZXING_STAMP); \
	else \
	    echo "npm not found: the officer app reads codes with BarcodeDetector or typed input only"; \
	fi

$(AXE_STAMP): $(AXE_TOOLS)/package.json $(AXE_TOOLS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	    (cd $(AXE_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --silent) && touch $(AXE_STAMP); \
	else \
	    echo "npm not found: the accessibility checks in the browser tests will skip"; \
	fi

run: $(STAMP) $(ZXING_STAMP)
	$(BIN)/python -m sealtrace.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The consumer pages' gettext catalogues: extract with Babel (babel.cfg) into
# mobile_api/locale/messages.pot and update each language's messages.po (docs/i18n.md).
messages: $(STAMP)
	$(BIN)/python -m tools.messages

vectors: $(STAMP)
	$(BIN)/python -m tools.make_vectors --check
	$(BIN)/python -m tools.make_offline_vectors --check

test: lint vectors $(ZXING_STAMP) $(AXE_STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# make eval EVAL_ARGS="--scale 10" for the larger run, or
# EVAL_ARGS="--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test" on PostgreSQL.
eval: $(STAMP)
	$(BIN)/python -m bench.clone_eval $(EVAL_ARGS)

clean:
	rm -rf $(VENV) $(OFFICER)/node_modules $(AXE_TOOLS)/node_modules $(OFFICER)/static/vendor demo .mypy_cache .ruff_cache .pytest_cache .hypothesis
