# One command each, on a fresh machine with Python 3.11:
#   make train   install (first time) and train FM and DeepFM on the default data
#   make test    install (first time) and run the tests
#   make runs    the table of finished runs (runs/results.csv)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY = $(VENV)/bin/python
ARGS ?=

.PHONY: train test runs install clean
install: $(VENV)/.installed
$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

train: install
	$(PY) -m d2l_deepfm.train $(ARGS)

test: install
	$(PY) -m pytest -q

runs: install
	$(PY) -m d2l_deepfm.runs $(ARGS)

clean:
	rm -rf $(VENV) runs
