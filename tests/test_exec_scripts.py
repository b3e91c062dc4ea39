"""The exec scripts as a user runs them (thin calls of the workflow's targets): current stages are skipped, the
figures drawn, a log written."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import in_stage_order
from utils.paths import REPO


def test_rules_exec_script_skips_current_stages_and_draws(tiny_pipeline, tmp_path):
    tiny_pipeline = Path(shutil.copytree(tiny_pipeline, tmp_path / "exp"))
    in_stage_order(tiny_pipeline)
    env = {**os.environ, "BLRP_EXPERIMENTS": str(tiny_pipeline), "DEBUG": "1", "MODEL_IDXS": "2",
           "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "exec_rules_robustness.sh")], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the tiny pipeline's nets, attacks and heatmaps are current: only the figure is drawn
    stats = proc.stdout.split("Job stats:")[1].split("total")[0]
    assert sorted(re.findall(r"^(\w+)\s+\d+$", stats, re.M)) == ["figure_rules_robustness", "rules_robustness"]
    assert (tiny_pipeline / "debug/figures/rules_robustness_idx2_fgsm_topk=20.png").stat().st_size > 10_000
    assert list((tiny_pipeline / "logs").glob("*_rules_robustness.txt"))
    plan = subprocess.run(["bash", str(REPO / "exec_rules_robustness.sh")], capture_output=True, text=True,
                          env={**env, "SNAKEMAKE_ARGS": "-n"}, cwd=REPO, timeout=300)
    assert plan.returncode == 0 and "Nothing to be done" in plan.stdout


def test_exec_script_without_snakemake_says_what_to_run(tmp_path):
    env = {**os.environ, "BLRP_EXPERIMENTS": str(tmp_path), "PYTHON": "/usr/bin/python3"}
    proc = subprocess.run(["bash", str(REPO / "exec_cifar.sh")], capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode == 0 or "snakemake is not installed" not in proc.stderr:
        pytest.skip("the system python has snakemake")
    assert proc.stderr.strip().splitlines() == ["error: snakemake is not installed for /usr/bin/python3; run: make "
                                                "venv, then PYTHON=.venv/bin/python"]


def test_exec_scripts_parse():
    for script in ("exec_main.sh", "exec_layers_robustness.sh", "exec_rules_robustness.sh", "exec_cifar.sh",
                   "exec_controls.sh", "src/make_main_figures.sh", "src/exec_common.sh", "workflow/scripts/local_slurm.sh"):
        assert subprocess.run(["bash", "-n", str(REPO / script)]).returncode == 0, script
