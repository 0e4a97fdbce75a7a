# Every target works on a fresh machine that has only Python (3.10+).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: a looser requirement would pull CUDA wheels on a CPU machine
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[all]"
	# asteroid is a test peer only (PIT wrapper, SDR losses); its pins (torchmetrics<=0.11.4) clash with ours,
	# and the tests load just its loss files, which need only torch and scipy
	$(BIN)/pip install -q --no-deps asteroid==0.7.0
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/phase_retrieval.py

clean:
	rm -rf $(VENV) out build dist src/*.egg-info
