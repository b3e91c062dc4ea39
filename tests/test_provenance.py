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


def test_weights_with_a_key_missing_or_a_wrong_shape_are_refused(tiny_pipeline, tmp_path):
    """A posterior without one of its net's entries would be completed by the template's random init."""
    from utils.artifacts import load_artifact, save_artifact
    exp = tmp_path / "exp"
    shutil.copytree(tiny_pipeline, exp)
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", exp)
    path = next((exp / "debug" / "fullBNN").glob("mnist_fc2_idx=2*/posterior.pt"))
    tensors, meta = load_artifact(path)
    save_artifact(path, {k: v for k, v in tensors.items() if k != "3.bias"}, meta)
    assert_clean_error(run_script("attack_networks.py", "--model", "fullBNN", *common), "does not fit",
                       "missing 3.bias", "python src/train_networks.py --model fullBNN --model_idx 2")
    wpath = exp / "debug" / "baseNN" / "mnist_fc2_idx=2" / "weights.pt"
    tensors, meta = load_artifact(wpath)
    save_artifact(wpath, {**tensors, "1.weight": tensors["1.weight"][:, :100]}, meta)
    assert_clean_error(run_script("compute_lrp.py", "--model", "baseNN", *common), "does not fit", "1.weight has shape")
