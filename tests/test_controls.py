"""The controls study: the reference's inference options, the averaging baselines, fair attacks, metric controls,
and exec_controls.sh end to end on real data."""
import os
import shutil
import subprocess

import pandas as pd
import pyro
import pyro.poutine as poutine
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from conftest import assert_clean_error, run_script
from utils.artifacts import load_artifact
from utils.attacks.gradient import evaluate_attack, random_sign
from utils.training.bayesian import BayesianNet, MeanFieldGuide, likelihood_scale, reference_guide_init
from utils.networks.store import load_posterior
from utils.lrp.engine import lrp_chunked
from utils.metrics.robustness import deletion_drop, lrp_robustness, select_topk, tie_permutation
from utils.model_settings import get_settings
from utils.networks.store import as_posterior, load_deterministic, noisegrad_samples
from utils.networks.architectures import build_seeded
from utils.paths import REPO
from utils.pipeline.stages import _heatmaps

SMALL_FC2 = {**get_settings("baseNN", 2), "hidden_size": 16}


def small_net(seed=0):
    return build_seeded(SMALL_FC2, seed).eval()


# ----------------------------------------------------------------------------------------------
# The reference's inference
def test_kl_weight_n_over_batch_is_the_reference_unscaled_elbo(mnist_small):
    """Trace_ELBO with likelihood scale (N/B)/B_kl at B_kl = N/B equals, by hand, -log p(y|x,w) - log p(w) + log q(w)
    for the guide's draw w; the default (B_kl = 1) weighs the same log-likelihood N/B times."""
    x, y = mnist_small[0][:128], mnist_small[1][:128]
    n_data = 60000
    bnn = BayesianNet(small_net())
    locs, scales = reference_guide_init({k: bnn.shapes[k] for k in bnn.sample_names}, seed=3)
    guide = MeanFieldGuide(locs, scales)

    def elbo_and_draw(scale):
        pyro.clear_param_store()
        pyro.set_rng_seed(7)
        guide_trace = poutine.trace(guide).get_trace(x, y, n_data, scale)
        model_trace = poutine.trace(poutine.replay(bnn.model, trace=guide_trace)).get_trace(x, y, n_data, scale)
        loss = -(model_trace.log_prob_sum() - guide_trace.log_prob_sum())
        return loss, guide_trace

    ref_scale = likelihood_scale(n_data, len(x), kl_weight=n_data / len(x))
    assert ref_scale == pytest.approx(1.0) and likelihood_scale(n_data, len(x), elbo="reference") == 1.0
    loss, trace = elbo_and_draw(ref_scale)
    w = {k: trace.nodes[k]["value"] for k in bnn.sample_names}
    log_lik = -F.cross_entropy(functional_call(bnn.net, w, (x,)), y, reduction="sum")
    log_prior = sum(torch.distributions.Normal(0.0, 1.0).log_prob(v).sum() for v in w.values())
    log_q = sum(torch.distributions.Normal(locs[k], scales[k]).log_prob(w[k]).sum() for k in w)
    by_hand = -log_lik - log_prior + log_q
    assert torch.allclose(loss, by_hand, rtol=1e-5)
    loss_full, _ = elbo_and_draw(likelihood_scale(n_data, len(x)))
    assert torch.allclose(loss_full - loss, -(n_data / len(x) - 1) * log_lik, rtol=1e-4)


def test_reference_guide_init_draws_normal_locs_and_softplus_normal_scales():
    shapes = {"a.weight": (4, 3), "a.bias": (4,)}
    locs, scales = reference_guide_init(shapes, seed=5)
    gen = torch.Generator().manual_seed(5)
    for name, shape in shapes.items():
        assert torch.equal(locs[name], torch.randn(shape, generator=gen))
        assert torch.equal(scales[name], F.softplus(torch.randn(shape, generator=gen)))
    big_locs, big_scales = reference_guide_init({"w": (200, 200)}, seed=0)
    assert abs(big_locs["w"].mean()) < 0.02 and abs(big_locs["w"].std() - 1) < 0.02
    assert (big_scales["w"] > 0).all() and abs(big_scales["w"].mean() - 0.806) < 0.02  # E softplus(N(0,1))
    pyro.clear_param_store()
    MeanFieldGuide(locs, scales)()
    store = pyro.get_param_store()
    assert torch.allclose(store["loc.a.weight"], locs["a.weight"]) and torch.allclose(store["scale.a.bias"], scales["a.bias"])


# ----------------------------------------------------------------------------------------------
# Averaging baselines
def test_noisegrad_with_zero_noise_is_the_basenn_and_its_noise_is_multiplicative():
    weights = dict(small_net().state_dict())
    same = noisegrad_samples(weights, 0.0, 3, seed=0)
    assert all(torch.equal(same[k][j], w) for k, w in weights.items() for j in range(3))
    noisy = noisegrad_samples(weights, 0.2, 200, seed=0)
    ratio = noisy["1.weight"] / weights["1.weight"]
    assert abs(ratio.mean() - 1) < 0.01 and abs(ratio.std() - 0.2) < 0.01
    assert torch.equal(noisegrad_samples(weights, 0.2, 5, seed=0)["1.weight"], noisy["1.weight"][:5])  # prefixes


def test_smoothgrad_with_zero_noise_equals_the_basenn_heatmap(mnist_small):
    net, x = small_net(), mnist_small[0][:20]
    samples = as_posterior(net)
    for layer in (1, 5):
        plain = lrp_chunked(net, samples, x, layer, "epsilon")
        smooth = _heatmaps(net, samples, x, layer, "epsilon", "default", "avg_heatmap", (0.0, 4, 0))
        assert torch.allclose(smooth, plain, atol=1e-6)
        noisy = _heatmaps(net, samples, x, layer, "epsilon", "default", "avg_heatmap", (0.15, 4, 0))
        assert not torch.allclose(noisy, plain, atol=1e-3)


@pytest.fixture(scope="module")
def ensemble_run(tiny_pipeline, tmp_path_factory):
    """The tiny pipeline's experiments plus an ensemble of 2 (member 0 is the pipeline's baseNN)."""
    exp = tmp_path_factory.mktemp("ensemble")
    shutil.copytree(tiny_pipeline, exp, dirs_exist_ok=True)
    proc = run_script("train_networks.py", "--model", "ensemble", "--model_idx", 2, "--n_members", 2, "--debug",
                      "--quiet", "--exp_dir", exp)
    assert proc.returncode == 0, proc.stderr
    assert "member 1/2: current" in proc.stdout
    return exp


def test_ensemble_samples_are_its_members_loaded_one_by_one(ensemble_run):
    root = ensemble_run / "debug"
    samples, meta = load_posterior(root, 2, model="ensemble", var={"n_members": 2})
    assert meta["member_fingerprints"] and len(meta["members"]) == 2
    base, _ = load_deterministic(root, "baseNN", 2)
    member1, _ = load_deterministic(root, "baseNN", 2, mdir=root / "ensemble" / "mnist_fc2_idx=2" / "member=1")
    for k, v in base.state_dict().items():
        assert torch.equal(samples[k][0], v) and torch.equal(samples[k][1], member1.state_dict()[k])
    assert not torch.equal(samples["1.weight"][0], samples["1.weight"][1])  # different seeds


def test_baselines_run_through_the_attack_and_lrp_stages(ensemble_run):
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", ensemble_run)
    for script, model, extra in (("attack_networks.py", "ensemble", ("--n_members", 2)),
                                 ("compute_lrp.py", "ensemble", ("--n_members", 2, "--layers", 5)),
                                 ("attack_networks.py", "noisegrad", ()),
                                 ("attack_networks.py", "noisegrad", ("--attack_source", "det")),
                                 ("compute_lrp.py", "smoothgrad", ("--attack_source", "det", "--layers", 5))):
        proc = run_script(script, "--model", model, *extra, *common)
        assert proc.returncode == 0, f"{script} {model} {extra}: {proc.stderr}"
    det_atk, _ = load_artifact(ensemble_run / "debug/baseNN/mnist_fc2_idx=2/fgsm/attacks/fgsm_attack.pt")
    shared, meta = load_artifact(ensemble_run / "debug/noisegrad/mnist_fc2_idx=2_s=0.2/fgsm_src=det/attacks/"
                                                "fgsm_attackSamp=100_attack.pt")
    assert torch.equal(shared["x_adv"], det_atk["x_adv"]) and meta["attack_source"] == "det"
    own, _ = load_artifact(ensemble_run / "debug/noisegrad/mnist_fc2_idx=2_s=0.2/fgsm/attacks/fgsm_attackSamp=100_attack.pt")
    # averaging per-sample sign attacks shrinks the perturbation: the unfairness the det source removes
    assert own["perturbation_l2"].mean() < shared["perturbation_l2"].mean()
    heat, hmeta = load_artifact(ensemble_run / "debug/smoothgrad/mnist_fc2_idx=2_s=0.15/fgsm_src=det/epsilon_lrp/"
                                               "layer_idx=5/det_attack_lrp.pt")
    assert hmeta["input_noise"][0] == 0.15 and torch.isfinite(heat["heatmaps"]).all()


def test_figure_scripts_score_every_model_on_the_det_attack(ensemble_run):
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", ensemble_run)
    for model in ("advNN", "fullBNN"):
        for script in ("attack_networks.py", "compute_lrp.py"):
            proc = run_script(script, "--model", model, "--attack_source", "det", *common)
            assert proc.returncode == 0, proc.stderr
    proc = run_script("lrp_robustness_diff.py", "--attack_source", "det", "--ties", "random", *common)
    assert proc.returncode == 0, proc.stderr
    stats_csv = next((ensemble_run / "debug/figures/layers_robustness").glob("*_src=det_ties=random_stats.csv"))
    stats = pd.read_csv(stats_csv)
    # one set of images: the same perturbation for Det, Adv and Bay
    assert (stats.det_perturbation_l2_mean == stats.adv_perturbation_l2_mean).all()
    assert (stats.det_perturbation_l2_mean == stats.bay_perturbation_l2_mean).all()
    assert run_script("lrp_robustness_diff.py", *common).returncode == 0
    own = pd.read_csv(next(p for p in (ensemble_run / "debug/figures/layers_robustness").glob("*_stats.csv")
                           if "src=det" not in p.name))
    assert (own.bay_perturbation_l2_mean < own.det_perturbation_l2_mean).all()  # the mean of sign attacks is smaller


def test_figure_scripts_take_a_baseline_in_the_bayesian_place(ensemble_run):
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", ensemble_run)
    assert run_script("attack_networks.py", "--model", "noisegrad", "--skip_current", *common).returncode == 0
    assert run_script("compute_lrp.py", "--model", "noisegrad", *common).returncode == 0
    proc = run_script("lrp_robustness_diff.py", "--bayes_model", "noisegrad", *common)
    assert proc.returncode == 0, proc.stderr
    stats = pd.read_csv(next((ensemble_run / "debug/figures/layers_robustness").glob("*_bay=noisegrad_s=0.2_stats.csv")))
    assert set(stats.layer_idx) == {1, 3, 5}
    proc = run_script("lrp_robustness_diff.py", "--bayes_model", "ensemble", "--n_members", 3, *common)
    # no ensemble of 3 was trained: the refusal names the first missing stage
    assert_clean_error(proc, "python src/train_networks.py --model ensemble --model_idx 2", "--n_members 3")


def test_variant_flags_are_refused_out_of_range_and_name_their_folder(tiny_pipeline):
    common = ("--model_idx", 2, "--debug", "--quiet", "--exp_dir", tiny_pipeline)
    for flags, fragment in ((("--kl_weight", 0), "--kl_weight"), (("--kl_weight", "nan"), "--kl_weight"),
                            (("--n_members", 0, "--model", "ensemble"), "--n_members"),
                            (("--noise_std", -1, "--model", "noisegrad"), "--noise_std")):
        assert_clean_error(run_script("train_networks.py", *flags, *common), fragment)
    proc = run_script("attack_networks.py", "--model", "fullBNN", "--inference", "svi", "--kl_weight", 10, *common)
    assert_clean_error(proc, "fullBNN/mnist_fc2_idx=2_inf=svi_kl=10/posterior.pt", "--kl_weight 10")


# ----------------------------------------------------------------------------------------------
# Fair attacks and metric controls
def test_perturbation_norms_and_success_on_a_hand_made_attack(mnist_small):
    net = small_net()
    x, y = mnist_small[0][:6], mnist_small[1][:6]
    delta = torch.zeros_like(x)
    delta[:, 0, 0, :3] = torch.tensor([0.3, -0.4, 0.0])  # L2 0.5, Linf 0.4, on pixels of value 0.5
    x = x.clone()
    x[:, 0, 0, :3] = 0.5
    metrics, tensors = evaluate_attack(net, as_posterior(net), x, x + delta, y)
    assert torch.allclose(tensors["perturbation_l2"], torch.full((6,), 0.5))
    assert torch.allclose(tensors["perturbation_linf"], torch.full((6,), 0.4))
    assert metrics["perturbation_l2_mean"] == pytest.approx(0.5) and metrics["perturbation_linf_mean"] == pytest.approx(0.4)
    assert 0 <= metrics["attack_success_rate"] <= 1


def test_random_sign_floor_is_shared_and_within_the_eps_ball(mnist_small):
    x = mnist_small[0][:50]
    a, b = random_sign(x, 0.2, seed=1), random_sign(x, 0.2, seed=1)
    assert torch.equal(a, b) and (a - x).abs().max() <= 0.2 + 1e-6 and a.min() >= 0 and a.max() <= 1
    moved = (a - x).abs() > 1e-6
    assert 0.4 < moved.float().mean() < 0.7  # about the positive half of the signs on black background pixels


def test_random_ties_without_ties_equal_the_stable_selection_and_differ_on_zero_maps():
    h = torch.randn(8, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    perm = tie_permutation((8, 100), torch.Generator().manual_seed(1))
    for stable, rand in zip(select_topk(h, 20), select_topk(h, 20, perm)):
        assert torch.equal(stable, rand)
    h2 = h + 0.1 * torch.randn(h.shape, generator=torch.Generator().manual_seed(2))
    assert torch.equal(lrp_robustness(h, h2, 20), lrp_robustness(h, h2, 20, ties="random", seed=3))
    zeros = torch.zeros(8, 1, 10, 10)
    assert torch.equal(lrp_robustness(zeros, zeros, 20), torch.ones(8))  # index ties: the same pixels, always
    r1, r2 = (lrp_robustness(zeros, zeros, 20, ties="random", seed=s) for s in (1, 2))
    assert not torch.equal(r1, r2) and r1.mean() < 0.5  # random picks overlap by chance only (~20 %)


def test_deletion_faithfulness_on_a_hand_made_linear_net():
    """f(x) = W x: deleting pixels (set to 0) lowers logit c by exactly the sum of their contributions x_i W_ci."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 20, generator=gen)
    x = torch.rand(4, 1, 4, 5, generator=gen)
    logit = lambda xx: xx.flatten(1) @ w.T  # noqa: E731
    c = logit(x).argmax(1)
    relevance = (x.flatten(1) * w[c]).view_as(x)  # LRP-0 of a linear net
    drop, target = deletion_drop(logit, x, relevance, topk=25)  # 5 of 20 pixels
    top5 = relevance.flatten(1).sort(1, descending=True).values[:, :5].sum(1)
    assert torch.equal(target, c) and torch.allclose(drop, top5, atol=1e-5)
    worst, _ = deletion_drop(logit, x, -relevance, topk=25)
    assert (drop > worst).all()


# ----------------------------------------------------------------------------------------------
# The whole study
@pytest.mark.slow
def test_exec_controls_end_to_end_with_debug_on_real_data(tiny_pipeline, tmp_path):
    """DEBUG=1 MODEL_IDXS=2 TEST_INPUTS=20 bash exec_controls.sh (the tiny pipeline's det/adv/HMC nets are reused),
    then a rerun that only reads what is current."""
    exp = tmp_path / "exp"
    shutil.copytree(tiny_pipeline, exp)
    env = {**os.environ, "DEBUG": "1", "MODEL_IDXS": "2", "TEST_INPUTS": "20", "PYTHON": str(REPO / ".venv/bin/python")
           if (REPO / ".venv/bin/python").exists() else "python3", "BLRP_EXPERIMENTS": str(exp)}
    proc = subprocess.run(["bash", str(REPO / "exec_controls.sh")], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    csv = exp / "debug/figures/controls/controls_debug_topk=20.csv"
    table = pd.read_csv(csv)
    assert (csv.with_suffix(".png")).stat().st_size > 50_000
    labels = {"Det", "Adv", "SVI KL=1", "SVI KL=10", "SVI KL=100", "SVI ref. ELBO", "SVI ref. ELBO, ref. init",
              "HMC", "HMC ref.", "Ensemble", "NoiseGrad", "SmoothGrad"}
    assert labels <= set(table.variant)
    assert set(table.protocol) == {"own", "det", "eot", "random"} and set(table.rule) == {"epsilon", "gamma", "alpha1beta0"}
    assert {"lrp_robustness", "lrp_robustness_random_ties", "abs_topk_robustness", "heatmap_spearman"} <= set(table.metric)
    det = table[(table.variant == "Det")]
    assert (det.gain_over_det_median == 0).all()
    shared = table[(table.protocol == "det") & (table.metric == "lrp_robustness")]
    assert shared.perturbation_l2_mean.nunique() == 1  # one set of images for every model
    for col in ("clean_accuracy", "adversarial_accuracy", "attack_success_rate", "perturbation_l2_mean",
                "perturbation_linf_mean", "deletion_drop_median", "gain_over_det_wilcoxon_p"):
        assert col in table.columns
    assert "HMC ref." in proc.stdout
    again = subprocess.run(["bash", str(REPO / "exec_controls.sh")], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0 and "saved /" not in again.stdout.replace(f"saved {csv}", "").replace(
        f"saved {csv.with_suffix('.png')}", "")
    assert table.equals(pd.read_csv(csv))
