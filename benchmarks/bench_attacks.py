"""FGSM and PGD on 500 MNIST test images: deterministic fc2 and a 100-sample Bayesian fc2 (and conv FGSM),
batched (utils.attacks.gradient.attack) against the reference's per-image, per-sample loop.
The loop is timed on a slice (images x samples) and scaled to the full job.

    python benchmarks/bench_attacks.py
"""
import torch
import torch.nn.functional as F

from common import header, timed
from utils.attacks.gradient import attack
from utils.training.bayesian import sample_mean_field
from utils.data.datasets import load_dataset
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.paths import data_root


def reference_loop(net, samples, x, y, method, steps=40):
    """One image, one sample at a time; the n per-sample adversarial images are averaged."""
    s = next(iter(samples.values())).shape[0]
    out = []
    for i in range(len(x)):
        advs = []
        for j in range(s):
            net.load_state_dict({k: v[j] for k, v in samples.items()})
            xi = x[i:i + 1]
            xa = xi if method == "fgsm" else (xi + 0.2 * (2 * torch.rand_like(xi) - 1)).clamp(0, 1)
            for _ in range(1 if method == "fgsm" else steps):
                xa = xa.clone().requires_grad_(True)
                F.cross_entropy(net(xa), y[i:i + 1]).backward()
                step = 0.2 if method == "fgsm" else 0.01
                xa = (xa + step * xa.grad.sign()).detach()
                xa = torch.min(torch.max(xa, xi - 0.2), xi + 0.2).clamp(0, 1)
            advs.append(xa)
        out.append(torch.stack(advs).mean(0))
    return torch.cat(out)


def main():
    x, y = load_dataset("mnist", data_root(), train=False)
    x, y = x[:500], y[:500]
    header("attacks on 500 images (seconds; loop timed on a slice and scaled)")
    print(f"{'case':<28}{'batched':>10}{'reference loop':>16}{'ratio':>8}")
    cases = [(2, "fgsm", 1), (2, "pgd", 1), (2, "fgsm", 100), (2, "pgd", 100), (0, "fgsm", 1), (0, "fgsm", 100)]
    for idx, method, s in cases:
        net = build_seeded(get_settings("fullBNN", idx), 0).eval()
        samples = sample_mean_field({k: (v, torch.full_like(v, 0.01)) for k, v in net.state_dict().items()}, s, 0)
        t_batched, _ = timed(lambda: attack(net, samples, x, y, method, 0.2), repeats=1)
        n_img = 50 if s == 1 else 5
        n_smp = s if s == 1 else 10
        sub = {k: v[:n_smp] for k, v in samples.items()}
        t_loop, _ = timed(lambda: reference_loop(net, sub, x[:n_img], y[:n_img], method), repeats=1)
        t_loop *= (500 / n_img) * (s / n_smp)
        name = f"{'conv' if idx == 0 else 'fc2'} {method} {'det' if s == 1 else f'BNN n={s}'}"
        print(f"{name:<28}{t_batched:>9.2f}s{t_loop:>15.1f}s{t_loop / t_batched:>7.1f}x")


if __name__ == "__main__":
    main()
