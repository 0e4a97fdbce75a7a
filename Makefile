# Every target works on a fresh machine that has only Python (3.10+).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean browsers serve

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

# Debian's chromium + chromium-driver for the browser tests of cspec serve (tests/serve), from apt when missing
# (as root, or through sudo); Selenium is pointed at them, so it never downloads a browser or a driver
browsers:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "browsers: $$(/usr/bin/chromium --version 2>/dev/null) and its chromedriver are installed"; \
	else \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-liberation; \
	fi

# the suite in TEST_JOBS processes (pytest-xdist), a test file per process at a time (its module fixtures built once);
# every test runs torch on one thread (tests/conftest.py), so two processes use both cores of a 2-core machine
TEST_JOBS ?= 2
test: browsers $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_JOBS) --dist loadfile

# the web page on http://127.0.0.1:8000/ (cspec serve --help for the options)
serve: $(STAMP)
	$(BIN)/cspec serve

bench: $(STAMP)
	$(BIN)/python benchmarks/phase_retrieval.py

clean:
	rm -rf $(VENV) out build dist src/*.egg-info
