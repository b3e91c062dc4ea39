"""Adversarial attacks in [0, 1] pixel space (reference.md section 7, decisions.md "Attacks")."""
import torch
import torch.nn.functional as F


def input_gradient(forward, x, y):
    """d CE(forward(x), y) / dx for a batch, summed over the batch (so each image gets its own gradient)."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(forward(x), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(forward, x, y, eps):
    """FGSM: clamp(x + eps * sign(grad_x CE(f(x), y)), 0, 1), batched over images."""
    return (x + eps * input_gradient(forward, x, y).sign()).clamp_(0.0, 1.0).detach()


def pgd(forward, x, y, eps, steps=40, step_size=0.01, generator=None):
    """PGD (L-inf): uniform random start in the eps-ball, `steps` signed steps, projection, clamp to [0, 1].

    The random start comes from `generator` (a `torch.Generator`), never from a global RNG.
    """
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    x_adv = (x + eps * (2 * noise - 1)).clamp(0.0, 1.0)
    for _ in range(steps):
        x_adv = x_adv + step_size * input_gradient(forward, x_adv, y).sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()


def run_attack(method, forward, x, y, eps, generator=None, pgd_steps=40, pgd_step_size=0.01):
    """One of the gradient attacks the paper's figures use, on a deterministic forward."""
    if method == "fgsm":
        return fgsm(forward, x, y, eps)
    if method == "pgd":
        return pgd(forward, x, y, eps, pgd_steps, pgd_step_size, generator)
    raise ValueError(f"unknown attack {method!r}")
