# explorekit: `make demo` runs the main job on bundled data, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo lab lint test test-fast bench soak browser mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test,build-datasets]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (never a downloaded browser build)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed; browser tests will fail"; }

demo: $(STAMP)
	$(PY) -m explorekit.demo

# JupyterLab refuses to start as root (containers, CI images) unless told it is meant
lab: $(STAMP)
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# the layers contract (import-linter, pyproject.toml) and ruff's lint and format checks
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check explorekit tests benchmarks datasets notebooks/_build.py
	$(VENV)/bin/ruff format --check explorekit tests benchmarks datasets notebooks/_build.py

test: $(STAMP) browser lint
	$(PY) -m pytest -q
	$(PY) benchmarks/run.py --small

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser and not notebooks"

# Mutation testing, outside `make test` (long): mutmut mutates the scoring formulas, thresholds,
# filter rules and persistence ([tool.mutmut] in pyproject.toml) and reruns the fast tests that
# cover each mutant. MUTANTS='explorekit.scoring* explorekit.topk*' limits it to some modules;
# the survivors are listed at the end (`$(VENV)/bin/mutmut show NAME` prints one).
mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[mutation]'
	nice -n 10 $(VENV)/bin/mutmut run $(MUTANTS)
	$(VENV)/bin/mutmut results | grep -v ": not checked" || true

bench: $(STAMP)
	$(PY) benchmarks/run.py

# issue 15's crasher, ten minutes: SIGKILL a child that changes and saves collections, reload, compare
soak: $(STAMP)
	$(PY) benchmarks/soak.py --minutes 10

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache mutants
