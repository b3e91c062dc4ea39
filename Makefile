# make test       : set up .venv, provision the data, run the test suite
# make reproduce  : set up .venv, provision the data, run the main job on the CPU profile
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv data test reproduce benchmarks clean-experiments

# The venv is rebuilt only when the requirements change.
$(STAMP): requirements.txt requirements-test.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	@touch $(STAMP)

venv: $(STAMP)

data: venv
	$(PY) src/get_data.py --dataset mnist
	$(PY) src/get_data.py --dataset fashion_mnist

test: venv data
	$(PY) src/get_data.py --dataset cifar
	$(PY) -m pytest -q tests

reproduce: venv data
	BLRP_PROFILE=cpu PYTHON=$(PY) bash exec_main.sh

benchmarks: venv data
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean-experiments:
	rm -rf experiments
