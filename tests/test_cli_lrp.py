"""compute_lrp.py as a user runs it."""
import pytest
import torch

from conftest import assert_clean_error, run_script
from utils.artifacts import load_artifact
from utils.networks.store import load_posterior
from utils.lrp.engine import lrp_chunked
from utils.model_settings import get_settings
from utils.networks.architectures import build_network


def heat(exp, model, name, layer=5, rule="epsilon"):
    base = exp / "debug" / model / ("mnist_fc2_idx=2" + ("_atk=fgsm" if model == "advNN" else "")) / "fgsm"
    folder = f"{rule}_lrp" if model != "fullBNN" else f"avg_heatmap_{rule}_lrp"
    return load_artifact(base / folder / f"layer_idx={layer}" / name)


@pytest.mark.parametrize("model,name", [("baseNN", "det_lrp.pt"), ("advNN", "det_attack_lrp.pt"),
                                        ("fullBNN", "bay_lrp_samp=10.pt"), ("fullBNN", "bay_attack_lrp_samp=100.pt")])
def test_heatmaps_for_every_layer_with_sidecars(tiny_pipeline, model, name):
    for layer in (1, 3, 5):
        tensors, meta = heat(tiny_pipeline, model, name, layer)
        assert tensors["heatmaps"].shape == (100, 1, 28, 28) and meta["layer_idx"] == layer
        assert torch.isfinite(tensors["heatmaps"]).all() and tensors["heatmaps"].abs().sum() > 0


def test_attacked_n10_maps_are_computed_on_the_10_sample_attack(tiny_pipeline):
    samples, _ = load_posterior(tiny_pipeline / "debug", 2, n_samples=10)
    net = build_network(get_settings("fullBNN", 2))
    attacks = tiny_pipeline / "debug" / "fullBNN" / "mnist_fc2_idx=2" / "fgsm" / "attacks"
    x10 = load_artifact(attacks / "fgsm_attackSamp=10_attack.pt")[0]["x_adv"]
    x100 = load_artifact(attacks / "fgsm_attackSamp=100_attack.pt")[0]["x_adv"]
    stored = heat(tiny_pipeline, "fullBNN", "bay_attack_lrp_samp=10.pt", 3)[0]["heatmaps"]
    assert torch.allclose(stored, lrp_chunked(net, samples, x10, 3), atol=1e-7)
    assert not torch.allclose(stored, lrp_chunked(net, samples, x100, 3), atol=1e-7)


def test_clean_maps_are_nested_prefix_means(tiny_pipeline):
    samples, _ = load_posterior(tiny_pipeline / "debug", 2, n_samples=50)
    net = build_network(get_settings("fullBNN", 2))
    from utils.data.datasets import load_test_subset
    from utils.paths import data_root
    x, _, _ = load_test_subset("mnist", 100, 0, data_root(), tiny_pipeline / "debug")
    stored = heat(tiny_pipeline, "fullBNN", "bay_lrp_samp=50.pt", 1)[0]["heatmaps"]
    assert torch.allclose(stored, lrp_chunked(net, samples, x, 1), atol=1e-7)


def test_missing_attacks_and_models_are_refused(tiny_pipeline, tmp_path):
    proc = run_script("compute_lrp.py", "--model", "baseNN", "--model_idx", 2, "--attack_method", "pgd", "--debug",
                      "--exp_dir", tiny_pipeline)
    assert_clean_error(proc, "attack not found", "python src/attack_networks.py --model baseNN --model_idx 2 --attack_method pgd")
    proc = run_script("compute_lrp.py", "--model", "fullBNN", "--model_idx", 3, "--debug", "--exp_dir", tiny_pipeline)
    assert_clean_error(proc, "python src/train_networks.py --model fullBNN --model_idx 3")
    proc = run_script("compute_lrp.py", "--model", "baseNN", "--rule", "z_plus", "--exp_dir", tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
