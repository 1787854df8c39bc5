# Every target bootstraps .venv/ itself, so `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench soak clean serverless-check

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check service tests bench scripts
	$(BIN)/ruff format --check service tests
	$(BIN)/mypy --strict service

demo: install
	$(BIN)/python -m scripts.demo

bench: install
	$(BIN)/python -m bench.run

soak: install
	$(BIN)/python -m tests.soak --documents $${SOAK_DOCUMENTS:-500}

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
