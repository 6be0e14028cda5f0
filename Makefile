# Two commands do everything on a fresh machine:
#   make test                  unit tests, then the quick-profile book build (what CI runs)
#   make book                  the full, published-scale book (PROFILE=quick for a fast one); executes only
#                              the chapters whose inputs changed (FORCE=1: all of them)
#   make browser-test          open every page of the built book in headless Chromium (after a book build)
# Other targets: venv, data, notebooks, unit, bench, sync, clean, external-check.

PROFILE ?= full
FORCE   ?=
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONUNBUFFERED := 1

.PHONY: all venv data notebooks book html unit test browser-test bench sync clean external-check

all: book

$(STAMP): requirements.txt pyproject.toml
	@echo "== Setting up $(VENV) (pinned requirements, then ehrlib in editable mode) =="
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --progress-bar off -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

data: venv
	@echo "== Generating data for profile $(PROFILE) =="
	$(PY) -m ehrlib data --profile $(PROFILE)

notebooks: data
	@echo "== Executing notebooks (profile $(PROFILE)) =="
	$(PY) -m ehrlib run-notebooks --profile $(PROFILE) $(if $(filter 1 yes true,$(FORCE)),--force)

html: venv
	@echo "== Building the HTML book (warnings are errors) =="
	mkdir -p book/_assets
	rm -f book/_static/plotly.min.js book/_static/mathjax-tex-svg.js  # copies older builds made there (loaded twice)
	cp $(VENV)/lib/python3*/site-packages/plotly/package_data/plotly.min.js book/_assets/plotly.min.js
	cp $(VENV)/lib/python3*/site-packages/mathjax/static/mathjax/es5/tex-svg.js book/_assets/mathjax-tex-svg.js
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build book --config $(CURDIR)/_config.yml --toc $(CURDIR)/_toc.yml --path-output . \
	  --warningiserror --keep-going --quiet \
	  || { echo "make: the book build failed or warned (see above)" >&2; exit 1; }
	@echo "== The book is at $(CURDIR)/_build/html/index.html (profile $(PROFILE)) =="

book: notebooks
	$(MAKE) --no-print-directory html PROFILE=$(PROFILE)

unit: venv
	$(PY) -m pytest

test: unit
	$(MAKE) --no-print-directory book PROFILE=quick
	$(MAKE) --no-print-directory browser-test
	$(MAKE) --no-print-directory external-check

# Debian's chromium + chromium-driver (.ci/run installs them when missing); screenshots of every page.
browser-test: venv
	@echo "== Browser test: every page of _build/html in headless Chromium =="
	rm -rf _build/screenshots
	$(PY) -m ehrlib.browsercheck _build/html --screenshots _build/screenshots

# The chapters that apply to real data (03 04 07 08, and 09 on PhysioNet 2012) run as a reader with their
# own data would run them: from an empty project folder (symbolic links to the sources, no data or
# results of any other chapter), on a quick-scale dataset in the real benchmark's layout and 17
# variables read through EHRLIB_ICU_DIR. Nothing of the synthetic book is touched.
EXTERNAL_CHAPTERS := 03_lstm_focal_loss 04_calibration_threshold 07_baseline_comparison 08_mortality_report 09_physionet2012
external-check: venv
	@echo "== External-data check: chapters $(EXTERNAL_CHAPTERS), alone, on a benchmark-layout, 17-variable dataset =="
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir -p "$$tmp/root/book" && \
	  for f in _config.yml _toc.yml notebooks ehrlib; do ln -s "$(CURDIR)/$$f" "$$tmp/root/$$f"; done && \
	  physionet=$$($(PY) -c "from ehrlib.physionet2012.files import locate_physionet2012 as f; d = f(); print(d.folder if d else '')") && \
	  $(PY) -m ehrlib generate icu --out "$$tmp/icu" --episodes 2000 --variables benchmark --layout benchmark --quiet && \
	  EHRLIB_ROOT="$$tmp/root" EHRLIB_PHYSIONET2012="$$physionet" EHRLIB_ICU_DIR="$$tmp/icu" \
	    $(PY) -m ehrlib run-notebooks --profile quick --only $(EXTERNAL_CHAPTERS)

BENCH_ICU := $(or $(TMPDIR),/tmp)/ehr-bench-icu
bench: venv
	@echo "== ICU generator: speed, memory, determinism, difficulty =="
	$(PY) benchmarks/bench_icu_generate.py
	@echo "== ICU reader: cold and warm load of the full dataset =="
	rm -rf $(BENCH_ICU) && $(PY) -m ehrlib generate icu --out $(BENCH_ICU) --quiet
	$(PY) benchmarks/bench_icu_read.py $(BENCH_ICU)
	rm -rf $(BENCH_ICU)
	@echo "== PhysioNet 2012 reader: cold and warm read of the 8,000 real stays (skipped without the data) =="
	$(PY) benchmarks/bench_physionet.py
	@echo "== Stroke EHR: generation, cohort, encodings =="
	$(PY) benchmarks/bench_stroke.py
	@echo "== LSTM training loop: seconds per epoch =="
	$(PY) benchmarks/bench_lstm.py
	@echo "== Chapter 10's sequence models: XLA or not, two trainings at once (skipped without PhysioNet 2012) =="
	$(PY) benchmarks/bench_sequence.py

sync: venv
	$(VENV)/bin/jupytext --sync notebooks/*.py

clean:
	rm -rf _build book/_executed book/chapters book/reproducibility.md book/findings.md book/_assets/plotly.min.js book/_assets/mathjax-tex-svg.js data/quick data/results/quick

environment.yml: requirements.txt
	$(PY) -c "from pathlib import Path; from ehrlib.book import render_environment_yml as r; Path('environment.yml').write_text(r(Path('requirements.txt')))"
