"""Bayesian networks (fullBNN) with Pyro: model, mean-field SVI, HMC/NUTS, and vectorised prediction.

Model (docs/inference.md):
    w ~ N(0, 1) for every weight and bias,   y_i | x_i, w ~ Categorical(logits = f_w(x_i)).
A posterior is stored as stacked samples `{param_name: (S, ...)}` whose names are the deterministic
net's state_dict keys, so `per_sample_logits` runs every sample at once with `torch.func.vmap`.
"""
import copy
import math
import time
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.infer import MCMC, NUTS, HMC, SVI, Trace_ELBO
from pyro.infer.autoguide.initialization import init_to_value
from pyro.nn.module import PyroSample, to_pyro_module_
from torch.func import functional_call, vmap
from tqdm import tqdm

from ..networks.architectures import LEARNABLE_TYPES, images_per_chunk
from ..networks.posterior import n_stored


# ----------------------------------------------------------------------------------------------
# Model and guide
class BayesianNet:
    """The Pyro model of a settings entry: the deterministic architecture with N(0, 1) priors.

    `net` is the deterministic template (architecture and PyTorch's default initialisation);
    `model(x, y, n_data)` is the Pyro model. With `n_data > len(x)` the likelihood is a mini-batch
    of a data set of size n_data and is scaled by n_data / len(x), so the ELBO is the full-data ELBO.
    """

    def __init__(self, net, prior_scale=1.0):
        self.net = net
        self.shapes = {name: p.shape for name, p in net.named_parameters()}
        self.pnet = copy.deepcopy(net)
        to_pyro_module_(self.pnet)
        self.prior_loc, self.prior_scale = torch.zeros(()), torch.tensor(float(prior_scale))
        self.sample_names = []  # the random weights; other parameters (batch norm) stay point estimates
        for mname, module in self.pnet.named_modules():
            if isinstance(module, LEARNABLE_TYPES):
                for pname, param in list(module.named_parameters(recurse=False)):
                    setattr(module, pname, PyroSample(self._prior(param.shape)))
                    self.sample_names.append(f"{mname}.{pname}" if mname else pname)

    def _prior(self, shape):
        """N(0, prior_scale^2) per weight, built on the device of `to()` at every draw."""
        return lambda _module: dist.Normal(self.prior_loc, self.prior_scale, validate_args=False) \
            .expand(shape).to_event(len(shape))

    def to(self, device):
        """Move the Pyro network and the priors' parameters to `device`."""
        self.pnet.to(device)
        self.prior_loc, self.prior_scale = self.prior_loc.to(device), self.prior_scale.to(device)
        return self

    def model(self, x, y=None, n_data=None, likelihood_scale=None):
        """`likelihood_scale`, if given, multiplies the batch log-likelihood instead of n_data / len(x):
        (N / B) / kl_weight down-weights the likelihood against the prior; 1 is the reference's unscaled
        mini-batch ELBO (docs/inference.md)."""
        logits = self.pnet(x)
        if likelihood_scale is not None:
            with pyro.plate("data", size=len(x)), pyro.poutine.scale(scale=float(likelihood_scale)):
                pyro.sample("obs", dist.Categorical(logits=logits), obs=y)
            return logits
        n = len(x) if n_data is None else n_data
        subsample = torch.arange(len(x), device=x.device) if n != len(x) else None
        with pyro.plate("data", size=n, subsample=subsample):
            pyro.sample("obs", dist.Categorical(logits=logits), obs=y)
        return logits


class MeanFieldGuide:
    """q(w) = prod N(loc, scale^2), one Normal per weight; loc starts at `init_locs`, scale at `init_scale`
    (a number, or a tensor per weight name)."""

    def __init__(self, init_locs, init_scale):
        self.init_locs = {k: v.detach().clone() for k, v in init_locs.items()}
        self.init_scale = init_scale

    def _init_scale(self, name, like):
        if isinstance(self.init_scale, dict):
            return self.init_scale[name].detach().clone().to(like.device)
        return torch.full_like(like, self.init_scale)

    def __call__(self, x=None, y=None, n_data=None, likelihood_scale=None):
        for name, init in self.init_locs.items():
            loc = pyro.param(f"loc.{name}", lambda: init.clone())
            scale = pyro.param(f"scale.{name}", lambda: self._init_scale(name, init),
                               constraint=dist.constraints.positive)
            pyro.sample(name, dist.Normal(loc, scale).to_event(init.dim()))

    def params(self):
        """The fitted (loc, scale) per weight tensor."""
        store = pyro.get_param_store()
        return {name: (store[f"loc.{name}"].detach(), store[f"scale.{name}"].detach()) for name in self.init_locs}


def sample_mean_field(params, n_samples, seed):
    """n stacked draws from a mean-field guide; sample j comes from its own generator seeded by (seed, j),
    so sample j is the same whatever n is and on every run."""
    out = {name: [] for name in params}
    for j in range(n_samples):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + j)
        for name, (loc, scale) in params.items():
            out[name].append(loc + scale * torch.randn(loc.shape, generator=gen, dtype=loc.dtype))
    return {name: torch.stack(v) for name, v in out.items()}


# ----------------------------------------------------------------------------------------------
# SVI
SVI_BATCH = 128
SVI_INITS = ("ours", "reference")
SVI_ELBOS = ("full", "reference")


def reference_guide_init(shapes, seed):
    """The reference's guide start: locs ~ N(0, 1) and scales = softplus(N(0, 1)), drawn in name order
    from one generator seeded by `seed`, locs before scales for each weight."""
    gen = torch.Generator().manual_seed(seed)
    locs, scales = {}, {}
    for name, shape in shapes.items():
        locs[name] = torch.randn(shape, generator=gen)
        scales[name] = F.softplus(torch.randn(shape, generator=gen))
    return locs, scales


def likelihood_scale(n_data, batch, kl_weight=1.0, elbo="full"):
    """The weight of a mini-batch's log-likelihood in the ELBO: (N / B) / kl_weight; 1 for the reference's
    unscaled mini-batch ELBO (which equals kl_weight = N / B on full batches)."""
    return 1.0 if elbo == "reference" else n_data / batch / kl_weight


def train_svi(bnn, x, y, epochs, lr, batch_size=SVI_BATCH, init_scale=0.02, seed=0, device="cpu", quiet=False, log=print,
              kl_weight=1.0, elbo="full", init="ours"):
    """Mean-field SVI (Trace_ELBO, one particle, Adam) on mini-batches with the full-data ELBO.

    The guide's locs start at the template net's default (Kaiming-uniform) initialisation and its
    scales at `init_scale` (0.02: most scales of a converged fit end up at or above it, so even a short
    CPU run gives a wide posterior). `init="reference"` starts at the reference's N(0, 1) locs and
    softplus(N(0, 1)) scales. `kl_weight` B scales the likelihood by (N / batch) / B (B = 1: the correct
    ELBO); `elbo="reference"` leaves it unscaled, as the reference does (docs/inference.md).
    Returns the guide's (loc, scale) per weight and the per-epoch history.
    """
    pyro.clear_param_store()
    bnn.to(device)
    state = bnn.net.state_dict()
    if init == "reference":
        locs, scales = reference_guide_init({k: state[k].shape for k in bnn.sample_names}, seed)
        guide = MeanFieldGuide({k: v.to(device) for k, v in locs.items()}, scales)
    else:
        guide = MeanFieldGuide({k: state[k].to(device) for k in bnn.sample_names}, init_scale)
    svi = SVI(bnn.model, guide, pyro.optim.Adam({"lr": lr}), loss=Trace_ELBO())
    x, y, n = x.to(device), y.to(device), len(x)
    template = copy.deepcopy(bnn.net).to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    history = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the ELBO's weight draws
        for epoch in range(1, epochs + 1):
            start, total, correct = time.time(), 0.0, 0
            order = torch.randperm(n, generator=gen).to(device)
            bar = tqdm(range(0, n, batch_size), desc=f"epoch {epoch}/{epochs}", disable=quiet, leave=False, unit="batch")
            for i in bar:
                idx = order[i:i + batch_size]
                if kl_weight == 1.0 and elbo == "full":
                    loss = svi.step(x[idx], y[idx], n)
                else:
                    loss = svi.step(x[idx], y[idx], n, likelihood_scale(n, len(idx), kl_weight, elbo))
                total += loss
                with torch.no_grad():  # training accuracy of the posterior-mean net
                    locs = {k: v[0] for k, v in guide.params().items()}
                    correct += (functional_call(template, locs, (x[idx],)).argmax(1) == y[idx]).sum().item()
                bar.set_postfix(elbo=f"{-loss / n:.3f}")
            steps = math.ceil(n / batch_size)
            row = {"epoch": epoch, "neg_elbo_per_datum": total / steps / n, "train_accuracy": correct / n,
                   "seconds": time.time() - start}
            history.append(row)
            log(f"[Epoch {epoch}] loss: {row['neg_elbo_per_datum']:.4f} accuracy: {100 * row['train_accuracy']:.2f}% "
                f"({row['seconds']:.1f} s)")
    return {k: (loc.cpu(), scale.cpu()) for k, (loc, scale) in guide.params().items()}, history


# ----------------------------------------------------------------------------------------------
# HMC / NUTS
class _CountingPotential:
    """Wraps a kernel's potential function to count its evaluations (one per leapfrog gradient)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, z):
        self.calls += 1
        return self.fn(z)


def _counting(kernel_cls, fixed_num_steps=None):
    """The Pyro kernel, counting potential evaluations; HMC keeps `fixed_num_steps` leapfrog steps while
    its step size adapts (Pyro would otherwise keep the trajectory length fixed instead)."""
    class Counting(kernel_cls):
        def setup(self, *args, **kwargs):
            super().setup(*args, **kwargs)
            self.potential_fn = _CountingPotential(self.potential_fn)

        if fixed_num_steps is not None:
            num_steps = property(lambda self: fixed_num_steps)
    return Counting


def run_mcmc(bnn, x, y, num_samples, warmup, kernel="nuts", step_size=1.0, num_steps=10, max_tree_depth=10,
             init_params=None, n_data=None, quiet=False, desc="HMC"):
    """One chain of Pyro's NUTS (or fixed-length HMC) on the full likelihood of (x, y).

    Step size and diagonal mass matrix adapt during warm-up. With `n_data > len(x)` the likelihood of
    (x, y) is scaled by n_data / len(x), approximating the posterior given n_data points. Returns the draws in order
    `{name: (num_samples, ...)}` and diagnostics: acceptance rate, final step size, divergences,
    leapfrog steps per iteration (NUTS: also the implied tree depth) and the log joint per draw.
    """
    init = init_to_value(values=init_params) if init_params is not None else None
    if kernel == "nuts":
        k = _counting(NUTS)(bnn.model, step_size=step_size, adapt_step_size=True, adapt_mass_matrix=True,
                            max_tree_depth=max_tree_depth, init_strategy=init or pyro.infer.autoguide.init_to_uniform)
    else:
        k = _counting(HMC, num_steps)(bnn.model, step_size=step_size, num_steps=num_steps, adapt_step_size=True,
                           adapt_mass_matrix=True, init_strategy=init or pyro.infer.autoguide.init_to_uniform)
    trace = {"steps": [], "log_joint": [], "step_size": [], "accept": 0.0}
    last = [0]

    def hook(kernel_, samples, stage, i):
        calls = kernel_.potential_fn.calls
        trace["steps"].append(calls - last[0])
        last[0] = calls
        if stage == "Sample":
            trace["log_joint"].append(-float(kernel_._potential_energy_last))
            trace["accept"] = float(kernel_._mean_accept_prob)  # running mean over the sampling phase
            trace["divergences"] = len(kernel_._divergences)
        trace["step_size"].append(float(kernel_.step_size))

    mcmc = MCMC(k, num_samples=num_samples, warmup_steps=warmup, hook_fn=hook, disable_progbar=quiet)
    start = time.time()
    with pyro.validation_enabled(False):  # a NaN trajectory is a rejected (divergent) proposal, not an error
        mcmc.run(x, y, n_data)
    seconds = time.time() - start
    samples = {name: v.detach() for name, v in mcmc.get_samples().items()}
    sample_steps = trace["steps"][warmup:]
    mean_steps = sum(sample_steps) / max(1, len(sample_steps))
    diagnostics = {
        "kernel": kernel, "num_samples": num_samples, "warmup": warmup, "seconds": seconds,
        "acceptance_rate": trace["accept"], "step_size": trace["step_size"][-1],
        "divergences": trace.get("divergences", 0), "mean_leapfrog_steps": mean_steps,
        "seconds_per_sample": seconds / (num_samples + warmup),
        "seconds_per_leapfrog_step": seconds / max(1, sum(trace["steps"])),
        "log_joint": trace["log_joint"],
    }
    if kernel == "nuts":
        diagnostics["mean_tree_depth"] = math.log2(mean_steps + 1) if mean_steps > 0 else 0.0
    return samples, diagnostics


@dataclass(frozen=True)
class HMCSpec:
    """What one HMC/NUTS run draws (docs/inference.md): `num_samples` draws kept after `warmup` adaptation steps,
    by the `full` scheme (one chain on the whole (sub)set) or the reference's `minibatch` one (a cold-started chain
    per batch of `batch_size`), with the `nuts` or fixed-length `hmc` kernel (`num_steps` leapfrog steps) from
    the initial `step_size`; `seed` fixes the chain and the batch order."""
    num_samples: int
    warmup: int
    scheme: str = "full"
    kernel: str = "nuts"
    batch_size: int = 4000
    step_size: float = 1.0
    num_steps: int = 10
    seed: int = 0


def train_hmc(bnn, x, y, spec, init_params=None, n_data=None, device="cpu", quiet=False, log=print):
    """The posterior samples of HMC/NUTS run as `spec` (an HMCSpec) says.

    `full`: one chain on the whole (sub)set, num_samples draws after `warmup` adaptation steps.
    `minibatch` (the reference): for each of n // batch_size shuffled batches, a cold-started chain
    on that batch only, with `warmup` steps and int(num_samples / n_batches) + 1 draws; the draws are
    concatenated in batch order (15 x 7 = 105 for the paper) and the first num_samples kept.
    `n_data` scales the likelihood of the full scheme (see run_mcmc).
    """
    num_samples, warmup, seed = spec.num_samples, spec.warmup, spec.seed
    chain = dict(kernel=spec.kernel, step_size=spec.step_size, num_steps=spec.num_steps)
    bnn.to(device)
    x, y = x.to(device), y.to(device)
    init = {k: v.to(device) for k, v in init_params.items()} if init_params is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.scheme == "full":
            samples, diag = run_mcmc(bnn, x, y, num_samples, warmup, **chain, init_params=init, n_data=n_data,
                                     quiet=quiet)
            chains = [diag]
        else:
            batch_size = spec.batch_size
            n_batches = max(1, len(x) // batch_size)
            per_batch = num_samples // n_batches + 1
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(device)
            draws, chains = [], []
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                s, d = run_mcmc(bnn, x[idx], y[idx], per_batch, warmup, **chain, init_params=init, quiet=quiet,
                                desc=f"chain {b + 1}/{n_batches}")
                draws.append(s)
                chains.append(d)
                log(f"chain {b + 1}/{n_batches}: acceptance {d['acceptance_rate']:.3f}, step size {d['step_size']:.2e}, "
                    f"divergences {d['divergences']}")
            samples = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
        all_draws = n_stored(samples)
        samples = {k: v[:num_samples].cpu() for k, v in samples.items()}
    summary = summarise_chains(chains)
    summary.update({"scheme": spec.scheme, "draws_before_truncation": all_draws, "n_chains": len(chains)})
    return samples, summary


def summarise_chains(chains):
    mean = lambda key: sum(c[key] for c in chains) / len(chains)  # noqa: E731
    out = {"acceptance_rate": mean("acceptance_rate"), "step_size": mean("step_size"),
           "divergences": sum(c["divergences"] for c in chains), "mean_leapfrog_steps": mean("mean_leapfrog_steps"),
           "seconds": sum(c["seconds"] for c in chains), "seconds_per_sample": mean("seconds_per_sample"),
           "seconds_per_leapfrog_step": mean("seconds_per_leapfrog_step"), "kernel": chains[0]["kernel"],
           "log_joint": [v for c in chains for v in c["log_joint"]]}
    if "mean_tree_depth" in chains[0]:
        out["mean_tree_depth"] = mean("mean_tree_depth")
    return out


# ----------------------------------------------------------------------------------------------
# Prediction over stacked posterior samples
def stack_state_dicts(state_dicts):
    return {k: torch.stack([sd[k] for sd in state_dicts]) for k in state_dicts[0]}


def has_conv(net):
    return any(isinstance(m, torch.nn.Conv2d) for m in net.modules())


def per_sample_logits(net, samples, x, strategy="auto"):
    """Outputs of every posterior sample, (S, N, ...), batched over images and samples.

    `x` is (N, ...) shared by all samples, or (S, N, ...) with one input batch per sample.
    `strategy`: "vmap" (torch.func over the stacked weights: batched matmuls), or "loop" (one batched
    call per sample). "auto" takes vmap for all-linear nets and the sample loop for conv nets, where
    vmap's grouped convolutions were measured 2x slower on the CPU (benchmarks/bench_bayesian.py).
    """
    per_input = x.dim() == len(net.input_shape) + 2
    if strategy == "auto":
        strategy = "loop" if has_conv(net) and x.device.type == "cpu" else "vmap"
    if strategy == "loop":
        return torch.stack([functional_call(net, {k: v[j] for k, v in samples.items()}, (x[j] if per_input else x,))
                            for j in range(n_stored(samples))])
    fn = lambda params, xb: functional_call(net, params, (xb,))  # noqa: E731
    return vmap(fn, in_dims=(0, 0 if per_input else None))(samples, x)


@torch.no_grad()
def predictive_probs(net, samples, x, batch_size=None, device="cpu"):
    """Per-sample softmax probabilities (S, N, C), batched over images (memory-bounded), on the CPU.
    The template `net` moves to `device` too: its buffers (ResNet normalisation) are not among the samples. Prediction
    is in eval mode: batch norm uses its running statistics and leaves them as they are."""
    net.to(device).eval()
    samples = {k: v.to(device) for k, v in samples.items()}
    batch_size = batch_size or images_per_chunk(net, n_stored(samples))
    out = [F.softmax(per_sample_logits(net, samples, x[i:i + batch_size].to(device)), -1).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out, dim=1)


def bayes_accuracy(probs, y, n_list):
    """Accuracy of the predictive mean of the first n samples' probabilities, for each n."""
    return {n: (probs[:n].mean(0).argmax(-1) == y).float().mean().item() for n in n_list}
