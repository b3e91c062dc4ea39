import pytest
import torch

from utils.lrp.canonizers import merge_bn
from utils.data.datasets import load_dataset
from utils.lrp.engine import Epsilon, lrp
from utils.networks.store import as_posterior
from utils.networks.architectures import count_parameters
from utils.networks.resnet import build_resnet20


def lrp_resnet(net, params, x, rule="epsilon", compat="default", target=None):
    return lrp(net, params, x, 38, rule, compat, target)


@pytest.fixture(scope="module")
def cifar_test(data_dir):
    from utils.data.datasets import provision
    provision("cifar", data_dir)
    return load_dataset("cifar", data_dir, train=False)


def randomised_bn(net, zero_bias=False):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2).mul_(0 if zero_bias else 1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1).mul_(0 if zero_bias else 1)
        if zero_bias:
            net.linear.bias.zero_()
    return net.eval()


def test_resnet20_size_and_output(cifar_test):
    net = build_resnet20(0).eval()
    assert count_parameters(net) == 269_722  # 0.27 M
    assert net(cifar_test[0][:5]).shape == (5, 10)


def test_bn_merging_leaves_outputs_unchanged():
    net = randomised_bn(build_resnet20(1))
    x = torch.rand(4, 3, 32, 32)
    conv_out = net.bn1(net.conv1(net.normalize(x)))
    w, b = merge_bn(net.conv1.weight, net.state_dict(), "bn1")
    merged = torch.nn.functional.conv2d(net.normalize(x), w, b, padding=1)
    assert torch.allclose(conv_out, merged, atol=1e-5)


def test_relevance_is_conserved_through_the_residual_network(cifar_test):
    net = randomised_bn(build_resnet20(2), zero_bias=True).double()
    x = cifar_test[0][:3].double()
    heat = lrp_resnet(net, as_posterior(net), x, Epsilon(1e-12))[0]
    assert heat.shape == (3, 3, 32, 32)
    assert torch.allclose(heat.flatten(1).sum(1), torch.ones(3, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("rule", ["epsilon", "gamma", "alpha1beta0"])
def test_heatmap_shapes_for_every_rule_and_compat(cifar_test, rule):
    net = randomised_bn(build_resnet20(3))
    x = cifar_test[0][:2]
    for compat in ("default", "reference"):
        heat = lrp_resnet(net, as_posterior(net), x, rule, compat)
        assert heat.shape == (1, 2, 3, 32, 32) and torch.isfinite(heat).all()


def test_corrupted_cifar_archive_is_rejected(tmp_path):
    from utils.data.datasets import cifar_archive_path, decode_cifar_archive
    from utils.errors import UserError
    bad = tmp_path / "cifar10-jpeg.tar.gz"
    data = bytearray(cifar_archive_path().read_bytes()[:200_000])
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError, match="sha256 mismatch"):
        decode_cifar_archive(bad)


def test_augmentation_crops_and_flips_real_images(cifar_test):
    from utils.training.recipes import augment
    x = cifar_test[0][:64]
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    same = augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, same)
    # every crop is a shifted (possibly flipped) window of the padded image: its pixels come from x or padding
    padded = torch.nn.functional.pad(x[:1], (4, 4, 4, 4))
    windows = [padded[..., i:i + 32, j:j + 32] for i in range(9) for j in range(9)]
    assert any(torch.equal(out[:1], w) or torch.equal(out[:1], w.flip(3)) for w in windows)


def test_short_real_training_beats_chance(data_dir):
    """4000 real CIFAR-10 training images, 3 epochs: well above the 10 % of chance on the validation split."""
    from utils.training.recipes import accuracy, train_sgd, validation_split
    from utils.data.datasets import load_dataset, provision, seeded_subset
    provision("cifar", data_dir)
    x, y = seeded_subset(*load_dataset("cifar", data_dir, train=True), 4500, seed=0)
    train, val = validation_split(x, y, 500, seed=0)
    net = build_resnet20(0)
    history, best = train_sgd(net, train, val, epochs=3, lr=0.05, batch_size=128, quiet=True, log=lambda _: None)
    assert best == max(h["val_accuracy"] for h in history)
    assert accuracy(net, *val) == pytest.approx(best)  # the best validation epoch's weights are kept
    x_test, y_test = load_dataset("cifar", data_dir, train=False)
    assert accuracy(net, x_test[::10], y_test[::10]) > 0.25


def three_samples(net):
    from utils.training.recipes import bayesian_posterior
    state = net.state_dict()
    guide = {k: (v, torch.full_like(v, 0.05)) for k, v in state.items() if k.endswith("conv1.weight")
             or k.endswith("conv2.weight") or k.startswith("linear.")}
    return bayesian_posterior(guide, {k: v for k, v in state.items() if k not in guide}, 3, seed=0)


@pytest.mark.parametrize("compat", ["default", "reference"])
def test_stacked_posterior_through_the_engine_equals_per_sample_calls(cifar_test, compat):
    """Stacked samples, per-sample inputs and a fixed target (avg_prediction) give what one call per sample gives."""
    from utils.lrp.engine import lrp_chunked
    net = randomised_bn(build_resnet20(5))
    samples = three_samples(net)
    x = cifar_test[0][:4]
    one = lambda j, xs, t=None: lrp_resnet(net, {k: v[j:j + 1] for k, v in samples.items()}, xs, "epsilon", compat,  # noqa: E731
                                           None if t is None else t[None])[0]
    stacked = lrp(net, samples, x, 38, "epsilon", compat)
    assert torch.allclose(stacked, torch.stack([one(j, x) for j in range(3)]), atol=1e-5)
    xs = torch.stack([x, x.flip(3), x * 0.5])  # one input batch per sample
    per_input = lrp(net, samples, xs, 38, "epsilon", compat)
    assert torch.allclose(per_input, torch.stack([one(j, xs[j]) for j in range(3)]), atol=1e-5)
    from utils.training.bayesian import predictive_probs
    target = predictive_probs(net, samples, x).mean(0).argmax(1)
    common = lrp_chunked(net, samples, x, 38, "epsilon", compat, method="avg_prediction")
    assert torch.allclose(common, torch.stack([one(j, x, target) for j in range(3)]).mean(0), atol=1e-5)


class ZennitBlock(torch.nn.Module):
    """Our BasicBlock with its residual addition as a Zennit Sum module and its ReLUs as modules (test canonizer)."""

    def __init__(self, block):
        super().__init__()
        from zennit.layer import Sum
        self.conv1, self.bn1, self.conv2, self.bn2 = block.conv1, block.bn1, block.conv2, block.bn2
        self.shortcut, self.relu1, self.relu2, self.sum = block.shortcut, torch.nn.ReLU(), torch.nn.ReLU(), Sum()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(self.sum(torch.stack([out, self.shortcut(x)], dim=-1)))


def zennit_resnet(net):
    """The same weights as a Sequential Zennit can hook, and its batch-norm canonizer."""
    from collections import OrderedDict
    from zennit.canonizers import NamedMergeBatchNorm
    from torch import nn
    blocks = nn.Sequential(*[ZennitBlock(b) for b in net.blocks])
    seq = nn.Sequential(OrderedDict([("normalize", net.normalize), ("conv1", net.conv1), ("bn1", net.bn1),
                                     ("relu", nn.ReLU()), ("blocks", blocks), ("pool", nn.AdaptiveAvgPool2d(1)),
                                     ("flatten", nn.Flatten()), ("linear", net.linear)]))
    pairs = [(["conv1"], "bn1")] + [([f"blocks.{i}.conv{k}"], f"blocks.{i}.bn{k}") for i in range(len(blocks))
                                    for k in (1, 2)]
    return seq, NamedMergeBatchNorm(pairs)


@pytest.mark.parametrize("rule", ["epsilon", "gamma", "alpha1beta0"])
def test_resnet_lrp_agrees_with_zennit_and_its_resnet_canonizer(cifar_test, rule):
    """The one engine through the ResNet canonizer (batch norms merged, residual sums split in proportion to
    their summands, the pooling by the z-rule) equals Zennit with batch-norm merging and a Sum module."""
    from torch import nn
    from zennit.attribution import Gradient
    from zennit.composites import LayerMapComposite
    from zennit.layer import Sum
    from zennit.rules import Norm, Pass
    from test_lrp import ZENNIT_RULES
    from utils.networks.resnet import Normalize
    net = randomised_bn(build_resnet20(7)).double()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 0.0  # Zennit's merged batch norm still divides by sqrt(1 + eps)
    x = cifar_test[0][:3].double()
    ours = lrp_resnet(net, as_posterior(net), x, rule)[0]
    seq, canonizer = zennit_resnet(net)
    comp = LayerMapComposite(layer_map=[((nn.ReLU, Normalize), Pass()), ((Sum, nn.AdaptiveAvgPool2d), Norm(1e-9)),
                                        ((nn.Linear, nn.Conv2d), ZENNIT_RULES[rule]())], canonizers=[canonizer])
    with Gradient(seq, comp) as attributor:
        out = seq(x)
        _, theirs = attributor(x, torch.nn.functional.one_hot(out.argmax(1), 10).double())
    # 1e-7: our z-rule at the option-A shortcut divides by a + 1e-9 sign(a) where Zennit passes the gradient
    assert torch.allclose(ours, theirs, atol=1e-7 * theirs.abs().max().item()), rule
