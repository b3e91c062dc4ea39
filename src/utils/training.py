"""Training of the deterministic (baseNN) and adversarially trained (advNN) nets (docs/pipeline.md)."""
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .attacks import run_attack


@torch.no_grad()
def predict_logits(net, x, batch_size=1000, device="cpu"):
    """Logits of `net` on `x`, batched, returned on the CPU."""
    net.eval()
    return torch.cat([net(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def accuracy(net, x, y, device="cpu"):
    return (predict_logits(net, x, device=device).argmax(1) == y).float().mean().item()


def train_network(net, x, y, epochs, lr, batch_size=128, seed=0, adversarial=None, device="cpu", quiet=False,
                  log=print):
    """Adam on cross-entropy with seeded shuffling; returns the per-epoch history.

    `adversarial`, if given, is `{"method", "eps", "mix"}`: every batch is replaced by attacks made
    with the current weights (batched over the batch), and the loss is
    (1 - mix) * CE(clean) + mix * CE(adversarial); mix = 1 is the reference (100 % adversarial).
    """
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(device), y.to(device)
    history = []
    for epoch in range(1, epochs + 1):
        start, total_loss, correct = time.time(), 0.0, 0
        order = torch.randperm(len(x), generator=gen).to(device)
        batches = range(0, len(x), batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", disable=quiet, leave=False, unit="batch")
        for start_idx in bar:
            idx = order[start_idx:start_idx + batch_size]
            xb, yb = x[idx], y[idx]
            if adversarial:
                net.eval()
                x_adv = run_attack(adversarial["method"], net, xb, yb, adversarial["eps"], generator=gen)
                net.train()
                out = net(x_adv)
                loss = F.cross_entropy(out, yb)
                if adversarial["mix"] < 1:
                    loss = adversarial["mix"] * loss + (1 - adversarial["mix"]) * F.cross_entropy(net(xb), yb)
            else:
                net.train()
                out = net(xb)
                loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        row = {"epoch": epoch, "loss": total_loss / len(x), "train_accuracy": correct / len(x),
               "seconds": time.time() - start}
        history.append(row)
        log(f"[Epoch {epoch}] loss: {row['loss']:.4f} accuracy: {100 * row['train_accuracy']:.2f}% "
            f"({row['seconds']:.1f} s)")
    net.eval()
    return history
