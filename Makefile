# The course's commands. `make book` and `make test` are the two that a new machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# A CPU build of torch: asking for exactly this release keeps pip from pulling a CUDA build.
TORCH  := torch==2.13.0
# Offline, no telemetry, one BLAS thread per pytest worker (two workers on two cores).
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False RAY_USAGE_STATS_ENABLED=0
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# The chapters run under nbval, which also keeps their outputs for the book (see conftest.py);
# two workers, whole scopes each: a notebook (its cells share one kernel), an exercise set
# (a class of tests/test_exercises.py), or a test file.
PYTEST := $(OFFLINE) $(ONE_THREAD) $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: setup browser book test lab exercises bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# MovieLens-100K ships inside recbole's wheel. Only its data files are read (never its code),
	# and its declared dependencies cannot be resolved, hence --no-deps.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt recbole==1.2.1
	touch $(STAMP)

setup: $(STAMP)                     ## create .venv and install everything

browser:                            ## headless Chromium for the book's browser test, where it can be had
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium and chromium-driver for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "Could not install Chromium: the browser test will be reported as skipped"; \
	else echo "Chromium is not installed (install chromium and chromium-driver, or run as root on Debian/Ubuntu): the browser test will be reported as skipped"; fi

book: setup                         ## run every chapter (and its checks), then build the HTML book into _build/html
	EMBEDLAB_REUSE_EXECUTED=1 $(PYTEST) -q -n 2 --dist loadscope --nbval-lax chapters
	$(OFFLINE) $(BIN)/python -m embedlab._site

test:                               ## every test: package, chapters (nbval), exercises, grader; then the book in a browser
	@# the environment and the browser are set up side by side (pip and apt)
	@$(MAKE) --no-print-directory -j2 setup browser
	$(PYTEST) -n 2 --dist loadscope --nbval-lax -m "not book" tests chapters
	$(PYTEST) -m book tests

lab: setup                          ## JupyterLab on the repository; prints the address to open
	$(OFFLINE) $(BIN)/embedlab lab

exercises: setup                    ## regenerate exercises/ from the masters in solutions/
	$(BIN)/embedlab assign

bench: setup                        ## time our implementations against the reference libraries
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(OFFLINE) $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build
