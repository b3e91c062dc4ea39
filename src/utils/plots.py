"""One plotting style for every figure (reference.md section 11): seaborn darkgrid, dpi 150."""
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

DPI = 150


def set_style():
    sns.set_style("darkgrid")
    plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 8})


def save_figure(fig, path):
    """Save atomically (temporary file, then rename) and close the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        plt.close(fig)
    return path


def svi_training_curve(history, path):
    set_style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6, 2.5))
    epochs = [h["epoch"] for h in history]
    ax1.plot(epochs, [h["neg_elbo_per_datum"] for h in history], marker="o")
    ax1.set(xlabel="epoch", ylabel="-ELBO / N", title="loss")
    ax2.plot(epochs, [100 * h["train_accuracy"] for h in history], marker="o", color="C1")
    ax2.set(xlabel="epoch", ylabel="%", title="training accuracy (posterior mean)")
    fig.tight_layout()
    return save_figure(fig, path)


def attack_grid(x, x_adv, path, n=10, seed=0, title=None):
    """Ten random clean/adversarial pairs (top row clean, bottom row attacked)."""
    import torch
    set_style()
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    fig, axes = plt.subplots(2, len(idx), figsize=(1.1 * len(idx), 2.4), squeeze=False)
    for col, i in enumerate(idx):
        for row, img in enumerate((x[i], x_adv[i])):
            ax = axes[row, col]
            ax.imshow(img.permute(1, 2, 0).squeeze(-1).numpy(), cmap="Greys", vmin=0, vmax=1)
            ax.axis("off")
    axes[0, 0].set_title("clean", fontsize=7, loc="left")
    axes[1, 0].set_title("attacked", fontsize=7, loc="left")
    if title:
        fig.suptitle(title, fontsize=8)
    return save_figure(fig, path)
