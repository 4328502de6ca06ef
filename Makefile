# The three commands a newcomer needs: `make run`, `make test`, `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test demo lint format bench browser clean

# Setup is a file target: it reruns only when pyproject.toml or constraints.txt change.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/tidings serve

# `make demo PORT=8600` when 8501 is taken.
demo: setup
	$(BIN)/tidings demo $(if $(PORT),--port $(PORT))

# Debian's Chromium, for the dashboard screenshot tests (Playwright's own download cannot
# work offline). Installed when missing and we may: CI runs as root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium) for the browser tests."; fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collected no test; make treats that as the failure it is.
test: setup browser lint
	$(BIN)/python -m pytest -q

# Each benchmark writes its own section of bench/RESULTS.md: the figure, its anchor measured in
# the same run, the goal and the machine. About 10 minutes on two cores.
bench: setup
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/nlp.py
	$(BIN)/python -m bench.spikes
	$(BIN)/python bench/relevance.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
