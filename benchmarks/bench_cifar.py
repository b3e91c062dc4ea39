"""CIFAR-10 ResNet-20: seconds per training epoch (det, adv, Bayesian; timed on a slice of the training
set and scaled to the 45,000 images of a full epoch), and heatmaps per second for the Bayesian ResNet
with 100 posterior samples, epsilon rule: our batched engine against the reference's loop (one image and
one weight draw per LRP call).

    python benchmarks/bench_cifar.py [--images 1024] [--lrp_images 20]
"""
import argparse
import resource
import time

import torch

from common import header
from utils.training.recipes import bayesian_posterior, train_bayesian_sgd, train_sgd, validation_split
from utils.data.datasets import load_dataset, provision, seeded_subset
from utils.lrp.engine import lrp, lrp_chunked
from utils.paths import data_root
from utils.networks.resnet import build_resnet20

FULL_EPOCH = 45_000


def epoch_seconds(kind, train, val, batch_size):
    net = build_resnet20(0)
    start = time.perf_counter()
    if kind == "bayes":
        train_bayesian_sgd(net, train, val, 1, batch_size=batch_size, quiet=True, log=lambda _: None)
    else:
        adversarial = {"method": "fgsm", "eps": 0.2} if kind == "adv" else None
        train_sgd(net, train, val, 1, batch_size=batch_size, milestones=(), adversarial=adversarial, quiet=True,
                     log=lambda _: None)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1024, help="training images timed per epoch")
    p.add_argument("--lrp_images", type=int, default=20, help="images explained (x 100 samples)")
    p.add_argument("--loop_calls", type=int, default=100, help="reference-loop LRP calls timed (then scaled)")
    args = p.parse_args()
    root = data_root()
    provision("cifar", root)
    x, y = seeded_subset(*load_dataset("cifar", root, train=True), args.images + 100, seed=0)
    train, val = validation_split(x, y, 100, seed=0)
    header("CIFAR-10 ResNet-20 training")
    epoch_seconds("det", (train[0][:256], train[1][:256]), val, 128)  # warm-up (threads, allocator)
    for kind, batch in (("det", 128), ("adv", 128), ("bayes", 128)):
        s = epoch_seconds(kind, train, val, batch)
        print(f"{kind:5s}: {s:6.1f} s for {args.images} images -> {s * FULL_EPOCH / args.images / 60:5.1f} min "
              f"per {FULL_EPOCH}-image epoch (batch {batch})")

    header("Bayesian ResNet-20 LRP (epsilon), 100 posterior samples")
    net = build_resnet20(0).eval()
    guide = {k: (v, torch.full_like(v, 0.02)) for k, v in net.state_dict().items()
             if k.endswith("weight") and "bn" not in k or k == "linear.bias"}
    point = {k: v for k, v in net.state_dict().items() if k not in guide}
    samples = bayesian_posterior(guide, point, 100, seed=0)
    x_test, _ = load_dataset("cifar", root, train=False)
    xb = x_test[:args.lrp_images]
    start = time.perf_counter()
    lrp_chunked(net, samples, xb, 38, "epsilon")
    t_batched = time.perf_counter() - start
    maps = 100 * len(xb)
    # the reference: for each image, 100 LRP calls, each with one fresh weight draw
    start, calls = time.perf_counter(), 0
    loop = torch.zeros_like(xb[:1])
    for j in range(min(args.loop_calls, 100)):
        loop += lrp(net, {k: v[j:j + 1] for k, v in samples.items()}, xb[:1], 38)[0]
        calls += 1
    t_loop = (time.perf_counter() - start) / calls
    assert torch.allclose(loop / calls, lrp_chunked(net, {k: v[:calls] for k, v in samples.items()}, xb[:1], 38),
                          rtol=1e-3, atol=1e-6)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"batched: {maps} heatmaps in {t_batched:.1f} s = {maps / t_batched:,.0f} heatmaps/s")
    print(f"reference loop (1 image x 1 sample per call): {1 / t_loop:,.0f} heatmaps/s "
          f"({calls} calls timed); ratio {t_loop * maps / t_batched:.1f}x")
    print(f"500 images x 100 samples: batched {500 * 100 / (maps / t_batched) / 60:.1f} min, "
          f"loop {500 * 100 * t_loop / 60:.1f} min; peak memory {peak:.1f} GiB")


if __name__ == "__main__":
    main()
