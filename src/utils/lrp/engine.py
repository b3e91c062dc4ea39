"""Layer-wise Relevance Propagation over stacked posterior samples (docs/lrp.md).

Every tensor carries a sample axis: activations are (S, N, ...), weights (S, ...). A deterministic net
is a one-sample posterior. The engine (`lrp`) walks the graph a canonizer makes of the cut network
(utils/lrp/canonizers.py: batch norms merged, residual sums as nodes), looking each node up in `HANDLERS`;
each rule is a small class next to its formula.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_input

from . import COMPAT, LRP_METHODS, RULES  # noqa: F401 (re-exported)
from .canonizers import GlobalAvgPool, Residual, Weighted, canonize
from ..networks.architectures import ACTIVATION_TYPES, chunk_sizes, cut_end
from ..networks.posterior import n_stored, sample_chunks
from ..networks.resnet import Normalize, ResNet20


def stabilize(z, eps, zero_sign=1.0):
    """z + eps * sign(z), with sign(0) = zero_sign (+1 by default; the reference takes -1)."""
    out = z.sign()
    out.masked_fill_(z == 0, zero_sign)
    return out.mul_(eps).add_(z)


# ----------------------------------------------------------------------------------------------
# Linear and convolutional layers over stacked samples: z = a W^T + b, and the transpose W^T s.
class StackedLinear:
    def __init__(self, module):
        self.module = module

    def forward(self, a, w, b):
        if a.shape[0] == 1 and w.shape[0] > 1:  # input shared by every sample: one large GEMM
            s, out_f, n = w.shape[0], w.shape[1], a.shape[1]
            out = (a[0] @ w.reshape(s * out_f, -1).T).view(n, s, out_f).transpose(0, 1)
        else:
            out = torch.bmm(a.expand(w.shape[0], *a.shape[1:]), w.transpose(1, 2))
        return out if b is None else out + b.unsqueeze(1)

    def backward(self, a, w, s):
        return torch.bmm(s, w)


class StackedConv2d:
    def __init__(self, module):
        m = module
        self.kw = {"stride": m.stride, "padding": m.padding, "dilation": m.dilation, "groups": m.groups}

    def forward(self, a, w, b):  # one batched convolution per sample: faster than grouped convs on CPU
        return torch.stack([F.conv2d(a[j if len(a) > 1 else 0], w[j], None if b is None else b[j], **self.kw)
                            for j in range(len(w))])

    def backward(self, a, w, s):
        return torch.stack([conv2d_input(a[0].shape, w[j], s[j], **self.kw) for j in range(len(w))])


# ----------------------------------------------------------------------------------------------
# Rules: R_in from the layer input a, its weights and the relevance R of its output.
class Epsilon:
    """R_in = a * W^T (R / (z + eps * sign(z))),  z = a W^T + b  (the bias absorbs relevance)."""

    def __init__(self, eps=0.1, zero_sign=1.0):
        self.eps, self.zero_sign = eps, zero_sign

    def __call__(self, layer, a, w, b, z, r):
        s = r / stabilize(z, self.eps, self.zero_sign)
        return a * layer.backward(a, w, s)


class Gamma:
    """R_in = a * W'^T (R / z'),  W' = W + gamma W+,  b' = b + gamma b+,  z' = a W'^T + b' (stabilised by 1e-6).

    `reference=True` gives the reference's w + gamma * w * w+ (and the same on the bias), stabiliser 1e-10.
    """

    def __init__(self, gamma=0.1, reference=False):
        self.gamma, self.reference = gamma, reference

    def modify(self, t):
        if t is None:
            return None
        return t + self.gamma * (t * t.clamp(min=0) if self.reference else t.clamp(min=0))

    def __call__(self, layer, a, w, b, z, r):
        w2, b2 = self.modify(w), self.modify(b)
        z2 = layer.forward(a, w2, b2)
        s = r / stabilize(z2, 1e-10 if self.reference else 1e-6, -1.0 if self.reference else 1.0)
        return a * layer.backward(a, w2, s)


class AlphaBeta:
    """alpha = 1, beta = 0:  Z = W+ a+ + W- a-  (no bias),  R_in = a+ * W+^T (R / Z) + a- * W-^T (R / Z).

    Both products are the positive contributions (LeakyReLU passes small negative inputs).
    `reference=True` stabilises by adding 1e-6 only where Z == 0, as the reference does.
    """

    def __init__(self, reference=False):
        self.reference = reference

    def __call__(self, layer, a, w, b, z, r):
        a_pos, a_neg = a.clamp(min=0), a.clamp(max=0)
        w_pos, w_neg = w.clamp(min=0), w.clamp(max=0)
        big_z = layer.forward(a_pos, w_pos, None) + layer.forward(a_neg, w_neg, None)
        big_z = big_z + 1e-6 * (big_z == 0) if self.reference else stabilize(big_z, 1e-6)
        s = r / big_z
        return a_pos * layer.backward(a_pos, w_pos, s) + a_neg * layer.backward(a_neg, w_neg, s)


def make_rule(name, compat="default"):
    ref = compat == "reference"
    if name == "epsilon":
        return Epsilon(0.1, zero_sign=-1.0 if ref else 1.0)
    if name == "gamma":
        return Gamma(0.1, reference=ref)
    if name == "alpha1beta0":
        return AlphaBeta(reference=ref)
    raise ValueError(f"unknown rule {name!r}")


# ----------------------------------------------------------------------------------------------
# The engine: one handler per node or layer type, over the graph a canonizer makes of the net.
def _per_sample(module, a):
    """Apply a parameter-free module to (S, N, ...) by folding the sample axis into the batch."""
    out = module(a.reshape(-1, *a.shape[2:]))
    return out.reshape(a.shape[0], a.shape[1], *out.shape[1:])


def _stacked(module):
    return StackedLinear(module) if isinstance(module, nn.Linear) else StackedConv2d(module)


def _zrule(module, a, r, eps):
    """R_in = a * d(module)/da^T (R / z): the z-rule of a parameter-free linear map (pooling, a shortcut)."""
    with torch.enable_grad():
        a_g = a.detach().requires_grad_(True)
        z_g = _per_sample(module, a_g)
        return a * torch.autograd.grad(z_g, a_g, r / stabilize(z_g.detach(), eps))[0]


class _Weighted:
    """Linear and Conv2d (a batch norm merged in): the rule."""
    @staticmethod
    def forward(node, a, samples):
        layer, (w, b) = _stacked(node.module), node.params(samples)
        return layer.forward(a, w, b), (layer, w, b)

    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        layer, w, b = ctx
        return walk.rule(layer, a, w, b, z, r)


class _Residual:
    """out = main(a) + shortcut(a): each summand receives R * summand / out."""
    @staticmethod
    def forward(node, a, samples):
        trace = []
        z_main = _forward(node.main, samples, a, trace)
        short = a if node.shortcut is None else _per_sample(node.shortcut, a)
        return z_main + short, (trace, z_main, short)

    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        trace, z_main, short = ctx
        den = stabilize(z, 1e-9)
        r_main, r_short = r * z_main / den, r * short / den
        if node.shortcut is not None:
            r_short = _zrule(node.shortcut, a, r_short, 1e-9)
        return _backward(walk, trace, r_main) + r_short


class _Layer:
    """A parameter-free layer, forward per sample; subclasses say how relevance passes it."""
    @staticmethod
    def forward(node, a, samples):
        return _per_sample(node.module, a), None


class _Pass(_Layer):
    """Activations and the input normalisation: relevance passes unchanged (the reference, at an activation:
    its gradient)."""
    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        if walk.compat == "reference" and isinstance(node.module, ACTIVATION_TYPES):
            with torch.enable_grad():
                a_g = a.detach().requires_grad_(True)
                return torch.autograd.grad(_per_sample(node.module, a_g), a_g, r)[0]
        return r


class _MaxPool(_Layer):
    """Winner takes all: the gradient of max, as a scatter-add onto each window's winner."""
    @staticmethod
    def forward(node, a, samples):
        m = node.module
        out, idx = F.max_pool2d(a.reshape(-1, *a.shape[2:]), m.kernel_size, m.stride, m.padding, m.dilation,
                                m.ceil_mode, return_indices=True)
        return out.reshape(a.shape[0], a.shape[1], *out.shape[1:]), idx

    @staticmethod
    def backward(walk, node, a, z, idx, r):
        if idx.shape[0] != a.shape[0] * a.shape[1]:  # pooled once for a shared input
            idx = idx.repeat(a.shape[0], *[1] * (idx.dim() - 1))
        flat = a.reshape(-1, *a.shape[2:])
        out = torch.zeros_like(flat).flatten(2)
        out.scatter_add_(2, idx.flatten(2), r.reshape(idx.shape).flatten(2).to(out.dtype))
        return out.view(a.shape)


class _AvgPool(_Layer):
    """Average pooling: a linear layer, the z-rule."""
    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        return _zrule(node.module, a, r, 1e-6)


class _GlobalAvgPool(_Layer):
    """The spatial mean: R_in = a * (1 / HW) * R / z."""
    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        return a * (r / stabilize(z, 1e-9))[..., None, None] / (a.shape[3] * a.shape[4])


class _Flatten(_Layer):
    @staticmethod
    def backward(walk, node, a, z, ctx, r):
        return r.reshape(r.shape[0], r.shape[1], *a.shape[2:])


# Layer type -> handler: a new layer type is one row here (and, if it needs a rewrite, one canonizer).
HANDLERS = {
    ACTIVATION_TYPES: _Pass,
    Normalize: _Pass,
    nn.MaxPool2d: _MaxPool,
    nn.AvgPool2d: _AvgPool,
    GlobalAvgPool: _GlobalAvgPool,
    nn.Flatten: _Flatten,
}


def _handler(node):
    if isinstance(node, Weighted):
        return _Weighted
    if isinstance(node, Residual):
        return _Residual
    for types, handler in HANDLERS.items():
        if isinstance(node.module, types):
            return handler
    raise TypeError(f"no LRP rule for layer type {type(node.module).__name__} ({node.name}); add one to lrp.HANDLERS")


def _forward(nodes, samples, a, trace):
    """Run the graph over (S or 1, N, ...) activations, recording (node, input, output, context) per node."""
    for node in nodes:
        z, ctx = _handler(node).forward(node, a, samples)
        trace.append((node, a, z, ctx))
        a = z
    return a


def _backward(walk, trace, r):
    for node, a, z, ctx in reversed(trace):
        if not isinstance(node, Weighted) and a.shape[0] != r.shape[0]:  # a shared input before the first
            a = a.expand(r.shape[0], *a.shape[1:])                          # weighted layer (which broadcasts it)
        r = _handler(node).backward(walk, node, a, z, ctx, r)
    return r


@dataclass(frozen=True)
class _Walk:
    rule: object
    compat: str


def seed_relevance(out, compat="default", target=None):
    """The initial relevance at the explained layer's output: 1 at its single most active unit.

    `target` (S, N) fixes the unit (flattened index) instead. With compat="reference", a 4-D
    (conv) output gets the reference's per-channel-count map: every position of channel c receives
    the number of positions whose arg-max channel is c (docs/lrp.md).
    """
    if compat == "reference" and out.dim() == 5 and target is None:
        winners = out.argmax(2)  # (S, N, H, W)
        counts = F.one_hot(winners.flatten(2), out.shape[2]).sum(2).to(out.dtype)  # (S, N, C)
        return counts[..., None, None].expand_as(out).clone()
    flat = out.flatten(2)
    idx = flat.argmax(-1) if target is None else target.expand(flat.shape[0], -1)
    seed = torch.zeros_like(flat)
    seed.scatter_(-1, idx.unsqueeze(-1), 1.0)
    return seed.view_as(out)


def lrp(net, samples, x, layer_idx, rule="epsilon", compat="default", target=None):
    """Per-sample LRP heatmaps (S, N, *input_shape) at learnable layer `layer_idx`.

    The network is canonized and cut after layer L and its activation (the last learnable layer gives the
    logits), and each sample explains its own most active output unit (or `target`, flattened indices (S, N)).
    `x` is (N, ...) shared by every sample, or (S, N, ...) with one input batch per sample.
    """
    rule_fn = make_rule(rule, compat) if isinstance(rule, str) else rule
    if compat == "reference" and type(net) in REFERENCE_WALKS:
        return REFERENCE_WALKS[type(net)](net, samples, x, rule_fn, target)
    a = x if x.dim() == len(net.input_shape) + 2 else x.unsqueeze(0)  # (1, N, ...) when shared
    trace = []
    with torch.no_grad():
        out = _forward(canonize(net, layer_idx), samples, a, trace)
        r = _backward(_Walk(rule_fn, compat), trace, seed_relevance(out, compat, target))
    return r.detach()


def _resnet_reference(net, samples, x, rule_fn, target=None):
    """The reference's ResNet walk: the rule at the last linear and the first conv, plain gradients in between
    (through the batch norms, blocks and pooling), one sample at a time."""
    from torch.func import functional_call
    out = []
    for j in range(n_stored(samples)):
        with torch.enable_grad():
            a0 = net.normalize(x[j] if x.dim() == 5 else x)
            p = {k: v[j] for k, v in samples.items()}
            body = {k[len("blocks."):]: v for k, v in p.items() if k.startswith("blocks.")}
            z0 = F.conv2d(a0, p["conv1.weight"], padding=1).requires_grad_(True)
            h = F.relu(F.batch_norm(z0, p["bn1.running_mean"], p["bn1.running_var"], p["bn1.weight"], p["bn1.bias"]))
            feat = functional_call(net.blocks, body, (h,)).mean((2, 3))
            logits = feat.detach() @ p["linear.weight"].T + p["linear.bias"]
            top = logits.argmax(1) if target is None else target[min(j, len(target) - 1)]
            seed = F.one_hot(top, logits.shape[1]).to(logits.dtype)
            r_feat = rule_fn(StackedLinear(net.linear), feat.detach()[None], p["linear.weight"][None],
                             p["linear.bias"][None], logits[None], seed[None])[0]
            (g,) = torch.autograd.grad(feat, z0, r_feat)
        out.append(rule_fn(StackedConv2d(net.conv1), a0[None], p["conv1.weight"][None], None, z0.detach()[None], g[None])[0])
    return torch.stack(out).detach()


REFERENCE_WALKS = {ResNet20: _resnet_reference}


def lrp_chunked(net, samples, x, layer_idx, rule="epsilon", compat="default", method="avg_heatmap",
                budget_mb=512, progress=None):
    """The (S-averaged) heatmaps (N, *input_shape) of n stacked samples, in memory-bounded chunks.

    avg_heatmap: mean over samples of each sample's own heatmap (each explains its own top unit).
    avg_prediction: every sample explains the top unit of the posterior-mean output.
    Also accepts per-sample inputs x of shape (S, N, ...).
    """
    s_total = n_stored(samples)
    per_sample_x = x.dim() == len(net.input_shape) + 2
    n_images = x.shape[1] if per_sample_x else x.shape[0]
    s_chunk, i_chunk = chunk_sizes(net, s_total, n_images, budget_mb)
    out = torch.zeros((n_images, *net.input_shape), dtype=x.dtype)
    for i in range(0, n_images, i_chunk):
        xb = x[:, i:i + i_chunk] if per_sample_x else x[i:i + i_chunk]
        target = None
        if method == "avg_prediction":
            target = _common_target(net, samples, xb, layer_idx, s_chunk)
        for start, chunk in sample_chunks(samples, s_chunk):
            xs = xb[start:start + s_chunk] if per_sample_x else xb
            t = None if target is None else target.expand(n_stored(chunk), -1)
            out[i:i + i_chunk] += lrp(net, chunk, xs, layer_idx, rule, compat, t).sum(0).cpu()
            if progress:
                progress.update(n_stored(chunk) * xb.shape[-4])
    return out / s_total


def per_sample_heatmaps(net, samples, x, layer_idx, rule="epsilon", compat="default", budget_mb=512):
    """All per-sample heatmaps (S, N, ...) of shared images x (N, ...), chunked (for prefix means)."""
    s_total = n_stored(samples)
    s_chunk, i_chunk = chunk_sizes(net, s_total, len(x), budget_mb)
    out = torch.empty((s_total, *x.shape), dtype=x.dtype)
    for i in range(0, len(x), i_chunk):
        for start, chunk in sample_chunks(samples, s_chunk):
            out[start:start + s_chunk, i:i + i_chunk] = lrp(net, chunk, x[i:i + i_chunk], layer_idx, rule, compat).cpu()
    return out


def _common_target(net, samples, x, layer_idx, s_chunk):
    """The flattened index of the most active unit of the posterior-mean output of the cut net, (1, N):
    at the output layer the class of the predictive mean (probabilities averaged over samples), at a
    hidden layer the largest mean activation."""
    from ..training.bayesian import per_sample_logits
    if layer_idx in (-1, net.learnable_layers[-1]):  # explained at the output
        cut, output = net, True
    else:
        cut, output = net[:cut_end(net, layer_idx)], False
        cut.input_shape = net.input_shape
    total = 0
    with torch.no_grad():
        for start, chunk in sample_chunks(samples, s_chunk):
            chunk = {k: v for k, v in chunk.items() if k.split(".")[0] in cut._modules}
            xs = x[start:start + s_chunk] if x.dim() == len(net.input_shape) + 2 else x
            out = per_sample_logits(cut, chunk, xs)
            total = total + (out.softmax(-1) if output else out).flatten(2).sum(0)
    return (total / n_stored(samples)).argmax(-1).unsqueeze(0)
