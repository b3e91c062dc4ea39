"""Seconds per training epoch (60k MNIST images, batch 128) for baseNN and advNN, fc2 and conv,
and the speed-up of batched adversarial training over the reference's per-image FGSM loop.

Each figure is measured on a few batches and scaled to the 469 batches of an epoch.
    python benchmarks/bench_training.py [--batches 10]
"""
import argparse

import torch
import torch.nn.functional as F

from common import header, timed
from utils.attacks.gradient import fgsm
from utils.data.datasets import load_dataset
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.paths import data_root

BATCHES_PER_EPOCH = 469


def per_image_fgsm(net, x, y, eps):
    """The reference's loop: one forward/backward per image."""
    out = []
    for i in range(len(x)):
        xi = x[i:i + 1].clone().requires_grad_(True)
        F.cross_entropy(net(xi), y[i:i + 1]).backward()
        out.append((x[i:i + 1] + eps * xi.grad.sign()).clamp(0, 1))
    net.zero_grad(set_to_none=True)
    return torch.cat(out)


def steps(net, x, y, n_batches, attack):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def run():
        for b in range(n_batches):
            xb, yb = x[b * 128:(b + 1) * 128], y[b * 128:(b + 1) * 128]
            if attack is not None:
                net.eval()
                xb = attack(net, xb, yb, 0.2)
                net.train()
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, default=20)
    args = p.parse_args()
    x, y = load_dataset("mnist", data_root(), train=True)
    header("training, seconds per 60k-image epoch")
    print(f"{'net':<10}{'baseNN':>10}{'advNN batched':>16}{'advNN per-image':>18}{'speed-up':>10}")
    for idx, name in ((2, "fc2-512"), (0, "conv-512")):
        net = build_seeded(get_settings("baseNN", idx), 0)
        n = args.batches if idx == 2 else max(2, args.batches // 3)
        scale = BATCHES_PER_EPOCH / n
        base, _ = timed(steps(net, x, y, n, None), repeats=1)
        adv, _ = timed(steps(net, x, y, n, fgsm), repeats=1)
        loop, _ = timed(steps(net, x, y, max(1, n // 2), per_image_fgsm), repeats=1)
        loop *= n / max(1, n // 2)
        print(f"{name:<10}{base * scale:>9.1f}s{adv * scale:>15.1f}s{loop * scale:>17.1f}s{loop / adv:>9.1f}x")


if __name__ == "__main__":
    main()
