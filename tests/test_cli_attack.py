"""attack_networks.py as a user runs it."""
import json

import pytest
import torch

from conftest import assert_clean_error, run_script


def debug_dir(exp, model):
    return exp / "debug" / model / ("mnist_fc2_idx=2" + ("_atk=fgsm" if model == "advNN" else ""))


def test_attack_files_sidecars_and_grids(tiny_pipeline):
    det = debug_dir(tiny_pipeline, "baseNN") / "fgsm" / "attacks" / "fgsm_attack.pt"
    meta = json.loads(det.with_suffix(".json").read_text())
    assert meta["epsilon"] == 0.2 and meta["n_inputs"] == 100 and meta["metrics"]["linf_distance_max"] <= 0.2 + 1e-6
    assert det.with_suffix(".png").stat().st_size > 5000
    bay = debug_dir(tiny_pipeline, "fullBNN") / "fgsm" / "attacks"
    for n in (10, 50, 100):
        m = json.loads((bay / f"fgsm_attackSamp={n}_attack.json").read_text())
        assert m["n_samples"] == n and m["bayes_attack"] == "mean_of_attacks"
    payload = torch.load(bay / "fgsm_attackSamp=100_attack.pt", weights_only=True)["tensors"]
    assert payload["x_adv"].shape == (100, 1, 28, 28)
    assert set(payload) >= {"softmax_robustness", "successful", "failed", "probs_clean", "probs_adv"}


def test_n10_attack_of_a_100_sample_run_equals_a_separate_n10_run(tiny_pipeline):
    path = debug_dir(tiny_pipeline, "fullBNN") / "fgsm" / "attacks" / "fgsm_attackSamp=10_attack.pt"
    from_100 = torch.load(path, weights_only=True)["tensors"]["x_adv"]
    proc = run_script("attack_networks.py", "--model", "fullBNN", "--model_idx", 2, "--n_samples", 10, "--debug",
                      "--quiet", "--exp_dir", tiny_pipeline)
    assert proc.returncode == 0, proc.stderr
    assert torch.allclose(torch.load(path, weights_only=True)["tensors"]["x_adv"], from_100, atol=1e-6)


def test_load_re_evaluates_and_skip_current(tiny_pipeline):
    proc = run_script("attack_networks.py", "--model", "baseNN", "--model_idx", 2, "--debug", "--load",
                      "--exp_dir", tiny_pipeline)
    assert proc.returncode == 0 and "adversarial accuracy" in proc.stdout and "saved" not in proc.stdout
    proc = run_script("attack_networks.py", "--model", "baseNN", "--model_idx", 2, "--debug", "--skip_current",
                      "--exp_dir", tiny_pipeline)
    assert "up to date" in proc.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--model", "baseNN", "--model_idx", 3], "python src/train_networks.py --model baseNN --model_idx 3"),
    (["--model", "baseNN", "--model_idx", 2, "--attack_method", "jsma"], "argument --attack_method: invalid choice"),
    (["--model", "baseNN", "--model_idx", 2, "--attack_method", "deepfool"], "not implemented yet"),
    (["--model", "fullBNN", "--model_idx", 2, "--n_samples", 500], "more than the 100 posterior samples"),
    (["--model", "baseNN", "--model_idx", 2, "--n_inputs", 55], "multiple of 10"),
])
def test_attack_errors(tiny_pipeline, args, fragment):
    assert_clean_error(run_script("attack_networks.py", *args, "--debug", "--exp_dir", tiny_pipeline), fragment)
