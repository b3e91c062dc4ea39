"""Figures refuse artifacts of a broken chain: heatmaps of another attack, an attack of weights retrained since."""
import shutil

from conftest import assert_clean_error, run_script


def test_figures_refuse_stale_heatmaps_and_attacks(tiny_pipeline, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(tiny_pipeline, exp)
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", exp)
    assert run_script("lrp_robustness_diff.py", *common).returncode == 0
    assert run_script("attack_networks.py", "--model", "baseNN", "--epsilon", 0.1, *common).returncode == 0
    assert_clean_error(run_script("lrp_robustness_diff.py", *common), "heatmaps", "stale",
                       "python src/compute_lrp.py --model baseNN --model_idx 2")
    proc = run_script("compute_lrp.py", "--model", "baseNN", "--skip_current", *common)
    assert proc.returncode == 0 and "up to date" not in proc.stdout  # the heatmaps record the attack they explain
    assert run_script("lrp_robustness_diff.py", *common).returncode == 0
    assert run_script("train_networks.py", "--model", "baseNN", "--epochs", 2, *common).returncode == 0  # retrained
    assert_clean_error(run_script("lrp_robustness_diff.py", *common), "stale", "retrained",
                       "python src/attack_networks.py --model baseNN --model_idx 2")
