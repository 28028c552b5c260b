# The two commands of the README:
#   make demo   set up, create the embedded database, load the Jinqiao sample, serve on http://127.0.0.1:5000
#   make test   set up and run the whole test suite (SpatiaLite, a throwaway PostGIS, headless Chromium)
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11 /usr/bin/python3))
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the chart library (Apache ECharts, an npm package) at the version and SHA-512 pinned in webmap/assets.py
CHARTS := webmap/npm/echarts/.version

.PHONY: demo test setup setup-test clean

demo: setup
	$(BIN)/citymap demo

test: setup-test
	$(BIN)/python -m pytest

setup:
	scripts/setup_system.sh run
	$(MAKE) $(STAMP) $(CHARTS)

setup-test:
	scripts/setup_system.sh test
	$(MAKE) $(STAMP) $(CHARTS)

# Debian's Python (not pyenv's) so that sqlite3 can load the SpatiaLite extension.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

$(CHARTS): webmap/assets.py $(STAMP)
	$(BIN)/python scripts/fetch_npm_assets.py

clean:
	rm -rf $(VENV) var webmap/npm
