# Every target bootstraps .venv/ itself, so `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install install-node chromium test lint demo bench soak clean

install: $(STAMP) chromium

# The review console's browser tests drive Debian's chromium (Playwright's own browser download cannot work
# here). Installed when missing and we are root; otherwise those tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && apt-get install -y chromium; \
	  else \
	    echo "NOTE: /usr/bin/chromium is missing and this is not root: the browser tests will be skipped"; \
	  fi; \
	fi

# Serverless Framework v3 and its Python plugin, pinned by package-lock.json: only the deploy check needs them.
NODE_STAMP := node_modules/.installed
install-node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: install install-node
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check service devtools tests bench scripts
	$(BIN)/ruff format --check service devtools tests
	$(BIN)/mypy --strict service
	$(BIN)/mypy --strict devtools/emulator
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m scripts.audit

# `make demo REVIEW=1`: the review console too, with a demo login; keeps serving until Ctrl-C.
demo: install
	$(BIN)/python -m scripts.demo $(if $(filter 1 true yes,$(REVIEW)),--review)

bench: install
	$(BIN)/python -m bench.run

soak: install
	$(BIN)/python -m devtools.soak --documents $${SOAK_DOCUMENTS:-500}

clean:
	rm -rf $(VENV) node_modules .serverless .demo .pytest_cache .mypy_cache .ruff_cache build *.egg-info
