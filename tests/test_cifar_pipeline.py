"""The CIFAR-10 scripts as a user runs them (--debug: 1000 real training images, one epoch, 20 test images):
the reference's full_test_cifar_*.py commands as aliases of the one pipeline on the ResNet-20 entry (training
with a validation split, the Bayesian ResNet's posterior, --mode test's attacks and heatmaps), the figures,
and the clear errors."""
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import torch

from conftest import assert_clean_error, run_script, saved_png
from utils.artifacts import load_artifact
from utils.model_settings import CIFAR_ROW_IDX
from utils.networks.store import net_dir
from utils.lrp.engine import RULES
from utils.paths import attack_file, lrp_file, weights_file

N_STORE = 10  # samples used in test mode; the tiny MNIST pipeline has n = 10 artifacts too (Fig. 5 draws both)
SCRIPTS = {"det": "full_test_cifar_resnet.py", "adv": "full_test_cifar_adversarial_resnet.py",
           "bayes": "full_test_cifar_bayesian_resnet.py"}
MODELS = {"det": "baseNN", "adv": "advNN", "bayes": "fullBNN"}


def cifar_dir(root, kind):
    return net_dir(root, MODELS[kind], CIFAR_ROW_IDX)


def run(kind, exp, *args):
    proc = run_script(SCRIPTS[kind], *args, "--debug", "--quiet", "--exp_dir", exp)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="session")
def cifar_pipeline(tiny_pipeline):
    """det, adv and Bayesian ResNet-20 trained and tested beside the tiny MNIST pipeline (same experiments root)."""
    from utils.data.datasets import provision
    from utils.paths import data_root
    provision("cifar", data_root())
    exp = tiny_pipeline
    for kind in ("det", "adv", "bayes"):  # --debug starts adv and Bayes from the det net, as the CPU profile
        run(kind, exp, "--mode", "train")
    for kind in ("det", "adv"):
        run(kind, exp, "--mode", "test")
    run("bayes", exp, "--mode", "test", "--n_samples", N_STORE)
    return exp


def test_training_records_validation_selection_and_source(cifar_pipeline):
    root = cifar_pipeline / "debug"
    for kind, model in (("det", "baseNN"), ("adv", "advNN"), ("bayes", "fullBNN")):
        _, meta = load_artifact(weights_file(cifar_dir(root, kind), model))
        assert meta["val_accuracy"] == max(h["val_accuracy"] for h in meta["history"])
        assert meta["recipe"]["n_val"] == 500 and "JPEG" in meta["data"]["source"]
    assert "init_fingerprint" in load_artifact(weights_file(cifar_dir(root, "adv"), "advNN"))[1]


def test_bayesian_posterior_is_stacked_with_shared_batch_norm(cifar_pipeline):
    root = cifar_pipeline / "debug"
    post, _ = load_artifact(weights_file(cifar_dir(root, "bayes"), "fullBNN"))
    det, _ = load_artifact(weights_file(cifar_dir(root, "det"), "baseNN"))
    assert set(post) == set(det) and all(v.shape == (100, *det[k].shape) for k, v in post.items())
    w = post["blocks.4.conv2.weight"]
    assert not torch.equal(w[0], w[1])  # every conv and linear weight is random ...
    bn = post["blocks.4.bn2.running_var"]
    assert torch.equal(bn[0], bn[-1])  # ... batch norm is a point estimate
    guide, _ = load_artifact(cifar_dir(root, "bayes") / "guide.pt")
    assert len([k for k in guide if k.endswith(".scale")]) == 21 and all((v > 0).all() for k, v in guide.items()
                                                                         if k.endswith(".scale"))


@pytest.mark.parametrize("kind,model,n", [("det", "baseNN", None), ("adv", "advNN", None), ("bayes", "fullBNN", N_STORE)])
def test_test_mode_writes_attacks_and_heatmaps(cifar_pipeline, kind, model, n):
    root = cifar_pipeline / "debug"
    mdir = cifar_dir(root, kind)
    atk, meta = load_artifact(attack_file(mdir, "fgsm", n))
    from utils.data.datasets import SUBSET_SEED, load_test_subset
    from utils.paths import data_root
    x, _, _ = load_test_subset("cifar", 20, SUBSET_SEED, data_root(), root)
    x_adv = atk["x_adv"]
    assert x_adv.shape == (20, 3, 32, 32) and x_adv.min() >= 0 and x_adv.max() <= 1  # pixel space, not normalised
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and meta["n_inputs"] == 20
    for rule in RULES:
        for attacked in (False, True):
            h, hmeta = load_artifact(lrp_file(mdir, "fgsm", rule, 38, attacked, n))
            assert h["heatmaps"].shape == (20, 3, 32, 32) and torch.isfinite(h["heatmaps"]).all()
            assert hmeta["n_samples"] == n and hmeta["rule"] == rule


def test_cifar_figures(cifar_pipeline):
    proc = run_script("lrp_rules_robustness_cifar.py", "--n_samples", N_STORE, "--debug", "--quiet", "--exp_dir",
                      cifar_pipeline)
    assert proc.returncode == 0, proc.stderr
    png = saved_png(proc)
    stats = pd.read_csv(png.with_suffix(".csv"))
    assert set(stats.rule) == set(RULES) and set(stats.layer_idx) == {38}
    from utils.metrics.robustness import lrp_robustness
    root = cifar_pipeline / "debug"
    rob = {}
    for kind, n in (("det", None), ("bayes", N_STORE)):
        h, _ = load_artifact(lrp_file(cifar_dir(root, kind), "fgsm", "epsilon", 38, False, n))
        h_adv, _ = load_artifact(lrp_file(cifar_dir(root, kind), "fgsm", "epsilon", 38, True, n))
        rob[kind] = lrp_robustness(h["heatmaps"], h_adv["heatmaps"], 20)
    row = stats[stats.rule == "epsilon"].iloc[0]
    assert row.bay_minus_det_median == pytest.approx(float(pd.Series((rob["bayes"] - rob["det"]).numpy()).median()), abs=1e-6)
    proc = run_script("lrp_rules_robustness_main.py", "--model_idxs", 2, "--n_samples", N_STORE, "--debug", "--quiet",
                      "--exp_dir", cifar_pipeline)
    assert proc.returncode == 0, proc.stderr
    main = pd.read_csv(saved_png(proc).with_suffix(".csv"))
    assert set(main.dataset) == {"MNIST", "CIFAR10"}


def test_cifar_errors(cifar_pipeline, tmp_path):
    proc = run_script(SCRIPTS["bayes"], "--mode", "test", "--n_samples", 101, "--debug", "--exp_dir", cifar_pipeline)
    assert_clean_error(proc, "more than the 100 posterior samples")
    proc = run_script(SCRIPTS["adv"], "--mode", "test", "--debug", "--exp_dir", tmp_path)
    assert_clean_error(proc, "train_networks.py --model advNN --model_idx 6")
    proc = run_script(SCRIPTS["bayes"], "--mode", "train", "--init_from_det", "--debug", "--exp_dir", tmp_path)
    assert_clean_error(proc, "train_networks.py --model baseNN --model_idx 6")
    proc = run_script(SCRIPTS["det"], "--mode", "train", "--epochs", 0, "--debug", "--exp_dir", tmp_path)
    assert_clean_error(proc, "--epochs: must be a positive integer")
    proc = run_script(SCRIPTS["det"], "--mode", "test", "--debug", "--device", "cuda", "--exp_dir", tmp_path)
    if not torch.cuda.is_available():
        assert_clean_error(proc, "CUDA is not available")


def test_exec_cifar_skips_current_stages_and_draws(cifar_pipeline):
    from conftest import in_stage_order
    from utils.paths import REPO
    in_stage_order(cifar_pipeline)
    env = {**os.environ, "BLRP_EXPERIMENTS": str(cifar_pipeline), "DEBUG": "1", "ATK_SAMPLES": str(N_STORE),
           "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "exec_cifar.sh")], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the three ResNets, their attacks and the heatmaps of three rules are current: only the figure is drawn
    stats = proc.stdout.split("Job stats:")[1].split("total")[0]
    assert sorted(re.findall(r"^(\w+)\s+\d+$", stats, re.M)) == ["cifar", "figure_rules_robustness"]
    assert (cifar_pipeline / "debug/figures/rules_robustness_idx6_fgsm_topk=20.png").stat().st_size > 10_000
    assert list((cifar_pipeline / "logs").glob("*_cifar.txt"))
