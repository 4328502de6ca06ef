# The three commands a newcomer needs: `make run`, `make test`, `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test demo lint format bench bench-full bench-10m browser postgres clean

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

# Debian's PostgreSQL, for the scale-out test's DuckLake catalog (tests/test_scale_out.py starts
# a cluster of its own on 127.0.0.1; the package's own cluster is not used). Installed when
# missing and we may: CI runs as root.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "Install Debian's postgresql package (sudo apt-get install postgresql) for the scale-out test."; fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collected no test; make treats that as the failure it is.
test: setup browser postgres lint
	$(BIN)/python -m pytest -q

# Each benchmark writes its own section of bench/RESULTS.md: the figure, its anchor measured in
# the same run, the goal and the machine. `make bench` runs them all at sizes that fit in about
# 10 minutes on two quiet cores and prints the time taken; `make bench-full` at the sizes the
# issues name (about an hour); `make bench-10m` the dashboard's reads at 1 M and 10 M mentions.
# Each bench runs even when one before it failed; make fails at the end if any did.
BENCH_QUICK = \
	"bench/pipeline.py --items 10000 --feeds 10 --unchanged 100" \
	"bench/dashboard.py --mentions 1000000 --write-up-to 100000 --runs 10 --old-runs 1" \
	"bench/nlp.py --posts 5000" \
	"-m bench.spikes" \
	"bench/relevance.py --posts 5000 --seeds 2" \
	"-m bench.scale --seconds 15 --feeds 5" \
	"bench/orchestration.py --runs 1" \
	"bench/pages.py --write-up-to 100000 --runs 2"
BENCH_FULL = \
	"bench/pipeline.py" \
	"bench/dashboard.py --mentions 1000000 --pass-size 50000" \
	"bench/nlp.py" \
	"-m bench.spikes" \
	"bench/relevance.py" \
	"-m bench.scale" \
	"bench/orchestration.py" \
	"bench/repeat_pass.py" \
	"bench/learning.py" \
	"bench/learning.py --domain held-out" \
	"bench/pages.py"

define run_benches
	@start=$$(date +%s); failed=""; \
	for b in $(1); do \
	  echo "== $$b"; t=$$(date +%s); \
	  $(BIN)/python $$b || failed="$$failed [$$b]"; \
	  echo "== $$b: $$(( $$(date +%s) - t )) s"; \
	done; \
	echo "benches: $$(( $$(date +%s) - start )) s in all (load average now $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	test -z "$$failed" || { echo "failed:$$failed"; exit 1; }
endef

bench: setup
	$(call run_benches,$(BENCH_QUICK))

bench-full: setup
	$(call run_benches,$(BENCH_FULL))

# 250,000 mentions written through the store's write path, grown to 1 M and 10 M by copying
# in SQL (bench/dashboard.py grow); needs about 15 GB of disk and half an hour.
bench-10m: setup
	$(call run_benches,"bench/dashboard.py --mentions 1000000 10000000 --write-up-to 250000 --pass-size 50000 --old-runs 1")

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
