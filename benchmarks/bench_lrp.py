"""LRP throughput (heatmaps per second) for 500 images x 100 posterior samples, epsilon rule, last layer:
our batched engine against (a) the reference's per-image, per-sample loop and (b) Zennit looping over
samples with batched images. Also prints the peak resident memory.

    python benchmarks/bench_lrp.py [--conv]
"""
import argparse
import resource

import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite
from zennit.rules import Epsilon, Pass

from common import header, timed
from utils.training.bayesian import sample_mean_field
from utils.data.datasets import load_dataset
from utils.lrp.engine import lrp_chunked
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.paths import data_root


def zennit_over_samples(net, samples, x):
    comp = LayerMapComposite(layer_map=[((nn.LeakyReLU,), Pass()), ((nn.Linear, nn.Conv2d), Epsilon(0.1))])
    total = torch.zeros_like(x)
    s = next(iter(samples.values())).shape[0]
    for j in range(s):
        net.load_state_dict({k: v[j] for k, v in samples.items()})
        with Gradient(net, comp) as attributor:
            out = net(x)
            _, rel = attributor(x, torch.nn.functional.one_hot(out.argmax(1), 10).float())
        total += rel
    return total / s


def per_image_loop(net, samples, x):
    comp = LayerMapComposite(layer_map=[((nn.LeakyReLU,), Pass()), ((nn.Linear, nn.Conv2d), Epsilon(0.1))])
    out = []
    s = next(iter(samples.values())).shape[0]
    for i in range(len(x)):
        acc = 0
        for j in range(s):
            net.load_state_dict({k: v[j] for k, v in samples.items()})
            with Gradient(net, comp) as attributor:
                o = net(x[i:i + 1])
                _, rel = attributor(x[i:i + 1], torch.nn.functional.one_hot(o.argmax(1), 10).float())
            acc = acc + rel
        out.append(acc / s)
    return torch.cat(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--conv", action="store_true", help="also the MNIST conv net (minutes)")
    args = p.parse_args()
    x = load_dataset("mnist", data_root(), train=False)[0][:500]
    header("LRP epsilon, last layer, 500 images x 100 samples = 50,000 heatmaps")
    for idx, name in ((2, "fc2-512"), (0, "conv-512"))[: 2 if args.conv else 1]:
        net = build_seeded(get_settings("fullBNN", idx), 0).eval()
        samples = sample_mean_field({k: (v, torch.full_like(v, 0.01)) for k, v in net.state_dict().items()}, 100, 0)
        last = net.learnable_layers[-1]
        t_ours, ours = timed(lambda: lrp_chunked(net, samples, x, last), repeats=1 if idx == 0 else 3)
        t_zen, zen = timed(lambda: zennit_over_samples(net, samples, x), repeats=1)
        n_img = 20 if idx == 2 else 5
        sub = {k: v[:20] for k, v in samples.items()}
        t_loop, _ = timed(lambda: per_image_loop(net, sub, x[:n_img]), repeats=1)
        t_loop *= (500 / n_img) * (100 / 20)
        print(f"{name}: ours {50000 / t_ours:8.0f}/s ({t_ours:.2f} s)   zennit over samples {50000 / t_zen:8.0f}/s "
              f"({t_zen:.2f} s)   per-image loop {50000 / t_loop:6.0f}/s ({t_loop:.0f} s)   "
              f"vs zennit {t_zen / t_ours:.2f}x   vs loop {t_loop / t_ours:.0f}x   max |diff| "
              f"{(ours - zen).abs().max().item():.1e}")
    print(f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
