"""Canonizers: a network rewritten as the plain graph the LRP engine walks (docs/lrp.md, "One engine").

A graph is a list of nodes:
    Weighted(name, module, bn)   a Linear or Conv2d whose weights come from the stacked samples; a batch norm
                                 that follows it is merged into it (W' = W g / sqrt(v + eps), b' = beta + (b - m) g / sqrt(v + eps))
    Layer(name, module)          a parameter-free layer (activation, pooling, flatten, input normalisation)
    Residual(name, main, short)  out = main(a) + short(a): an explicit sum node that splits relevance in
                                 proportion to its two summands
A plain `nn.Sequential` net canonizes by itself (conv/linear + batch norm pairs merged); other nets by the
entry of their type in CANONIZERS, and blocks inside a Sequential by BLOCKS. Adding an architecture is one
canonizer here; adding a layer type is one row of `lrp.HANDLERS`.
"""
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..errors import UserError
from ..networks.architectures import BATCH_NORM_TYPES, cut_end
from ..networks.resnet import BasicBlock, ResNet20


@dataclass
class Weighted:
    name: str
    module: nn.Module
    bn: Optional[str] = None  # state prefix of the batch norm merged into this layer
    bn_eps: float = 1e-5

    def params(self, samples):
        """The stacked (S, ...) weight and bias of the layer, with its batch norm merged."""
        w, b = samples[f"{self.name}.weight"], samples.get(f"{self.name}.bias")
        return (w, b) if self.bn is None else merge_bn(w, samples, self.bn, self.bn_eps, bias=b)


@dataclass
class Layer:
    name: str
    module: nn.Module


@dataclass
class Residual:
    name: str
    main: list
    shortcut: Optional[nn.Module] = None  # None: the identity


class GlobalAvgPool(nn.Module):
    """The mean over the spatial axes (N, C, H, W) -> (N, C): a linear layer, explained by the z-rule."""

    def forward(self, x):
        return x.mean((2, 3))


def merge_bn(weight, bn_state, prefix, eps=1e-5, bias=None):
    """Fold an eval-mode batch norm into the preceding layer: (W', b'), on stacked (S, ...) tensors too.

    W' = W * gamma / sqrt(var + eps),  b' = beta + (b - mean) * gamma / sqrt(var + eps)  (b = 0 without a bias).
    """
    scale = bn_state[f"{prefix}.weight"] / torch.sqrt(bn_state[f"{prefix}.running_var"] + eps)
    w = weight * scale.view(*scale.shape, *[1] * (weight.dim() - scale.dim()))
    shift = -bn_state[f"{prefix}.running_mean"] if bias is None else bias - bn_state[f"{prefix}.running_mean"]
    return w, bn_state[f"{prefix}.bias"] + shift * scale


_BN_AFTER = {nn.Conv2d: nn.BatchNorm2d, nn.Linear: nn.BatchNorm1d}


def sequential(children):
    """Nodes of an ordered list of (name, module): weighted layers absorb the batch norm that follows them,
    blocks with an entry in BLOCKS expand to their graph."""
    nodes, children = [], list(children)
    i = 0
    while i < len(children):
        name, m = children[i]
        nxt = children[i + 1][1] if i + 1 < len(children) else None
        if type(m) in _BN_AFTER:
            if isinstance(nxt, _BN_AFTER[type(m)]):
                nodes.append(Weighted(name, m, children[i + 1][0], nxt.eps))
                i += 2
                continue
            nodes.append(Weighted(name, m))
        elif type(m) in BLOCKS:
            nodes += BLOCKS[type(m)](m, name)
        elif isinstance(m, BATCH_NORM_TYPES):
            raise UserError(f"LRP needs batch norm {name!r} right after a Linear or Conv2d, to merge it")
        else:
            nodes.append(Layer(name, m))
        i += 1
    return nodes


def basic_block(block, name):
    """A residual block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
    main = [Weighted(f"{name}.conv1", block.conv1, f"{name}.bn1", block.bn1.eps), Layer(f"{name}.relu1", nn.ReLU()),
            Weighted(f"{name}.conv2", block.conv2, f"{name}.bn2", block.bn2.eps)]
    short = None if isinstance(block.shortcut, nn.Identity) else block.shortcut
    return [Residual(name, main, short), Layer(f"{name}.relu", nn.ReLU())]


def resnet20(net, layer_idx):
    """ResNet-20, explained from its logits (its one explained layer, 38)."""
    if layer_idx not in (-1, *net.learnable_layers):
        raise UserError(f"ResNet-20 heatmaps start at the output (layer idx 38), not {layer_idx}")
    stem = [("normalize", net.normalize), ("conv1", net.conv1), ("bn1", net.bn1), ("relu", nn.ReLU())]
    blocks = [(f"blocks.{i}", b) for i, b in enumerate(net.blocks)]
    return sequential(stem + blocks) + [Layer("pool", GlobalAvgPool()), Weighted("linear", net.linear)]


def plain(net, layer_idx):
    """A Sequential net cut after learnable layer `layer_idx` and its activation (networks.cut_end)."""
    return sequential(list(net.named_children())[:cut_end(net, layer_idx)])


BLOCKS = {BasicBlock: basic_block}
CANONIZERS = {ResNet20: resnet20}


def canonize(net, layer_idx):
    """The graph of `net` explained at learnable layer `layer_idx` (-1: the output)."""
    return CANONIZERS.get(type(net), plain)(net, layer_idx)
