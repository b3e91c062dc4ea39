import pyro.poutine as poutine
import pytest
import torch
import torch.nn.functional as F

from utils.artifacts import save_artifact
from utils.training.bayesian import (BayesianNet, HMCSpec, bayes_accuracy, per_sample_logits, predictive_probs,
                            run_mcmc, sample_mean_field, train_hmc, train_svi)
from utils.networks.store import load_posterior
from utils.data.datasets import seeded_subset
from utils.errors import UserError
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.paths import model_dir, weights_file

FC2 = get_settings("fullBNN", 2)


@pytest.fixture(scope="module")
def svi_fit(mnist_small):
    bnn = BayesianNet(build_seeded(FC2, 0))
    guide, history = train_svi(bnn, *mnist_small, epochs=4, lr=1e-3, seed=0, quiet=True, log=lambda _: None)
    return bnn, guide, history


def test_svi_on_real_mnist_beats_87_percent(svi_fit, mnist_test):
    bnn, guide, history = svi_fit
    samples = sample_mean_field(guide, 20, seed=0)
    probs = predictive_probs(bnn.net, samples, mnist_test[0][:2000])
    acc = bayes_accuracy(probs, mnist_test[1][:2000], [10, 20])
    assert acc[20] > 0.87, acc  # the first 2000 test images are the harder half (det fc2: 92 %)
    assert history[-1]["neg_elbo_per_datum"] < history[0]["neg_elbo_per_datum"]


def test_likelihood_is_scaled_to_the_full_data_set(mnist_small):
    bnn = BayesianNet(build_seeded(FC2, 0))
    x, y = mnist_small[0][:32], mnist_small[1][:32]
    weights = {k: v.detach() for k, v in bnn.net.state_dict().items()}

    def obs_log_prob(n_data):
        trace = poutine.trace(poutine.condition(bnn.model, data=weights)).get_trace(x, y, n_data)
        trace.compute_log_prob()
        return trace.nodes["obs"]["log_prob_sum"]  # already multiplied by the plate scale

    exact = -F.cross_entropy(bnn.net(x), y, reduction="sum")
    assert torch.allclose(obs_log_prob(None), exact, rtol=1e-5)
    assert torch.allclose(obs_log_prob(60000), exact * 60000 / 32, rtol=1e-5)


def test_short_hmc_on_real_data_is_sane(mnist_train):
    x, y = seeded_subset(*mnist_train, 200, seed=0)
    net = build_seeded(FC2, 0)
    samples, diag = run_mcmc(BayesianNet(net), x, y, num_samples=8, warmup=15, kernel="hmc", step_size=1e-3,
                             num_steps=4, init_params=net.state_dict(), quiet=True)
    assert all(v.shape[0] == 8 for v in samples.values()) and set(samples) == set(net.state_dict())
    assert 0 < diag["acceptance_rate"] <= 1
    assert len(diag["log_joint"]) == 8 and all(torch.isfinite(torch.tensor(diag["log_joint"])))
    assert diag["mean_leapfrog_steps"] == 4


def test_nuts_reports_tree_depth(mnist_train):
    x, y = seeded_subset(*mnist_train, 100, seed=0)
    net = build_seeded(FC2, 0)
    _, diag = run_mcmc(BayesianNet(net), x, y, num_samples=3, warmup=3, kernel="nuts", step_size=1e-3,
                       max_tree_depth=3, init_params=net.state_dict(), quiet=True)
    assert 0 < diag["mean_tree_depth"] <= 3 and diag["mean_leapfrog_steps"] >= 1


def test_priors_follow_the_network_to_another_dtype_or_device(mnist_small):
    # A dtype change stands in for a device change (no CUDA on the test machines): priors left on the
    # CPU broke SVI and HMC on a GPU.
    bnn = BayesianNet(build_seeded(FC2, 0)).to(torch.float64)
    x, y = mnist_small[0][:8].double(), mnist_small[1][:8]
    trace = poutine.trace(bnn.model).get_trace(x, y)
    assert trace.nodes["1.weight"]["value"].dtype == torch.float64 and torch.isfinite(trace.log_prob_sum())


def test_minibatch_scheme_draws_15_times_7(mnist_train):
    x, y = seeded_subset(*mnist_train, 150, seed=0)
    net = build_seeded(FC2, 0)
    spec = HMCSpec(num_samples=100, warmup=2, scheme="minibatch", kernel="hmc", batch_size=10, step_size=1e-4,
                   num_steps=2)
    samples, diag = train_hmc(BayesianNet(net), x, y, spec, init_params=net.state_dict(), quiet=True,
                              log=lambda _: None)
    assert diag["n_chains"] == 15 and diag["draws_before_truncation"] == 105
    assert samples["1.weight"].shape == (100, 512, 784)


def test_hmc_same_seed_same_samples(mnist_train):
    # A 16-unit fc2 (13k weights) so that 10 warm-up steps find a step size at which the chain moves:
    # on the 670k-weight net a short warm-up can leave every proposal rejected, and any two seeds agree.
    x, y = seeded_subset(*mnist_train, 100, seed=0)
    net = build_seeded({**FC2, "hidden_size": 16}, 0)

    def draw(seed):
        spec = HMCSpec(3, 10, kernel="hmc", step_size=1e-3, num_steps=2, seed=seed)
        s, diag = train_hmc(BayesianNet(net), x, y, spec, init_params=net.state_dict(), quiet=True)
        assert diag["acceptance_rate"] > 0.3
        return s["5.weight"]
    assert torch.equal(draw(1), draw(1)) and not torch.equal(draw(1), draw(2))


def test_svi_samples_are_seeded_per_sample(svi_fit):
    _, guide, _ = svi_fit
    a, b = sample_mean_field(guide, 10, seed=3), sample_mean_field(guide, 4, seed=3)
    assert all(torch.equal(a[k][:4], b[k]) for k in a)
    assert not torch.equal(a["1.weight"][0], a["1.weight"][1])


@pytest.mark.parametrize("idx", [0, 2])
def test_vectorised_prediction_equals_loop_over_samples(idx, mnist_small):
    net = build_seeded(get_settings("fullBNN", idx), 0)
    samples = sample_mean_field({k: (v, torch.full_like(v, 0.05)) for k, v in net.state_dict().items()}, 5, seed=0)
    x = mnist_small[0][:20]
    batched = per_sample_logits(net, samples, x)
    for j in range(5):
        net.load_state_dict({k: v[j] for k, v in samples.items()})
        assert torch.allclose(batched[j], net(x), atol=1e-5)
    per_input = per_sample_logits(net, samples, x.expand(5, *x.shape))  # one input batch per sample
    assert torch.allclose(per_input, batched, atol=1e-5)


def test_posterior_errors(tmp_path):
    mdir = model_dir(tmp_path, "fullBNN", FC2, 2)
    samples = {k: v.unsqueeze(0).repeat(10, *[1] * v.dim()) for k, v in build_seeded(FC2, 0).state_dict().items()}
    save_artifact(weights_file(mdir, "fullBNN"), samples, {"model": "fullBNN", "model_idx": 2, "settings": FC2})
    assert load_posterior(tmp_path, 2, n_samples=10)[0]["1.weight"].shape[0] == 10
    with pytest.raises(UserError, match="more than the 10 posterior samples"):
        load_posterior(tmp_path, 2, n_samples=50)
    save_artifact(weights_file(mdir, "fullBNN"), samples, {"model": "fullBNN", "model_idx": 2,
                                                          "settings": {**FC2, "hidden_size": 256}})
    with pytest.raises(UserError, match="stale"):
        load_posterior(tmp_path, 2)


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_artifact(tmp_path / "posterior.pt", {"w": torch.zeros(3)}, {})
    assert list(tmp_path.iterdir()) == []
