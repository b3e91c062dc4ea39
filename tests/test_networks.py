import pytest
import torch
from torch import nn

from utils.errors import UserError
from utils.model_settings import CIFAR_ROW_IDX, SETTINGS, get_settings, validate_settings
from utils.networks.architectures import build_network, count_parameters, cut_at_layer, cut_end


def settings(dataset="mnist", arch="fc2", hidden=64, act="leaky"):
    return {"dataset": dataset, "hidden_size": hidden, "activation": act, "architecture": arch, "epochs": 1, "lr": 1e-3}


@pytest.mark.parametrize("dataset,arch,learnable", [
    ("mnist", "fc2", [1, 3, 5]), ("mnist", "fc3", [1, 3, 5, 7, 9]), ("mnist", "conv", [0, 3, 7]),
    ("cifar", "conv", [0, 3, 5, 9]), ("cifar", "alexnet", [0, 3, 6, 8, 10, 14]), ("cifar", "fc2", [1, 3, 5]),
])
@pytest.mark.parametrize("act", ["leaky", "relu", "sigm", "tanh", "softplus"])
def test_every_architecture_builds_with_the_right_output(dataset, arch, learnable, act):
    net = build_network(settings(dataset, arch, act=act))
    assert net.learnable_layers == learnable
    x = torch.rand(2, *net.input_shape)
    assert net(x).shape == (2, 10)


def test_paper_parameter_counts():
    counts = [count_parameters(build_network(get_settings("baseNN", i))) for i in range(4)]
    assert counts == [456_618, 912_810, 669_706, 1_863_690]


def test_layer_cut_keeps_the_activation_after_the_layer():
    fc2 = build_network(settings())
    assert [cut_end(fc2, L) for L in (1, 3, 5, -1)] == [3, 5, 6, 6]
    assert isinstance(cut_at_layer(fc2, 1)[-1], nn.LeakyReLU)
    conv = build_network(settings(arch="conv", hidden=32))
    assert [cut_end(conv, L) for L in (0, 3, 7)] == [2, 5, 8]
    assert cut_at_layer(conv, 3)(torch.rand(1, 1, 28, 28)).shape == (1, 32, 8, 8)
    assert list(dict(cut_at_layer(conv, 3).named_parameters())) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    with pytest.raises(UserError, match="not a learnable layer"):
        cut_end(fc2, 2)


def test_every_entry_validates_and_builds_for_every_kind():
    """One entry per index: every kind's view validates, and the det and Bayesian nets are one network."""
    for i in range(len(SETTINGS)):
        views = [get_settings(model, i) for model in ("baseNN", "advNN", "fullBNN")]
        shapes = [{k: v.shape for k, v in build_network(s).state_dict().items()} for s in views]
        assert shapes[0] == shapes[1] == shapes[2], i
    assert get_settings("baseNN", CIFAR_ROW_IDX)["architecture"] == "resnet20"


@pytest.mark.parametrize("key,value", [("hidden_size", 100), ("hidden_size", 8), ("dataset", "svhn"),
                                       ("architecture", ""), ("activation", "gelu"), ("lr", 0)])
def test_bad_settings_name_the_key(key, value):
    s = settings()
    s[key] = value
    with pytest.raises(UserError, match=f"'{key}'"):
        validate_settings(s)


def test_unknown_architecture_is_refused_when_built():
    """The name is looked up in networks.ARCHITECTURES by build_network (model_settings stays free of torch)."""
    with pytest.raises(UserError, match="unknown architecture 'vgg' in src/utils/model_settings.py; choose one of fc2"):
        build_network(settings(arch="vgg"))


def test_unknown_model_and_index():
    with pytest.raises(UserError, match="unknown --model"):
        get_settings("bigNN", 0)
    with pytest.raises(UserError, match="valid indices are 0..6"):
        get_settings("baseNN", 7)


def test_memory_probe_follows_the_network_dtype_and_device():
    # A dtype change stands in for a device change (no CUDA on the test machines): a probe image made on
    # the CPU broke every attack and LRP stage of a net on the GPU.
    from utils.networks.architectures import chunk_sizes, largest_activation
    net = build_network(get_settings("baseNN", 0))
    size = largest_activation(net)
    net.double()
    assert largest_activation(net) == size and chunk_sizes(net, 10, 100)[1] >= 1
