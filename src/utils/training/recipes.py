"""Training recipes (docs/pipeline.md, "Training"): "adam", the paper's (Adam on the whole training set, the
last epoch kept), and "sgd" (SGD with momentum and weight decay, a step schedule, random-crop and flip
augmentation, and the best epoch on a held-out validation split, never on the test set as the reference did),
with its Bayesian counterpart (mean-field SVI, batch norm as a point estimate)."""
import copy
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..attacks.gradient import run_attack


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


def validation_split(x, y, n_val, seed):
    """A seeded (train, validation) split of the training set."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def sgd_split(x, y, n_val, n_train, seed):
    """The sgd recipe's data: the seeded validation split first, then (with `n_train`) a seeded subset of the
    rest. Returns ((x, y) to train on, (x, y) to select the epoch on)."""
    from ..data.datasets import seeded_subset
    from ..errors import UserError
    if n_val >= len(x):
        raise UserError(f"--n_val {n_val} leaves no training images (there are {len(x)})")
    train, val = validation_split(x, y, n_val, seed)
    if n_train is not None:
        train = seeded_subset(*train, min(n_train, len(train[0])), seed)
    return train, val


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


def fit(train, val, epochs, batch_size, step, evaluate, snapshot, end_epoch=None, seed=0, device="cpu",
        quiet=False, log=print, desc="epoch"):
    """The epoch loop shared by the sgd recipes: shuffled, augmented mini-batches, one validation per
    epoch, and the snapshot of the best validation epoch (model selection never sees the test set).

    `step(xb, yb) -> loss per image`, `evaluate(x, y) -> accuracy`, `snapshot() -> state`, `end_epoch()`
    (the learning-rate schedule). Returns (best snapshot, history, best validation accuracy).
    """
    gen = torch.Generator().manual_seed(seed)
    (x, y), (x_val, y_val) = train, val
    best, best_state, history = -1.0, None, []
    for epoch in range(1, epochs + 1):
        start, total = time.time(), 0.0
        order = torch.randperm(len(x), generator=gen)
        for i in tqdm(range(0, len(x), batch_size), desc=f"{desc} {epoch}/{epochs}", disable=quiet, leave=False):
            idx = order[i:i + batch_size]
            total += step(augment(x[idx], gen).to(device), y[idx].to(device), gen) * len(idx)
        if end_epoch:
            end_epoch()
        val_acc = evaluate(x_val, y_val)
        history.append({"epoch": epoch, "loss": total / len(x), "val_accuracy": val_acc, "seconds": time.time() - start})
        log(f"[Epoch {epoch}] loss: {total / len(x):.4f} validation accuracy: {100 * val_acc:.2f}% "
            f"({history[-1]['seconds']:.0f} s)")
        if val_acc > best:
            best, best_state = val_acc, snapshot()
    return best_state, history, best


def train_sgd(net, train, val, epochs, lr=0.1, batch_size=512, momentum=0.9, weight_decay=1e-4,
              milestones=(100, 150), adversarial=None, seed=0, device="cpu", quiet=False, log=print):
    """The "sgd" recipe: SGD + MultiStepLR(x0.1 at `milestones`); keeps the weights of the best validation epoch.

    `adversarial` ({"method", "eps", "mix"}) replaces every batch by attacks on the current weights, batched
    (the reference crafted them one image at a time), and the loss is mix * CE(adversarial) + (1 - mix) * CE(clean).
    Returns the history and the best validation accuracy.
    """
    net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=0.1)

    def step(xb, yb, gen):
        clean = xb
        if adversarial:
            net.eval()
            xb = run_attack(adversarial["method"], net, xb, yb, adversarial["eps"], generator=gen)
        net.train()
        loss = F.cross_entropy(net(xb), yb)
        if adversarial and adversarial.get("mix", 1.0) < 1:
            loss = adversarial["mix"] * loss + (1 - adversarial["mix"]) * F.cross_entropy(net(clean), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    best_state, history, best = fit(train, val, epochs, batch_size, step,
                                    lambda xv, yv: accuracy(net, xv, yv, device=device),
                                    lambda: copy.deepcopy(net.state_dict()), sched.step, seed, device, quiet, log)
    net.load_state_dict(best_state)
    net.eval()
    return history, best


def bayes_lr_factor(epoch):
    """The reference's Bayesian ResNet schedule: x1 to epoch 79, then x0.1, x0.01 (120), x0.001 (160), x0.0005 (180)."""
    return 1.0 if epoch < 80 else 0.1 if epoch < 120 else 0.01 if epoch < 160 else 1e-3 if epoch < 180 else 5e-4


def train_bayesian_sgd(net, train, val, epochs, lr=1e-3, batch_size=128, num_particles=1, init_scale=0.02,
                          lr_factor=bayes_lr_factor, seed=0, device="cpu", quiet=False, log=print):
    """The Bayesian "sgd" recipe: mean-field variational inference with Pyro over every conv and linear weight of `net`.

    Prior N(0, 1) per weight; q = prod N(loc, scale^2) with locs starting at `net`'s weights (a fresh
    Kaiming init, or a trained deterministic net) and scales at `init_scale`. The loss is the full-data
    negative ELBO with the analytic KL of every layer (TraceMeanField_ELBO; the reference added the KL of
    one block per stage), the likelihood scaled by N / batch. Batch norm stays a point estimate, trained
    alongside. Model selection: the posterior-mean net's validation accuracy.
    Returns ((guide (loc, scale) per weight, batch-norm state), history, best validation accuracy).
    """
    import pyro
    from pyro.infer import SVI, TraceMeanField_ELBO

    from .bayesian import BayesianNet, MeanFieldGuide

    pyro.clear_param_store()
    bnn = BayesianNet(net.cpu()).to(device)
    state = bnn.net.state_dict()
    guide = MeanFieldGuide({k: state[k].to(device) for k in bnn.sample_names}, init_scale)
    optim = pyro.optim.LambdaLR({"optimizer": torch.optim.Adam, "optim_args": {"lr": lr}, "lr_lambda": lr_factor})
    svi = SVI(bnn.model, guide, optim, loss=TraceMeanField_ELBO(num_particles=num_particles))
    n = len(train[0])
    template = copy.deepcopy(net).to(device).eval()

    def step(xb, yb, gen):
        bnn.pnet.train()
        return svi.step(xb, yb, n) / n

    def point_state():  # batch norm's parameters and running statistics
        return {k: v.detach().clone() for k, v in bnn.pnet.state_dict().items()}

    def evaluate(xv, yv):  # the posterior-mean net
        template.load_state_dict({**point_state(), **{k: loc for k, (loc, _) in guide.params().items()}})
        return accuracy(template, xv, yv, device=device)

    def snapshot():
        return ({k: (loc.cpu().clone(), scale.cpu().clone()) for k, (loc, scale) in guide.params().items()},
                {k: v.cpu() for k, v in point_state().items()})

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the ELBO's weight draws
        best_state, history, best = fit(train, val, epochs, batch_size, step, evaluate, snapshot, optim.step,
                                        seed, device, quiet, log)
    return best_state, history, best


def bayesian_posterior(guide_params, point_state, n_samples, seed):
    """n stacked full state dicts: weights drawn from the guide (seeded per sample), batch norm repeated."""
    from .bayesian import sample_mean_field
    drawn = sample_mean_field(guide_params, n_samples, seed)
    fixed = {k: v.unsqueeze(0).expand(n_samples, *v.shape).clone() for k, v in point_state.items() if k not in drawn}
    return {**drawn, **fixed}
