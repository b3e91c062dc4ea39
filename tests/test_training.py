import torch
import torch.nn.functional as F

from utils.attacks.gradient import fgsm
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.training.recipes import accuracy, train_network


def test_fc2_trains_above_90_percent_on_5000_real_images(mnist_small, mnist_test):
    net = build_seeded(get_settings("baseNN", 2), seed=0)
    train_network(net, *mnist_small, epochs=8, lr=1e-3, quiet=True, log=lambda _: None)
    assert accuracy(net, mnist_test[0][:2000], mnist_test[1][:2000]) > 0.90


def test_conv_trains_above_90_percent_on_5000_real_images(mnist_small, mnist_test):
    net = build_seeded(get_settings("baseNN", 0), seed=0)
    train_network(net, *mnist_small, epochs=2, lr=1e-3, quiet=True, log=lambda _: None)
    assert accuracy(net, mnist_test[0][:1000], mnist_test[1][:1000]) > 0.90


def test_batched_fgsm_is_the_closed_form_per_image(mnist_small):
    net = build_seeded(get_settings("baseNN", 2), seed=1).eval()
    x, y = mnist_small[0][:16], mnist_small[1][:16]
    x_adv = fgsm(net, x, y, eps=0.2)
    for i in range(len(x)):  # the reference's one-image-at-a-time loop
        xi = x[i:i + 1].clone().requires_grad_(True)
        F.cross_entropy(net(xi), y[i:i + 1]).backward()
        expected = (x[i:i + 1] + 0.2 * xi.grad.sign()).clamp(0, 1)
        assert torch.allclose(x_adv[i:i + 1], expected, atol=1e-7)
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1


def test_adversarial_training_resists_fgsm_better(mnist_small, mnist_test):
    x_test, y_test = mnist_test[0][:1000], mnist_test[1][:1000]
    robust = {}
    for name, adversarial in (("base", None), ("adv", {"method": "fgsm", "eps": 0.2, "mix": 1.0})):
        net = build_seeded(get_settings("baseNN", 2), seed=0)
        train_network(net, *mnist_small, epochs=3, lr=1e-3, adversarial=adversarial, quiet=True, log=lambda _: None)
        robust[name] = (net(fgsm(net, x_test, y_test, 0.2)).argmax(1) == y_test).float().mean().item()
    assert robust["adv"] > robust["base"] + 0.2


def test_same_seed_gives_identical_weights(mnist_small):
    def train(seed):
        net = build_seeded(get_settings("baseNN", 2), seed=seed)
        train_network(net, mnist_small[0][:1000], mnist_small[1][:1000], epochs=1, lr=1e-3, seed=seed,
                      quiet=True, log=lambda _: None)
        return net.state_dict()
    a, b, c = train(3), train(3), train(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["1.weight"], c["1.weight"])
