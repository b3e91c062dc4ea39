# make test       : set up .venv, provision the data (and headless Chromium), run the test suite (without the tests marked slow)
# make test-slow  : the slow end-to-end tests (the workflow through a single-node SLURM, the controls study)
# make test-all   : both
# make reproduce  : set up .venv, provision the data, run the main job on the CPU profile (the workflow's main target)
# make report     : the HTML report of that run (figures, their CSVs, each job's runtime): experiments/report.html
# make plan       : what make reproduce would run, nothing run
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv data test-data browser test test-slow test-all reproduce report plan benchmarks clean-experiments

# The venv is rebuilt only when the requirements change. torch's CUDA wheels make it ~6 GB;
# no pip cache is kept (it would double that); the free disk is checked first.
NEED_GB := 6
$(STAMP): requirements.txt requirements-test.txt
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	  if [ ! -x $(PY) ] && [ "$$free" -lt $(NEED_GB) ]; then \
	    echo "error: $$free GB free here; installing .venv (torch + CUDA libraries) needs at least $(NEED_GB) GB" >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --disable-pip-version-check -r requirements-test.txt
	@touch $(STAMP)

venv: $(STAMP)

data: venv
	$(PY) src/get_data.py --dataset mnist
	$(PY) src/get_data.py --dataset fashion_mnist

test-data: venv data
	$(PY) src/get_data.py --dataset cifar

# Headless Chromium for the report test (tests/test_workflow.py opens the HTML report in it): installed by apt
# where it is missing and we are root (about 20 s); elsewhere that test checks the HTML alone and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  chromium >/dev/null) || echo "note: no chromium here (apt-get install chromium, as root): the report test \
	will skip its browser check"; }

test: test-data browser
	$(PY) -m pytest -q -m "not slow" tests
test-slow: test-data
	$(PY) -m pytest -q -m slow tests
test-all: test-data browser
	$(PY) -m pytest -q tests

reproduce: venv data
	BLRP_PROFILE=cpu PYTHON=$(PY) bash exec_main.sh

WORKFLOW := $(PY) -m snakemake --snakefile workflow/Snakefile

report: venv
	$(WORKFLOW) --report experiments/report.html main --config profile=cpu

plan: venv
	$(WORKFLOW) -n main --config profile=cpu

benchmarks: venv data
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean-experiments:
	rm -rf experiments
