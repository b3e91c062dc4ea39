"""The exec scripts as a user runs them: current stages are skipped, the figures drawn, a log written."""
import os
import subprocess
import sys

from utils.paths import REPO


def test_rules_exec_script_skips_current_stages_and_draws(tiny_pipeline):
    env = {**os.environ, "BLRP_EXPERIMENTS": str(tiny_pipeline), "DEBUG": "1", "MODEL_IDXS": "2",
           "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "exec_rules_robustness.sh")], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("up to date") == 3 * (1 + 1 + 3)  # train, attack and three rules per model
    assert "saved" in proc.stdout.splitlines()[-1]
    assert list((tiny_pipeline / "logs").glob("*_rules_robustness.txt"))


def test_exec_scripts_parse():
    for script in ("exec_main.sh", "exec_layers_robustness.sh", "exec_rules_robustness.sh", "exec_cifar.sh",
                   "src/make_main_figures.sh", "src/exec_common.sh"):
        assert subprocess.run(["bash", "-n", str(REPO / script)]).returncode == 0, script
