"""The paper's architectures as plain `nn.Sequential` nets, and the layer-cut convention.

A network's children are indexed as in the reference (docs/pipeline.md, "Settings"): fc2 has its learnable
layers at children 1, 3, 5 and the MNIST conv net at 0, 3, 7. `cut_at_layer` gives the sub-network
whose output LRP explains at a learnable layer.
"""
import itertools
from collections import OrderedDict

import torch
from torch import nn

from ..errors import UserError

INPUT_SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar": (3, 32, 32)}
N_CLASSES = 10
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky": lambda: nn.LeakyReLU(0.01),
    "sigm": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": lambda: nn.Softplus(beta=1),
}
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus)
LEARNABLE_TYPES = (nn.Linear, nn.Conv2d)
BATCH_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


class Net(nn.Sequential):
    """An `nn.Sequential` that knows its input shape and the indices of its learnable children."""

    def __init__(self, *layers, input_shape):
        super().__init__(*layers)
        self.input_shape = tuple(input_shape)

    def __getitem__(self, idx):
        if isinstance(idx, slice):  # a plain Sequential that keeps the child names ("1.weight", ...)
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    @property
    def learnable_layers(self):
        return [i for i, m in enumerate(self) if isinstance(m, LEARNABLE_TYPES)]


def _fc_stack(in_features, hidden, act, n_hidden_layers):
    layers = [nn.Flatten(), nn.Linear(in_features, hidden), act()]
    for _ in range(n_hidden_layers - 1):
        layers += [nn.Linear(hidden, hidden), act()]
    return layers + [nn.Linear(hidden, N_CLASSES)]


def _conv_body(dataset, hidden, act):
    if dataset == "cifar":  # 32 -> 28 -> 14 -> 10 -> 6 -> 5 (the reference's size 41472 was wrong)
        return [nn.Conv2d(3, 32, 5), act(), nn.MaxPool2d(2), nn.Conv2d(32, hidden, 5), act(),
                nn.Conv2d(hidden, hidden, 5), act(), nn.MaxPool2d(2, stride=1), nn.Flatten()]
    # 28 -> 24 -> 12 -> 8 -> 7 (MaxPool with stride 1 at the end, as in the reference)
    return [nn.Conv2d(1, 16, 5), act(), nn.MaxPool2d(2), nn.Conv2d(16, hidden, 5), act(),
            nn.MaxPool2d(2, stride=1), nn.Flatten()]


def _alexnet_body(channels, hidden, act):
    return [nn.Conv2d(channels, 64, 11, stride=4, padding=5), act(), nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 5, padding=2), act(), nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1), act(),
            nn.Conv2d(384, hidden, 3, padding=1), act(),
            nn.Conv2d(hidden, 128, 3, padding=1), act(), nn.MaxPool2d(2), nn.Flatten()]


def _flat_size(body, input_shape):
    with torch.no_grad():
        try:
            return nn.Sequential(*body)(torch.zeros(1, *input_shape)).shape[1]
        except RuntimeError as err:
            raise UserError(f"this architecture does not fit inputs of shape {input_shape}: {err}") from None


def _sized(build):
    """A builder of the architectures that take hidden_size and activation: build(dataset, shape, hidden, act)."""
    def make(settings):
        shape = INPUT_SHAPES[settings["dataset"]]
        return Net(*build(settings["dataset"], shape, settings["hidden_size"], ACTIVATIONS[settings["activation"]]),
                   input_shape=shape)
    return make


def _with_head(body, shape):
    return body + [nn.Linear(_flat_size(body, shape), N_CLASSES)]


def _resnet20(settings):
    from .resnet import ResNet20
    return ResNet20()


# Architecture name -> builder(settings) -> net. A new architecture is one row here (and one canonizer in
# utils/lrp/canonizers.py if it is not a plain Sequential) plus a settings entry.
ARCHITECTURES = {
    "fc2": _sized(lambda dataset, shape, hidden, act: _fc_stack(shape[0] * shape[1] * shape[2], hidden, act, 2)),
    "fc3": _sized(lambda dataset, shape, hidden, act: _fc_stack(shape[0] * shape[1] * shape[2], hidden, act, 4)),
    "conv": _sized(lambda dataset, shape, hidden, act: _with_head(_conv_body(dataset, hidden, act), shape)),
    "alexnet": _sized(lambda dataset, shape, hidden, act: _with_head(_alexnet_body(shape[0], hidden, act), shape)),
    "resnet20": _resnet20,
}


def build_network(settings):
    """The architecture of a settings entry (model_settings.py), with its default initialisation."""
    build = ARCHITECTURES.get(settings["architecture"])
    if build is None:
        raise UserError(f"unknown architecture {settings['architecture']!r} in src/utils/model_settings.py; choose one "
                        f"of {', '.join(ARCHITECTURES)} (networks.ARCHITECTURES)")
    return build(settings)


def build_seeded(settings, seed):
    """`build_network` with its initial weights drawn from `seed`, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_network(settings)


def cut_end(net, layer_idx):
    """The slice end of the sub-network explained at learnable layer `layer_idx`.

    The cut falls after layer L, its batch norm if any, and its activation (the reference shifts the index twice, which has
    this effect: docs/pipeline.md); the last learnable layer gives the whole net (the logits).
    `layer_idx=-1` also means the whole net.
    """
    learnable = net.learnable_layers
    if layer_idx == -1 or layer_idx == learnable[-1]:
        return len(net)
    if layer_idx not in learnable:
        raise UserError(f"layer_idx {layer_idx} is not a learnable layer of this network (learnable: {learnable})")
    end = layer_idx + 1
    for types in (BATCH_NORM_TYPES, ACTIVATION_TYPES):  # its batch norm (merged into it for LRP), its activation
        if end < len(net) and isinstance(net[end], types):
            end += 1
    return end


def cut_at_layer(net, layer_idx):
    return net[:cut_end(net, layer_idx)]


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


def probe_input(net):
    """One zero image (1, *input_shape) on the device and in the dtype of the net's first parameter or buffer."""
    first = next(itertools.chain(net.parameters(), net.buffers()), None)
    like = {"device": first.device, "dtype": first.dtype} if first is not None else {}
    return torch.zeros(1, *net.input_shape, **like)


def largest_activation(net):
    """The largest number of floats one image produces at any layer (sizes memory-bounded batches)."""
    sizes = [int(torch.Size(net.input_shape).numel())]
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel()))
             for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            was_training = net.training
            net.eval()
            net(probe_input(net))
            net.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return max(sizes)


def chunk_sizes(net, n_samples, n_images, budget_mb=512):
    """(sample chunk, image chunk) keeping one forward/backward block within about budget_mb."""
    per_image = largest_activation(net) * 4 * getattr(net, "activation_factor", 3)  # activation, gradient, slack
    images = max(1, min(n_images, int(budget_mb * 2**20 // per_image)))
    samples = max(1, min(n_samples, int(budget_mb * 2**20 // (per_image * images))))
    return samples, images


def images_per_chunk(net, n_samples, budget_mb=256, grad=False):
    """How many images to process at once with n_samples stacked samples within ~budget_mb per activation."""
    per_image = largest_activation(net) * 4 * n_samples * (getattr(net, "activation_factor", 3) if grad else 1)
    return max(1, int(budget_mb * 2**20 // per_image))
