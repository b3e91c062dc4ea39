"""Adversarial attacks in [0, 1] pixel space (docs/attacks.md).

One attack function serves deterministic and Bayesian nets: a deterministic net is a posterior of
one sample. Attacks are batched over images and posterior samples, in memory-bounded chunks.
"""
import torch
import torch.nn.functional as F

from ..networks.architectures import chunk_sizes
from ..networks.posterior import n_stored, sample_chunks

BAYES_ATTACKS = ("mean_of_attacks", "expected_gradient", "predictive_loss")
GRADIENT_ATTACKS = ("fgsm", "pgd")
# `random`: the floor of every robustness comparison, x + eps * (random sign per pixel), one seeded draw
# shared by every model (Ghorbani et al. 2019 compare attacks on explanations against it).
ATTACK_METHODS = GRADIENT_ATTACKS + ("random",)
UNIMPLEMENTED_ATTACKS = ("beta", "topk", "region", "deepfool", "cw")


# ----------------------------------------------------------------------------------------------
# The deterministic building blocks: a loss on a batch, its input gradient, FGSM and PGD.
def input_gradient(loss_fn, x):
    """d loss_fn(x) / dx; loss_fn sums over the batch, so each image gets its own gradient."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(x), x)
    return grad


def ce_loss(forward, y):
    return lambda x: F.cross_entropy(forward(x), y, reduction="sum")


def fgsm_step(x, grad, eps):
    """FGSM: clamp(x + eps * sign(grad), 0, 1)."""
    return (x + eps * grad.sign()).clamp_(0.0, 1.0).detach()


def fgsm(forward, x, y, eps):
    """FGSM against a deterministic forward, batched over images."""
    return fgsm_step(x, input_gradient(ce_loss(forward, y), x), eps)


def pgd_loop(gradient_fn, x, eps, steps, step_size, start_noise):
    """L-inf PGD: start at x + eps * noise (noise uniform in [-1, 1]), `steps` signed steps of `step_size`,
    each followed by the projection onto the eps-ball around x and the clamp to [0, 1]."""
    x_adv = (x + eps * start_noise).clamp(0.0, 1.0)
    for _ in range(steps):
        x_adv = x_adv + step_size * gradient_fn(x_adv).sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()


def uniform_noise(shape, generator, device="cpu"):
    return (2 * torch.rand(shape, generator=generator) - 1).to(device)


def random_sign(x, eps, seed=0):
    """clamp(x + eps * s, 0, 1) with s a seeded random sign per pixel (the same for every model)."""
    sign = uniform_noise(x.shape, torch.Generator().manual_seed(seed)).sign()
    return (x.cpu() + eps * sign).clamp_(0.0, 1.0)


def pgd(forward, x, y, eps, steps=40, step_size=0.01, generator=None):
    """PGD against a deterministic forward; the random start comes from `generator`."""
    noise = uniform_noise(x.shape, generator, x.device)
    return pgd_loop(lambda xa: input_gradient(ce_loss(forward, y), xa), x, eps, steps, step_size, noise)


def run_attack(method, forward, x, y, eps, generator=None, pgd_steps=40, pgd_step_size=0.01):
    """FGSM or PGD on a deterministic forward (used by adversarial training)."""
    if method == "fgsm":
        return fgsm(forward, x, y, eps)
    if method == "pgd":
        return pgd(forward, x, y, eps, pgd_steps, pgd_step_size, generator)
    raise ValueError(f"unknown attack {method!r}")


# ----------------------------------------------------------------------------------------------
# Posterior-batched attacks
def sample_generator(seed, j):
    """The generator of posterior sample j's random draws: depends on (seed, j) alone."""
    return torch.Generator().manual_seed(seed * 1_000_003 + j)


def bayes_input_gradient(net, samples, x, y, definition, sample_chunk):
    """The input gradient of one of the shared-input Bayesian attack losses, accumulated over sample chunks.

    expected_gradient: (1/S) sum_j grad CE(f_j(x), y)   (the posterior-mean gradient)
    predictive_loss:   grad -log( (1/S) sum_j p_j(y|x) ) = sum_j w_j grad CE(f_j(x), y),
                       w_j = p_j(y|x) / sum_k p_k(y|x)   (loss of the predictive mean; the weights are
                       taken in log space, so a confident net's gradient does not underflow)
    """
    from ..training.bayesian import per_sample_logits
    s_total = n_stored(samples)
    rows = torch.arange(len(y), device=y.device)
    if definition == "predictive_loss":
        with torch.no_grad():
            log_p = torch.cat([F.log_softmax(per_sample_logits(net, c, x), -1)[:, rows, y]
                               for _, c in sample_chunks(samples, sample_chunk)])
            weights = torch.softmax(log_p, 0)  # (S, N)
    grad = torch.zeros_like(x)
    for start, chunk in sample_chunks(samples, sample_chunk):
        xg = x.detach().requires_grad_(True)
        logits = per_sample_logits(net, chunk, xg)
        ce = -F.log_softmax(logits, -1)[:, rows, y]  # (s, N)
        if definition == "expected_gradient":
            loss = ce.sum() / s_total
        else:
            loss = (weights[start:start + len(ce)] * ce).sum()
        grad += torch.autograd.grad(loss, xg)[0]
    return grad


def attack(net, samples, x, y, method, eps, definition="mean_of_attacks", seed=0, pgd_steps=40,
           pgd_step_size=0.01, budget_mb=512, progress=None):
    """Attack the posterior `samples` (stacked weights, S >= 1) of `net` on images x (N, ...).

    mean_of_attacks (the reference): every sample j is attacked on its own, its PGD start drawn from
    a generator seeded by (seed, j); returns the per-sample adversarial images (S, N, ...), whose
    mean over the first n samples is the n-sample attack.
    expected_gradient / predictive_loss, and the `random` sign perturbation: one shared attack; returns (N, ...).
    """
    from ..training.bayesian import per_sample_logits
    s_total = n_stored(samples)
    if method == "random":
        if progress:
            progress.update(s_total * len(x))
        return random_sign(x, eps, seed)
    s_chunk, i_chunk = chunk_sizes(net, s_total, len(x), budget_mb)
    if definition == "mean_of_attacks":
        out = torch.empty((s_total, *x.shape), dtype=x.dtype)
        for start, chunk in sample_chunks(samples, s_chunk):
            s = n_stored(chunk)
            noise = torch.stack([uniform_noise(x.shape, sample_generator(seed, start + j)) for j in range(s)]) \
                if method == "pgd" else None
            for i in range(0, len(x), i_chunk):
                xb, yb = x[i:i + i_chunk], y[i:i + i_chunk]
                xs = xb.unsqueeze(0).expand(s, *xb.shape).contiguous()
                loss = lambda xa, c=chunk, yy=yb.repeat(s): F.cross_entropy(  # noqa: E731
                    per_sample_logits(net, c, xa).flatten(0, 1), yy, reduction="sum")
                if method == "fgsm":
                    adv = fgsm_step(xs, input_gradient(loss, xs), eps)
                else:
                    adv = pgd_loop(lambda xa: input_gradient(loss, xa), xs, eps, pgd_steps, pgd_step_size,
                                   noise[:, i:i + i_chunk].to(x.device))
                out[start:start + s, i:i + i_chunk] = adv.cpu()
                if progress:
                    progress.update(s * len(xb))
        return out
    out = torch.empty_like(x, device="cpu")
    gen = torch.Generator().manual_seed(seed)
    noise = uniform_noise(x.shape, gen) if method == "pgd" else None
    for i in range(0, len(x), i_chunk):
        xb, yb = x[i:i + i_chunk], y[i:i + i_chunk]
        grad_fn = lambda xa, yy=yb: bayes_input_gradient(net, samples, xa, yy, definition, s_chunk)  # noqa: E731
        if method == "fgsm":
            adv = fgsm_step(xb, grad_fn(xb), eps)
        else:
            adv = pgd_loop(grad_fn, xb, eps, pgd_steps, pgd_step_size, noise[i:i + i_chunk].to(x.device))
        out[i:i + i_chunk] = adv.cpu()
        if progress:
            progress.update(s_total * len(xb))
    return out


def prefix_means(per_sample_adv, n_list):
    """The n-sample attacks x~_n = mean of the first n per-sample adversarial images, for each n."""
    return {n: per_sample_adv[:n].mean(0) for n in n_list}


# ----------------------------------------------------------------------------------------------
# Evaluation (docs/attacks.md)
@torch.no_grad()
def evaluate_attack(net, samples, x, x_adv, y, device="cpu"):
    """Predictive-mean probabilities on clean and attacked images, and the per-image outcomes.

    softmax robustness = 1 - max_c |p(x)_c - p(x~)_c|; successful = correct on x and wrong on x~;
    failed = correct on both; success rate = |successful| / |correct|.
    """
    from ..training.bayesian import predictive_probs
    p_clean = predictive_probs(net, samples, x, device=device).mean(0)
    p_adv = predictive_probs(net, samples, x_adv, device=device).mean(0)
    x, x_adv, y = x.cpu(), x_adv.cpu(), y.cpu()
    correct, correct_adv = p_clean.argmax(-1) == y, p_adv.argmax(-1) == y
    robustness = 1 - (p_clean - p_adv).abs().amax(-1)
    successful, failed = correct & ~correct_adv, correct & correct_adv
    metrics = {
        "clean_accuracy": correct.float().mean().item(), "adversarial_accuracy": correct_adv.float().mean().item(),
        "attack_success_rate": (successful.sum() / correct.sum().clamp(min=1)).item(),
        "softmax_robustness_mean": robustness.mean().item(), "softmax_robustness_min": robustness.min().item(),
        "softmax_robustness_max": robustness.max().item(),
        "linf_distance_max": (x_adv - x).abs().amax().item(),
    }
    delta = (x_adv - x).flatten(1)
    l2, linf = delta.norm(dim=1), delta.abs().amax(1)
    metrics.update({"perturbation_l2_mean": l2.mean().item(), "perturbation_linf_mean": linf.mean().item()})
    tensors = {"probs_clean": p_clean, "probs_adv": p_adv, "softmax_robustness": robustness,
               "successful": successful, "failed": failed, "perturbation_l2": l2, "perturbation_linf": linf}
    return metrics, tensors
