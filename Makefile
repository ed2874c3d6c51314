# emfit notes: every set-up step lives here, so that two commands do everything.
#   make book   create .venv, install, build the website and the PDF handout
#   make test   run every test: unit, notebooks (strict nbval), strict builds, offline site
# See README.md for the other targets.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
STAMP := $(VENV)/.installed
BUILD_FLAGS := -W -n --keep-going
# The book to build (tests build small throw-away books with the same flags).
BOOK ?= .
# Paper of the PDF handouts: a4 (the default) or letter; EDITIONS chooses which to build.
# A4 handouts go to _build/latex and _build/student (and are linked from the website),
# Letter ones to _build/letter/...
PAPER ?= a4
EDITIONS ?= instructor student
PDF_ROOT = $(if $(filter a4,$(PAPER)),$(abspath $(BOOK)),$(abspath $(BOOK))/_build/$(PAPER))
PDF = $(PDF_ROOT)/_build/latex/emfit-notes.pdf
PDF_STUDENT = $(PDF_ROOT)/_build/student/_build/latex/emfit-notes-student.pdf

# Debian packages: the smallest TeX set that builds the PDF with xelatex, poppler for
# pdftotext/pdftoppm, and Chromium for the browser tests.
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	texlive-xetex latexmk fonts-freefont-otf poppler-utils
BROWSER_PACKAGES := chromium

.PHONY: book html pdf test test-fast notebooks serve clean bench venv tex browser help lock

help:
	@echo "make book       build the website (_build/html) and the PDF ($(PDF))"
	@echo "make test       run every test (unit, strict nbval, strict builds, offline site)"
	@echo "make test-fast  run the unit tests only: no notebooks, nothing marked slow (< 1 min)"
	@echo "make html       build the website only"
	@echo "make pdf        build the two PDF handouts only (instructor and student editions), on A4;"
	@echo "                PAPER=letter for US Letter, EDITIONS=instructor for one edition"
	@echo "make notebooks  re-execute the notebooks in place, storing their outputs"
	@echo "make serve      serve the website on http://127.0.0.1:8000"
	@echo "make bench      run the speed benchmarks against the reference implementations"
	@echo "make lock       re-resolve requirements.txt into requirements.lock (then: make notebooks)"
	@echo "make clean      remove _build"

book: html pdf
	@echo "Website: _build/html/index.html"
	@echo "PDF handouts: $(PDF) (instructor) and $(PDF_STUDENT) (student)"

venv: $(STAMP)

# The venv gets the exact versions of requirements.lock, the ones the stored notebook
# outputs were made with; emfit itself is installed editable on top, without deps.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: apt-get install python3 python3-venv"; exit 1; }
	@echo "==> creating $(VENV) and installing the locked requirements (about 2 minutes the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "venv failed: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Re-resolve requirements.txt (version ranges) in a throw-away venv and pin the result.
# Afterwards: make notebooks, make test, and commit requirements.lock with the notebooks.
LOCK ?= requirements.lock
LOCK_VENV ?= _build/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -r requirements.txt
	{ echo "# Exact versions of every package, resolved from requirements.txt by 'make lock'."; \
	  echo "# The stored notebook outputs were made with these; 'make venv' installs them."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable --all | grep -v -E '^(pip|setuptools|wheel)=='; } > $(LOCK)
	rm -rf $(LOCK_VENV)
	@echo "$(LOCK) updated: now rm -rf $(VENV), make notebooks and make test, and commit them together"

# Install missing Debian packages when root, otherwise say exactly what to run.
define need_debian
	@missing=""; for cmd in $(2); do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "==> installing $(1) from Debian packages (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(3) >/dev/null; \
	  else \
	    echo "Missing:$$missing. Run as root:"; \
	    echo "  apt-get update && apt-get install -y $(3)"; exit 1; \
	  fi; \
	fi
endef

tex:
	$(call need_debian,TeX,xelatex latexmk pdftotext pdftoppm,$(TEX_PACKAGES))
	@fc-list | grep -qi FreeSerif || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-freefont-otf >/dev/null; } \
	  || { echo "Missing fonts. Run as root: apt-get install -y fonts-freefont-otf"; exit 1; }

browser:
	$(call need_debian,Chromium,chromium,$(BROWSER_PACKAGES))

html: venv
	@echo "==> building the website (notebooks execute once, then come from the cache)"
	$(JB) build $(BOOK) $(BUILD_FLAGS)

pdf: venv tex
	@case "$(PAPER)" in a4|letter) ;; *) echo "PAPER must be a4 or letter, not '$(PAPER)'"; exit 1;; esac
	@for edition in $(EDITIONS); do \
	  case $$edition in \
	    instructor) out=$(PDF_ROOT); pdf=$(PDF); what="with solutions";; \
	    student) out=$(PDF_ROOT)/_build/student; pdf=$(PDF_STUDENT); what="exercises without solutions";; \
	    *) echo "EDITIONS: instructor and/or student, not '$$edition'"; exit 1;; \
	  esac; \
	  echo "==> PDF handout with xelatex, $$edition edition ($$what), $(PAPER) paper"; \
	  EMFIT_PAPER=$(PAPER) EMFIT_EDITION=$$edition $(JB) build $(BOOK) --builder pdflatex $(BUILD_FLAGS) --path-output $$out || exit 1; \
	  test -f $$pdf || { echo "no PDF at $$pdf"; exit 1; }; \
	  if pdftotext $$pdf - | grep -n '??'; then echo "undefined reference (??) in $$pdf"; exit 1; fi; \
	  echo "PDF handout: $$pdf"; \
	done
	@if [ "$(PAPER)" = a4 ] && [ -f $(PDF) ] && [ -f $(PDF_STUDENT) ]; then \
	  mkdir -p $(BOOK)/_build/html/pdf && cp $(PDF) $(PDF_STUDENT) $(BOOK)/_build/html/pdf/ && \
	  echo "(both also linked from the website)"; fi

test: venv tex browser
	$(PY) -m pytest

# The inner loop: tests/ without the notebooks and without the tests marked slow
# (book builds, browsers, JupyterLab, other numeric paths, make lock, long unit tests).
test-fast: venv
	$(PY) -m pytest -m "not slow" tests

# NOTEBOOKS=chapters/p1_sum_of_gaussians.ipynb re-executes one notebook only.
NOTEBOOKS ?= intro.ipynb $(wildcard chapters/*.ipynb)
notebooks: venv
	$(VENV)/bin/jupyter execute --inplace $(NOTEBOOKS)
	@# drop per-cell execution timestamps, which would change on every run
	$(PY) -c 'import sys, nbformat; [nbformat.write(nb, p) for p in sys.argv[1:] for nb in [nbformat.read(p, as_version=4)] if [c.metadata.pop("execution", None) for c in nb.cells] is not None]' $(NOTEBOOKS)

serve: html
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

bench: venv
	@for script in benchmarks/bench_*.py; do echo "==> $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf _build
