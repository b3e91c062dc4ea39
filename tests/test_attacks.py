import pytest
import torch
import torch.nn.functional as F

from utils.attacks.gradient import attack, evaluate_attack, fgsm, pgd, pgd_loop, prefix_means, sample_generator, uniform_noise
from utils.training.bayesian import sample_mean_field
from utils.model_settings import get_settings
from utils.networks.store import as_posterior
from utils.networks.architectures import build_seeded
from utils.training.recipes import train_network


@pytest.fixture(scope="module")
def trained_fc2(mnist_small):
    net = build_seeded(get_settings("baseNN", 2), 0)
    train_network(net, *mnist_small, epochs=8, lr=1e-3, quiet=True, log=lambda _: None)
    return net.eval()


@pytest.fixture(scope="module")
def test_batch(mnist_test):
    return mnist_test[0][:200], mnist_test[1][:200]


@pytest.fixture(scope="module")
def posterior(trained_fc2):
    params = {k: (v, torch.full_like(v, 0.02)) for k, v in trained_fc2.state_dict().items()}
    return sample_mean_field(params, 6, seed=0)


def adv_accuracy(net, x, y):
    return (net(x).argmax(1) == y).float().mean().item()


def test_fgsm_on_one_posterior_sample_is_the_closed_form(trained_fc2, posterior, test_batch):
    x, y = test_batch[0][:20], test_batch[1][:20]
    out = attack(trained_fc2, {k: v[2:3] for k, v in posterior.items()}, x, y, "fgsm", 0.2)
    trained_fc2.load_state_dict({k: v[2] for k, v in posterior.items()})
    for i in range(len(x)):  # one image at a time, as the reference
        xi = x[i:i + 1].clone().requires_grad_(True)
        F.cross_entropy(trained_fc2(xi), y[i:i + 1]).backward()
        assert torch.allclose(out[0, i], (x[i] + 0.2 * xi.grad[0].sign()).clamp(0, 1))


def test_pgd_iterates_stay_in_the_eps_ball_and_the_image_range(trained_fc2, test_batch):
    x, y = test_batch
    noise = uniform_noise(x.shape, torch.Generator().manual_seed(0))
    grad = lambda xa: torch.autograd.grad(F.cross_entropy(trained_fc2(xa.requires_grad_()), y, reduction="sum"), xa)[0]
    for steps in (0, 1, 5, 40):
        x_adv = pgd_loop(grad, x, 0.2, steps, 0.01, noise)
        assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_matches_a_per_image_reference_loop(trained_fc2, test_batch):
    """In float64: in float32 the batched and the one-image GEMMs round differently, and a gradient entry near 0
    can take the other sign (seen on some machines, depending on which tests ran before)."""
    import copy
    net = copy.deepcopy(trained_fc2).double()
    x, y = test_batch[0][:10].double(), test_batch[1][:10]
    batched = pgd(net, x, y, 0.2, steps=10, generator=torch.Generator().manual_seed(5))
    noise = (2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(5)) - 1).double()
    for i in range(len(x)):
        xi = (x[i:i + 1] + 0.2 * noise[i:i + 1]).clamp(0, 1)
        for _ in range(10):
            xi = xi.clone().requires_grad_(True)
            F.cross_entropy(net(xi), y[i:i + 1]).backward()
            xi = torch.min(torch.max(xi + 0.01 * xi.grad.sign(), x[i:i + 1] - 0.2), x[i:i + 1] + 0.2).clamp(0, 1).detach()
        assert torch.allclose(batched[i:i + 1], xi, atol=1e-6)


def test_pgd_is_at_least_as_strong_as_fgsm_and_breaks_a_trained_net(trained_fc2, test_batch):
    x, y = test_batch
    clean = adv_accuracy(trained_fc2, x, y)
    acc_fgsm = adv_accuracy(trained_fc2, fgsm(trained_fc2, x, y, 0.2), y)
    acc_pgd = adv_accuracy(trained_fc2, pgd(trained_fc2, x, y, 0.2, generator=torch.Generator().manual_seed(0)), y)
    assert clean > 0.85 and acc_pgd <= acc_fgsm and acc_pgd < 0.1


def test_bayesian_definitions_agree_when_all_samples_are_identical(trained_fc2, test_batch):
    x, y = test_batch[0][:30], test_batch[1][:30]
    same = {k: v.repeat(4, *[1] * (v.dim() - 1)) for k, v in as_posterior(trained_fc2).items()}
    mean_of = attack(trained_fc2, same, x, y, "fgsm", 0.2, "mean_of_attacks").mean(0)
    expected = attack(trained_fc2, same, x, y, "fgsm", 0.2, "expected_gradient")
    predictive = attack(trained_fc2, same, x, y, "fgsm", 0.2, "predictive_loss")
    assert torch.allclose(mean_of, expected, atol=1e-6) and torch.allclose(expected, predictive, atol=1e-6)


def test_predictive_loss_gradient_is_the_gradient_of_the_predictive_mean_loss(trained_fc2, posterior, test_batch):
    from utils.attacks.gradient import bayes_input_gradient
    from utils.training.bayesian import per_sample_logits
    x, y = test_batch[0][:25].double(), test_batch[1][:25]
    net, samples = trained_fc2.double(), {k: v.double() for k, v in posterior.items()}
    try:
        got = bayes_input_gradient(net, samples, x, y, "predictive_loss", sample_chunk=4)  # chunks of 4 and 2
        xg = x.clone().requires_grad_(True)
        p_bar = F.softmax(per_sample_logits(net, samples, xg), -1).mean(0)[torch.arange(len(y)), y]
        (want,) = torch.autograd.grad(-p_bar.log().sum(), xg)
    finally:
        trained_fc2.float()
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_batched_bayesian_attack_equals_a_per_sample_loop(trained_fc2, posterior, test_batch, method):
    x, y = test_batch[0][:25], test_batch[1][:25]
    batched = attack(trained_fc2, posterior, x, y, method, 0.2, seed=7, pgd_steps=5, budget_mb=1)  # tiny chunks
    for j in range(6):
        trained_fc2.load_state_dict({k: v[j] for k, v in posterior.items()})
        single = fgsm(trained_fc2, x, y, 0.2) if method == "fgsm" else \
            pgd(trained_fc2, x, y, 0.2, steps=5, generator=sample_generator(7, j))
        assert torch.allclose(batched[j], single, atol=1e-6)


def test_prefix_attack_equals_a_separate_smaller_run(trained_fc2, posterior, test_batch):
    x, y = test_batch[0][:25], test_batch[1][:25]
    full = attack(trained_fc2, posterior, x, y, "pgd", 0.2, seed=1, pgd_steps=3)
    small = attack(trained_fc2, {k: v[:3] for k, v in posterior.items()}, x, y, "pgd", 0.2, seed=1, pgd_steps=3)
    assert torch.allclose(prefix_means(full, [3])[3], small.mean(0))


def test_shared_definitions_accumulate_over_sample_chunks(trained_fc2, posterior, test_batch):
    x, y = test_batch[0][:25], test_batch[1][:25]
    for definition in ("expected_gradient", "predictive_loss"):
        a = attack(trained_fc2, posterior, x, y, "pgd", 0.2, definition, pgd_steps=3)
        b = attack(trained_fc2, posterior, x, y, "pgd", 0.2, definition, pgd_steps=3, budget_mb=0.01)
        assert torch.allclose(a, b, atol=1e-6) and a.shape == x.shape


def test_evaluation_outcomes(trained_fc2, test_batch):
    x, y = test_batch
    x_adv = fgsm(trained_fc2, x, y, 0.2)
    metrics, t = evaluate_attack(trained_fc2, as_posterior(trained_fc2), x, x_adv, y)
    correct = trained_fc2(x).argmax(1) == y
    assert torch.equal(t["successful"] | t["failed"], correct) and not (t["successful"] & t["failed"]).any()
    assert metrics["attack_success_rate"] == pytest.approx(t["successful"].sum().item() / correct.sum().item())
    assert ((0 <= t["softmax_robustness"]) & (t["softmax_robustness"] <= 1)).all()
    assert metrics["linf_distance_max"] <= 0.2 + 1e-6
