# The course's commands. `make book` and `make test` are the two that a new machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# A CPU build of torch: asking for exactly this release keeps pip from pulling a CUDA build.
TORCH  := torch==2.13.0
# pytest runs two workers on two cores (whole files each: a notebook's cells share one kernel);
# one BLAS thread per worker avoids oversubscription.
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: setup book test lab exercises bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# MovieLens-100K ships inside recbole's wheel. Only its data files are read (never its code),
	# and its declared dependencies cannot be resolved, hence --no-deps.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt recbole==1.2.1
	touch $(STAMP)

setup: $(STAMP)                     ## create .venv and install everything

book: setup                         ## run every chapter and build the HTML book into _build/html
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/jupyter-book build -W -n --keep-going .
	@echo "Open _build/html/index.html"

test: setup                         ## every test: package, chapters (nbval), exercises, grader, book
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg $(ONE_THREAD) $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax -p no:cacheprovider tests chapters

lab: setup                          ## JupyterLab on the repository
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/jupyter lab

exercises: setup                    ## regenerate exercises/ from the masters in solutions/
	$(BIN)/embedlab assign

bench: setup                        ## time our implementations against the reference libraries
	@for f in benchmarks/bench_*.py; do echo "== $$f"; HF_HUB_OFFLINE=1 $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build
