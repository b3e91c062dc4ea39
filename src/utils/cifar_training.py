"""Training of the CIFAR-10 ResNet-20 (reference.md section 6): SGD with momentum and weight decay, a step
schedule, random-crop and flip augmentation, and model selection on a held-out validation split (never
on the test set, which the reference used)."""
import copy
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .attacks import run_attack


def validation_split(x, y, n_val, seed):
    """A seeded (train, validation) split of the training set."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def augment(x, generator):
    """Random 32x32 crops of the 4-pixel zero-padded images and random horizontal flips, batched."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # (n, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


@torch.no_grad()
def accuracy(net, x, y, batch_size=1000, device="cpu"):
    net.eval()
    hits = sum((net(x[i:i + batch_size].to(device)).argmax(1).cpu() == y[i:i + batch_size]).sum().item()
               for i in range(0, len(x), batch_size))
    return hits / len(x)


def train_resnet(net, train, val, epochs, lr=0.1, batch_size=512, momentum=0.9, weight_decay=1e-4,
                 milestones=(100, 150), adversarial=None, seed=0, device="cpu", quiet=False, log=print):
    """SGD + MultiStepLR(x0.1 at `milestones`); keeps the weights of the best validation epoch.

    `adversarial` ({"method", "eps"}) replaces every batch by attacks on the current weights, batched
    (the reference crafted them one image at a time). Returns the history and the best validation accuracy.
    """
    net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=0.1)
    gen = torch.Generator().manual_seed(seed)
    (x, y), (x_val, y_val) = train, val
    best, best_state, history = -1.0, None, []
    for epoch in range(1, epochs + 1):
        start, total = time.time(), 0.0
        order = torch.randperm(len(x), generator=gen)
        for i in tqdm(range(0, len(x), batch_size), desc=f"epoch {epoch}/{epochs}", disable=quiet, leave=False):
            idx = order[i:i + batch_size]
            xb, yb = augment(x[idx], gen).to(device), y[idx].to(device)
            if adversarial:
                net.eval()
                xb = run_attack(adversarial["method"], net, xb, yb, adversarial["eps"], generator=gen)
            net.train()
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        val_acc = accuracy(net, x_val, y_val, device=device)
        history.append({"epoch": epoch, "loss": total / len(x), "val_accuracy": val_acc, "seconds": time.time() - start})
        log(f"[Epoch {epoch}] loss: {total / len(x):.4f} validation accuracy: {100 * val_acc:.2f}%")
        if val_acc > best:
            best, best_state = val_acc, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    net.eval()
    return history, best
