# OpenLookout developer commands. `make run` and `make test` work on a fresh clone:
# they create .venv at the repository root on first use and reuse it afterwards.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Extras installed into .venv; CI adds ray so the Ray engine's tests run (.ci/run). Other extras
# than the default get a stamp of their own, so asking for them installs them into an existing venv.
EXTRAS ?= train,postgres,dev
comma := ,
STAMP := $(VENV)/.installed$(if $(filter-out train$(comma)postgres$(comma)dev,$(EXTRAS)),-$(subst $(comma),-,$(EXTRAS)))
# Optional extra package index for torch (for example the CPU-only wheel index). Empty: the
# configured registries only. torch stays pinned: a looser pin pulls gigabytes of CUDA wheels.
TORCH_INDEX ?=
TORCH_PIN := torch==2.13.0

HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= ./data

.PHONY: venv run test lint format bench clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) '$(TORCH_PIN)'
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]' '$(TORCH_PIN)'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/openlookout serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/import_rate.py
	$(BIN)/python benchmarks/list_latency.py

clean-venv:
	rm -rf $(VENV)
