"""Bayesian nets: SVI seconds per epoch (fc2, conv), HMC seconds per sample and per leapfrog step on fc2,
and the vectorised predictive against a Python loop over posterior samples (500 images x 100 samples).

    python benchmarks/bench_bayesian.py [--hmc_points 1000]
"""
import argparse

import torch

from common import header, timed
from utils.training.bayesian import BayesianNet, per_sample_logits, run_mcmc, sample_mean_field, train_svi
from utils.data.datasets import load_dataset, seeded_subset
from utils.model_settings import get_settings
from utils.networks.architectures import build_seeded
from utils.paths import data_root


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hmc_points", type=int, default=1000)
    args = p.parse_args()
    x, y = load_dataset("mnist", data_root(), train=True)
    header("SVI, seconds per 60k-image epoch (batch 128, measured on a few batches)")
    for idx, name, n in ((2, "fc2-512", 2560), (0, "conv-512", 1280)):
        bnn = BayesianNet(build_seeded(get_settings("fullBNN", idx), 0))
        secs, _ = timed(lambda: train_svi(bnn, x[:n], y[:n], 1, 1e-3, quiet=True, log=lambda _: None), repeats=1)
        print(f"{name:<10}{secs * 60000 / n:8.1f} s/epoch")

    header(f"HMC on fc2-512, {args.hmc_points} training points, 10 leapfrog steps")
    xs, ys = seeded_subset(x, y, args.hmc_points, 0)
    net = build_seeded(get_settings("fullBNN", 2), 0)
    _, d = run_mcmc(BayesianNet(net), xs, ys, 10, 10, kernel="hmc", step_size=1e-3, num_steps=10,
                    init_params=net.state_dict(), quiet=True)
    print(f"{d['seconds_per_sample']:.2f} s per iteration, {1000 * d['seconds_per_leapfrog_step']:.1f} ms per leapfrog "
          f"step, acceptance {d['acceptance_rate']:.2f}")

    header("predictive over 100 posterior samples x 500 images")
    for idx, name in ((2, "fc2-512"), (0, "conv-512")):
        net = build_seeded(get_settings("fullBNN", idx), 0)
        samples = sample_mean_field({k: (v, torch.full_like(v, 0.01)) for k, v in net.state_dict().items()}, 100, 0)
        xb = x[:500]

        def loop():
            with torch.no_grad():
                out = []
                for j in range(100):
                    net.load_state_dict({k: v[j] for k, v in samples.items()})
                    out.append(torch.cat([net(xb[i:i + 1]) for i in range(len(xb))]))
                return torch.stack(out)

        def batched(strategy):
            with torch.no_grad():
                chunk = 500 if idx == 2 else 100
                return torch.cat([per_sample_logits(net, samples, xb[i:i + chunk], strategy)
                                  for i in range(0, 500, chunk)], 1)
        t_vmap, _ = timed(lambda: batched("vmap"), repeats=1)
        t_vec, out_vec = timed(lambda: batched("loop"), repeats=1)
        if idx == 2:
            t_loop, out_loop = timed(loop, repeats=1)
        else:  # the per-image conv loop takes minutes: time 10 samples and scale
            samples_all = samples
            samples = {k: v[:10] for k, v in samples_all.items()}
            t10, out_loop = timed(lambda: _loop10(net, samples, xb), repeats=1)
            t_loop = t10 * 10
            out_vec = out_vec[:10]
        err = (out_vec - out_loop).abs().max().item()
        print(f"{name:<10} vmap {t_vmap:6.2f} s   sample loop, batched images {t_vec:6.2f} s   per-image, per-sample "
              f"loop {t_loop:7.1f} s   best ratio {t_loop / min(t_vec, t_vmap):5.1f}x   max |diff| {err:.1e}")


def _loop10(net, samples, xb):
    with torch.no_grad():
        out = []
        for j in range(next(iter(samples.values())).shape[0]):
            net.load_state_dict({k: v[j] for k, v in samples.items()})
            out.append(torch.cat([net(xb[i:i + 1]) for i in range(len(xb))]))
        return torch.stack(out)


if __name__ == "__main__":
    main()
