"""CIFAR-10 ResNet-20 (He et al. 2016, option-A shortcuts; README, "CIFAR-10") and LRP through it.

The per-channel normalisation lives inside the model, so attacks work in [0, 1] pixel space. For LRP
each convolution is merged with its batch norm, residual additions split relevance in proportion to
their two inputs, and global average pooling is a linear layer (z-rule).
"""
import torch
import torch.nn.functional as F
from torch import nn

from .lrp import StackedConv2d, StackedLinear, make_rule, stabilize
from .posterior import n_stored

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def shortcut_a(x, planes):
    """Option A: subsample by 2 and zero-pad the new channels (no parameters)."""
    pad = planes // 4
    return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = stride != 1 or in_planes != planes
        self.planes = planes

    def shortcut(self, x):
        return shortcut_a(x, self.planes) if self.downsample else x

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    input_shape = (3, 32, 32)
    # floats held per image and sample by LRP and input gradients, in units of the largest activation
    # (the residual trace keeps ~34 activations): sizes the memory-bounded chunks (networks.chunk_sizes)
    activation_factor = 48

    def __init__(self, num_blocks=(3, 3, 3), num_classes=10):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride, n in zip((16, 32, 64), (1, 2, 2), num_blocks):
            for s in [stride] + [1] * (n - 1):
                blocks.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(self.normalize(x))))
        out = self.blocks(out)
        return self.linear(out.mean((2, 3)))

    @property
    def learnable_layers(self):
        return [38]  # the reference's label for the output layer (relevance starts at the logits)

    def lrp(self, params, x, layer_idx, rule="epsilon", compat="default", target=None):
        """The LRP engine's entry point (utils.lrp.lrp dispatches here): relevance from the logits."""
        if layer_idx not in self.learnable_layers:
            raise ValueError(f"ResNet-20 heatmaps start at the output (layer idx 38), not {layer_idx}")
        return lrp_resnet(self, params, x, rule, compat, target)


def build_resnet20(seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet20()


def merge_bn(weight, bn_state, prefix, eps=1e-5):
    """Fold an eval-mode batch norm into the preceding bias-free convolution: (W', b').

    W' = W * gamma / sqrt(var + eps),  b' = beta - mean * gamma / sqrt(var + eps); works on stacked (S, ...) too.
    """
    scale = bn_state[f"{prefix}.weight"] / torch.sqrt(bn_state[f"{prefix}.running_var"] + eps)
    w = weight * scale.view(*scale.shape, 1, 1, 1)
    b = bn_state[f"{prefix}.bias"] - bn_state[f"{prefix}.running_mean"] * scale
    return w, b


def _conv_bn(params, conv, bn, module):
    """Stacked (S, ...) merged weights of conv + bn."""
    return merge_bn(params[f"{conv}.weight"], params, bn, module.eps)


def lrp_resnet(net, params, x, rule="epsilon", compat="default", target=None):
    """Per-sample LRP heatmaps (S, N, 3, 32, 32) of a ResNet-20 from its top logit, over stacked params.

    `params` holds (S, ...) stacks of every state_dict entry (weights, BN statistics); `x` is (N, ...)
    shared by the samples or (S, N, ...); `target` (S, N) fixes the explained class. Relevance passes
    the input normalisation and the ReLUs unchanged. With compat="reference" only the first conv and
    the last linear use the rule and relevance flows as a plain gradient in between, as the reference.
    """
    if compat == "reference":
        return _lrp_resnet_reference(net, params, x, rule, target)
    rule_fn = make_rule(rule) if isinstance(rule, str) else rule
    conv = lambda m: StackedConv2d(m)  # noqa: E731
    a0 = _fold(net.normalize, x) if x.dim() == 5 else net.normalize(x).unsqueeze(0)  # (1, N, ...) when shared
    w, b = _conv_bn(params, "conv1", "bn1", net.bn1)
    z0 = conv(net.conv1).forward(a0, w, b)
    h = F.relu(z0)
    trace = []  # per block: (input, conv1 pre-act, hidden, conv2 pre-act, shortcut, sum)
    for i, block in enumerate(net.blocks):
        p = f"blocks.{i}"
        w1, b1 = _conv_bn(params, f"{p}.conv1", f"{p}.bn1", block.bn1)
        z1 = conv(block.conv1).forward(h, w1, b1)
        h1 = F.relu(z1)
        w2, b2 = _conv_bn(params, f"{p}.conv2", f"{p}.bn2", block.bn2)
        z2 = conv(block.conv2).forward(h1, w2, b2)
        sc = _fold(lambda t: block.shortcut(t), h)
        total = z2 + sc
        trace.append((h, z1, h1, z2, sc, total, (w1, b1), (w2, b2)))
        h = F.relu(total)
    pooled = h.mean((3, 4))
    logits = StackedLinear(net.linear).forward(pooled, params["linear.weight"], params["linear.bias"])
    top = logits.argmax(-1) if target is None else target.expand(logits.shape[:2])
    seed = torch.zeros_like(logits).scatter_(-1, top.unsqueeze(-1), 1.0)
    r = rule_fn(StackedLinear(net.linear), pooled, params["linear.weight"], params["linear.bias"], logits, seed)
    # global average pooling as a linear layer: R_in = a * (1/HW) * R / z
    hw = h.shape[3] * h.shape[4]
    r = h * (r / stabilize(pooled, 1e-9))[..., None, None] / hw
    for (h_in, z1, h1, z2, sc, total, (w1, b1), (w2, b2)), block in zip(reversed(trace), reversed(list(net.blocks))):
        den = stabilize(total, 1e-9)
        r_main, r_short = r * z2 / den, r * sc / den  # split in proportion to the two summands
        r_h1 = rule_fn(conv(block.conv2), h1, w2, b2, z2, r_main)
        r_h = rule_fn(conv(block.conv1), h_in, w1, b1, z1, r_h1)
        if block.downsample:  # subsample + zero channels: route the relevance back to the kept positions
            h_g = h_in.detach().requires_grad_(True)
            out = _fold(lambda t: block.shortcut(t), h_g)
            r_short = h_in * torch.autograd.grad(out, h_g, r_short / stabilize(out.detach(), 1e-9))[0]
        r = r_h + r_short
    r = rule_fn(conv(net.conv1), a0, w, b, z0, r)
    return r.detach()


def _fold(fn, a):
    out = fn(a.reshape(-1, *a.shape[2:]))
    return out.reshape(a.shape[0], a.shape[1], *out.shape[1:])


def _lrp_resnet_reference(net, params, x, rule, target=None):
    """The reference's hybrid: the rule at the last linear and the first conv, plain gradients in between."""
    from torch.func import functional_call
    rule_fn = make_rule(rule, "reference")
    out = []
    for j in range(n_stored(params)):
        a0 = net.normalize(x[j] if x.dim() == 5 else x)
        p = {k: v[j] for k, v in params.items()}
        body = {k[len("blocks."):]: v for k, v in p.items() if k.startswith("blocks.")}
        z0 = F.conv2d(a0, p["conv1.weight"], padding=1).requires_grad_(True)
        h = F.relu(F.batch_norm(z0, p["bn1.running_mean"], p["bn1.running_var"], p["bn1.weight"], p["bn1.bias"]))
        feat = functional_call(net.blocks, body, (h,)).mean((2, 3))
        logits = feat.detach() @ p["linear.weight"].T + p["linear.bias"]
        top = logits.argmax(1) if target is None else target[min(j, len(target) - 1)]
        seed = F.one_hot(top, logits.shape[1]).to(logits.dtype)
        r_feat = rule_fn(StackedLinear(net.linear), feat.detach()[None], p["linear.weight"][None],
                         p["linear.bias"][None], logits[None], seed[None])[0]
        (g,) = torch.autograd.grad(feat, z0, r_feat)  # plain gradient through GAP, blocks, BN and ReLU
        out.append(rule_fn(StackedConv2d(net.conv1), a0[None], p["conv1.weight"][None], None, z0.detach()[None], g[None])[0])
    return torch.stack(out).detach()
