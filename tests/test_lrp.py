import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite
from zennit.core import BasicHook, Stabilizer
from zennit.rules import AlphaBeta, Epsilon, GammaMod, Pass

from utils.training.bayesian import sample_mean_field
from utils.lrp.engine import Epsilon as OurEpsilon, lrp, lrp_chunked, per_sample_heatmaps
from utils.model_settings import get_settings
from utils.networks.store import as_posterior
from utils.networks.architectures import Net, build_seeded, cut_end
from utils.training.recipes import train_network


def classic_gamma(gamma=0.1):
    """Zennit's BasicHook with one GammaMod: the classic rule w + gamma * w+ (docs/lrp.md)."""
    stab = Stabilizer.ensure(1e-6)
    return BasicHook(input_modifiers=[lambda x: x], param_modifiers=[GammaMod(gamma, min=0.)],
                     output_modifiers=[lambda o: o],
                     gradient_mapper=lambda grad, outputs: [grad / stab(outputs[0])],
                     reducer=lambda inputs, grads: inputs[0] * grads[0])


ZENNIT_RULES = {"epsilon": lambda: Epsilon(0.1), "gamma": classic_gamma,
                "alpha1beta0": lambda: AlphaBeta(1., 0., zero_params="bias")}


def zennit_heatmaps(net, x, layer_idx, rule):
    cut = net[:cut_end(net, layer_idx)]
    comp = LayerMapComposite(layer_map=[((nn.LeakyReLU, nn.ReLU), Pass()), ((nn.Linear, nn.Conv2d), ZENNIT_RULES[rule]())])
    with Gradient(cut, comp) as attributor:
        out = cut(x).flatten(1)
        seed = torch.zeros_like(out)
        seed[torch.arange(len(x)), out.argmax(1)] = 1
        _, rel = attributor(x, seed.view_as(cut(x)))
    return rel


@pytest.fixture(scope="module", params=[2, 0], ids=["fc2", "conv"])
def trained(request, mnist_small):
    net = build_seeded(get_settings("baseNN", request.param), 0)
    train_network(net, mnist_small[0][:2000], mnist_small[1][:2000], epochs=1, lr=1e-3, quiet=True, log=lambda _: None)
    return net.double().eval()


@pytest.mark.parametrize("rule", ["epsilon", "gamma", "alpha1beta0"])
def test_agrees_with_zennit_on_trained_nets(trained, mnist_test, rule):
    x = mnist_test[0][:8].double()
    for layer in (trained.learnable_layers[-1], trained.learnable_layers[1]):  # output and a hidden layer
        ours = lrp(trained, as_posterior(trained), x, layer, rule)[0]
        theirs = zennit_heatmaps(trained, x, layer, rule)
        assert ours.shape == x.shape
        assert torch.allclose(ours, theirs, atol=1e-10 * theirs.abs().max().item() + 1e-14), (layer, rule)


def test_strided_padded_conv_and_avgpool_agree_with_zennit():
    torch.manual_seed(0)
    net = Net(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(), nn.AvgPool2d(2), nn.Flatten(),
              nn.Linear(4 * 7 * 7, 10), input_shape=(1, 28, 28)).double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    ours = lrp(net, as_posterior(net), x, 4, "epsilon")[0]
    comp = LayerMapComposite(layer_map=[((nn.LeakyReLU,), Pass()), ((nn.Linear, nn.Conv2d), Epsilon(0.1)),
                                        ((nn.AvgPool2d,), Epsilon(1e-6))])
    with Gradient(net, comp) as attributor:
        out = net(x)
        _, rel = attributor(x, torch.nn.functional.one_hot(out.argmax(1), 10).double())
    assert torch.allclose(ours, rel, atol=1e-12)


def bn_net():
    """A small conv net with batch norms after a conv and after a linear layer, statistics made non-trivial;
    eps = 0, as Zennit's merged batch norm still divides by sqrt(1 + eps)."""
    torch.manual_seed(1)
    net = Net(nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
              nn.Linear(6 * 12 * 12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10), input_shape=(1, 28, 28))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.1, 0.1)
                m.eps = 0.0
    return net.double().eval()


@pytest.mark.parametrize("rule", ["epsilon", "gamma", "alpha1beta0"])
def test_batch_norm_canonizer_agrees_with_zennit(mnist_test, rule):
    """Batch norm merged into the conv or linear layer before it, at the output and at a hidden layer
    (the cut keeps a layer's batch norm and activation), against Zennit's SequentialMergeBatchNorm."""
    from zennit.canonizers import SequentialMergeBatchNorm
    net = bn_net()
    x = mnist_test[0][:4].double()
    for layer in (8, 5):
        cut = net[:cut_end(net, layer)]
        assert isinstance(cut[-1], nn.ReLU) or layer == 8
        ours = lrp(net, as_posterior(net), x, layer, rule)[0]
        comp = LayerMapComposite(layer_map=[((nn.ReLU,), Pass()), ((nn.Linear, nn.Conv2d), ZENNIT_RULES[rule]())],
                                 canonizers=[SequentialMergeBatchNorm()])
        with Gradient(cut, comp) as attributor:
            out = cut(x)
            seed = torch.nn.functional.one_hot(out.argmax(1), out.shape[1]).double()
            _, theirs = attributor(x, seed)
        assert torch.allclose(ours, theirs, atol=1e-10 * theirs.abs().max().item()), (layer, rule)


def test_a_layer_without_a_handler_is_named():
    net = Net(nn.Flatten(), nn.Linear(4, 3), nn.Hardtanh(), nn.Linear(3, 2), input_shape=(1, 2, 2))
    with pytest.raises(TypeError, match="Hardtanh.*lrp.HANDLERS"):
        lrp(net, as_posterior(net), torch.rand(2, 1, 2, 2), -1)


@pytest.mark.parametrize("idx", [2, 0])
def test_relevance_is_conserved_with_zero_biases(idx, mnist_test):
    net = build_seeded(get_settings("baseNN", idx), 0).double()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.zero_()
    x = mnist_test[0][:5].double()
    for layer in net.learnable_layers:
        heat = lrp(net, as_posterior(net), x, layer, OurEpsilon(1e-12))[0]
        assert torch.allclose(heat.flatten(1).sum(1), torch.ones(5, dtype=torch.float64), atol=1e-6), layer


@pytest.mark.parametrize("idx", [2, 0])
@pytest.mark.parametrize("rule", ["epsilon", "alpha1beta0"])
def test_batched_bayesian_heatmaps_equal_a_per_image_per_sample_loop(idx, rule, mnist_test):
    net = build_seeded(get_settings("fullBNN", idx), 0)
    samples = sample_mean_field({k: (v, torch.full_like(v, 0.02)) for k, v in net.state_dict().items()}, 4, 0)
    x = mnist_test[0][:6]
    layer = net.learnable_layers[1]
    batched = lrp_chunked(net, samples, x, layer, rule, budget_mb=0.5)  # several image and sample chunks
    loop = torch.zeros_like(batched)
    for i in range(len(x)):
        for j in range(4):
            net.load_state_dict({k: v[j] for k, v in samples.items()})
            loop[i] += lrp(net, as_posterior(net), x[i:i + 1], layer, rule)[0, 0] / 4
    assert torch.allclose(batched, loop, atol=1e-6 * loop.abs().max().item())


def test_avg_prediction_explains_the_common_top_unit(mnist_test):
    net = build_seeded(get_settings("fullBNN", 2), 0)
    same = {k: v.repeat(3, *[1] * (v.dim() - 1)) for k, v in as_posterior(net).items()}
    x = mnist_test[0][:4]
    a = lrp_chunked(net, same, x, 5, method="avg_prediction")
    b = lrp_chunked(net, same, x, 5, method="avg_heatmap")
    assert torch.allclose(a, b, atol=1e-6)  # identical samples: the common top unit is each one's top unit


def test_prefix_means_of_clean_per_sample_maps(mnist_test):
    net = build_seeded(get_settings("fullBNN", 2), 0)
    samples = sample_mean_field({k: (v, torch.full_like(v, 0.02)) for k, v in net.state_dict().items()}, 10, 0)
    x = mnist_test[0][:5]
    per_sample = per_sample_heatmaps(net, samples, x, 3)
    assert per_sample.shape == (10, 5, 1, 28, 28)
    for n in (3, 10):
        assert torch.allclose(per_sample[:n].mean(0), lrp_chunked(net, {k: v[:n] for k, v in samples.items()}, x, 3),
                              atol=1e-7)


def test_reference_compat_on_a_hand_checkable_net():
    """x = (1, 2); hidden h = LeakyReLU(W1 x); output y = W2 h. Numbers worked out by hand."""
    net = Net(nn.Flatten(), nn.Linear(2, 2), nn.LeakyReLU(0.01), nn.Linear(2, 1), input_shape=(1, 1, 2)).double()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, 1.0], [1.0, -2.0]]))
        net[1].bias.zero_()
        net[3].weight.copy_(torch.tensor([[2.0, 1.0]]))
        net[3].bias.zero_()
    x = torch.tensor([[[[1.0, 2.0]]]], dtype=torch.float64)
    params = as_posterior(net)
    # z1 = (3, -3), h = (3, -0.03); y = 5.97. Epsilon 0.1 at the output: R_h = h * w2 / (y + 0.1)
    r_h = torch.tensor([3 * 2, -0.03 * 1]) / 6.07
    # default: relevance passes LeakyReLU unchanged; reference: times the gradient (1, 0.01)
    for compat, r_z in (("default", r_h), ("reference", r_h * torch.tensor([1.0, 0.01]))):
        s = r_z / torch.tensor([3 + 0.1, -3 - 0.1])
        expected = torch.tensor([1.0, 2.0]) * (torch.tensor([[1.0, 1.0], [1.0, -2.0]]).T @ s)
        got = lrp(net, params, x, 3, "epsilon", compat)[0, 0, 0, 0]
        assert torch.allclose(got, expected.double(), atol=1e-12), compat
    # gamma: reference w + g*w*w+ = (w=2 -> 2.4), default w + g*w+ = (w=2 -> 2.2); check the output layer alone
    h = torch.tensor([3.0, -0.03], dtype=torch.float64)
    for compat, w2 in (("default", torch.tensor([2.2, 1.1])), ("reference", torch.tensor([2.4, 1.1]))):
        cut_net = Net(nn.Flatten(), nn.Linear(2, 1), input_shape=(1, 1, 2)).double()
        with torch.no_grad():
            cut_net[1].weight.copy_(torch.tensor([[2.0, 1.0]]))
            cut_net[1].bias.zero_()
        got = lrp(cut_net, as_posterior(cut_net), h.view(1, 1, 1, 2), 1, "gamma", compat)[0, 0, 0, 0]
        expected = h * w2.double() / (h @ w2.double())
        assert torch.allclose(got, expected, atol=1e-9), compat


def test_reference_compat_conv_seed_counts_argmax_channels():
    from utils.lrp.engine import seed_relevance
    out = torch.zeros(1, 1, 3, 2, 2)
    out[0, 0, 0, 0, 0] = out[0, 0, 0, 0, 1] = out[0, 0, 0, 1, 0] = 1.0  # channel 0 wins 3 positions
    out[0, 0, 2, 1, 1] = 1.0  # channel 2 wins 1
    seed = seed_relevance(out, "reference")
    assert torch.equal(seed[0, 0, :, 0, 0], torch.tensor([3.0, 0.0, 1.0])) and (seed[0, 0, 0] == 3).all()
    default = seed_relevance(out)
    assert default.sum() == 1 and default[0, 0, 0, 0, 0] == 1
