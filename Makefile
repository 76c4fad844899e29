# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)

.PHONY: install demo test lint typecheck imports unit bench asyncapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed once per change of pyproject.toml or this Makefile; a second run is a no-op.
# face_recognition pins a source build of dlib: we install the dlib-bin wheel and
# face_recognition without its dependencies instead (never compile dlib).
# face_recognition_models needs pkg_resources, which setuptools 81 removed.
$(STAMP): $(BIN)/python pyproject.toml Makefile
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet "setuptools<81" dlib-bin opencv-python-headless numpy Pillow click face_recognition_models
	$(BIN)/pip install --quiet --no-deps face_recognition==1.3.0
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/kaoqin demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest tests/unit -q

test: install lint typecheck imports
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

asyncapi: install
	$(BIN)/kaoqin contracts asyncapi --output docs/asyncapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
