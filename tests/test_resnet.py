import pytest
import torch

from utils.data import load_dataset
from utils.lrp import Epsilon
from utils.models_io import as_posterior
from utils.networks import count_parameters
from utils.resnet import build_resnet20, lrp_resnet, merge_bn


@pytest.fixture(scope="module")
def cifar_test(data_dir):
    from utils.data import provision
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
    from utils.data import cifar_archive_path, decode_cifar_archive
    from utils.errors import UserError
    bad = tmp_path / "cifar10-jpeg.tar.gz"
    data = bytearray(cifar_archive_path().read_bytes()[:200_000])
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError, match="sha256 mismatch"):
        decode_cifar_archive(bad)
