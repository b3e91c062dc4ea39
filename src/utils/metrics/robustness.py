"""Robustness of explanations and the statistics of the figures (docs/metrics.md).

Heatmaps are flattened per image: (N, P) with P = C*H*W entries.
"""
import numpy as np
import torch
from scipy import stats


def _flat(h):
    return h.reshape(h.shape[0], -1).float()


def topk_half(n_entries, topk):
    """How many most-positive (and as many most-negative) entries the top-k % selection takes."""
    return int(n_entries * (topk / 2) / 100)


TIES = ("index", "random")


def _order(flat, descending, perm=None):
    """Indices sorting each row; equal entries keep their pixel order, or the order of `perm` (N, P) if given."""
    if perm is None:
        return torch.sort(flat, dim=1, descending=descending, stable=True).indices
    idx = torch.sort(flat.gather(1, perm), dim=1, descending=descending, stable=True).indices
    return perm.gather(1, idx)


def tie_permutation(shape, generator):
    """A random pixel order per map (N, P): the tie-breaking of `ties="random"`."""
    return torch.argsort(torch.rand(shape, generator=generator), dim=1)


def select_topk(h, topk, perm=None):
    """The signed top-k % selection: boolean masks (positive picks, negative picks), each (N, P).

    The int(P * (k/2) / 100) largest and as many smallest entries of each flattened heatmap; ties
    (zero-relevance background above all) are broken by the lower pixel index (stable sort), or by the
    random pixel order `perm` (N, P) of each map (`tie_permutation`).
    """
    flat = _flat(h)
    half = topk_half(flat.shape[1], topk)
    pos = torch.zeros_like(flat, dtype=torch.bool)
    neg = torch.zeros_like(flat, dtype=torch.bool)
    if half > 0:
        pos.scatter_(1, _order(flat, True, perm)[:, :half], True)
        neg.scatter_(1, _order(flat, False, perm)[:, :half], True)
    return pos, neg


def tie_fraction(h):
    """Per image, the fraction of entries with exactly zero relevance (their order is a tie)."""
    return (_flat(h) == 0).float().mean(1)


def lrp_robustness(h_clean, h_adv, topk, signed=False, ties="index", seed=0):
    """Imagewise LRP robustness |S(h(x)) ∩ S(h(x~))| / |S(h(x))|, S the pooled top-k picks (the paper's).

    `signed=True`: a pixel counts only if it is picked with the same sign in both maps.
    `ties="random"`: tied entries are ordered at random, independently for every map (the clean maps'
    orders drawn first, then the attacked maps', from one generator seeded by `seed`), so which
    zero-relevance pixels are picked no longer depends on their position.
    """
    if ties not in TIES:
        raise ValueError(f"unknown ties {ties!r}")
    perm1 = perm2 = None
    if ties == "random":
        gen = torch.Generator().manual_seed(seed)
        shape = _flat(h_clean).shape
        perm1, perm2 = tie_permutation(shape, gen), tie_permutation(shape, gen)
    p1, n1 = select_topk(h_clean, topk, perm1)
    p2, n2 = select_topk(h_adv, topk, perm2)
    size = (p1 | n1).sum(1).clamp(min=1).float()
    if signed:
        shared = (p1 & p2).sum(1) + (n1 & n2).sum(1)
    else:
        shared = ((p1 | n1) & (p2 | n2)).sum(1)
    return shared.float() / size


def abs_topk_robustness(h_clean, h_adv, topk):
    """Intersection over the k % entries of largest |relevance| (a sign-blind variant)."""
    a, b = _flat(h_clean).abs(), _flat(h_adv).abs()
    k = max(1, int(a.shape[1] * topk / 100))
    m1 = torch.zeros_like(a, dtype=torch.bool).scatter_(1, torch.sort(a, dim=1, descending=True, stable=True).indices[:, :k], True)
    m2 = torch.zeros_like(b, dtype=torch.bool).scatter_(1, torch.sort(b, dim=1, descending=True, stable=True).indices[:, :k], True)
    return (m1 & m2).sum(1).float() / k


def heatmap_spearman(h_clean, h_adv):
    """Per image, Spearman's rank correlation between the clean and the attacked heatmap (0 if constant)."""
    ra = stats.rankdata(_flat(h_clean).numpy(), axis=1)
    rb = stats.rankdata(_flat(h_adv).numpy(), axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    return torch.from_numpy(np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1), 0.0)).float()


def deletion_drop(logit_fn, x, heatmaps, topk, fill=0.0):
    """Pixel-deletion faithfulness, per image: the fall of the explained logit when the top-k % entries of
    largest relevance are set to `fill`, z_c(x) - z_c(x_deleted), c = argmax z(x).

    `logit_fn` maps images (N, ...) to logits (N, C) (a model of several samples: their mean). A faithful
    map puts its largest relevance where deleting hurts; a blurry one falls less. Returns (drop, target).
    """
    flat = _flat(heatmaps)
    k = max(1, int(flat.shape[1] * topk / 100))
    top = torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :k]
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, top, True).view(x.shape)
    with torch.no_grad():
        z = logit_fn(x)
        target = z.argmax(1)
        z_del = logit_fn(torch.where(mask, torch.as_tensor(fill, dtype=x.dtype), x))
    rows = torch.arange(len(x))
    return (z[rows, target] - z_del[rows, target]), target


def l2_distance(h_clean, h_adv):
    return (_flat(h_clean) - _flat(h_adv)).norm(dim=1)


def masked_topk(h, topk):
    """The heatmap with every entry outside its own top-k % selection set to zero (Fig. 1)."""
    pos, neg = select_topk(h, topk)
    return (_flat(h) * (pos | neg)).view_as(h)


def intersection_mask(h_clean, h_adv, topk):
    """(N, P) mask of the pixels picked in both maps (Fig. 3)."""
    p1, n1 = select_topk(h_clean, topk)
    p2, n2 = select_topk(h_adv, topk)
    return (p1 | n1) & (p2 | n2)


# ----------------------------------------------------------------------------------------------
# Statistics
def mann_whitney_less(a, b):
    """One-sided, unpaired Mann-Whitney U p-value of a < b (the reference's test)."""
    return float(stats.mannwhitneyu(np.asarray(a), np.asarray(b), alternative="less").pvalue)


def wilcoxon_paired(diff, alternative="two-sided"):
    """Wilcoxon signed-rank p-value of paired per-image differences (nan when every difference is 0)."""
    diff = np.asarray(diff, dtype=float)
    if np.all(diff == 0):
        return float("nan")
    return float(stats.wilcoxon(diff, alternative=alternative, zero_method="wilcox").pvalue)


def spearman(a, b):
    """Spearman's rho between two per-image arrays (nan if either is constant)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def significance_symbol(p):
    """n.s., *, **, ***, **** for p > 0.05, <= 0.05, 0.01, 0.001, 1e-4 (the reference's thresholds)."""
    if not np.isfinite(p) or p > 0.05:
        return "n.s."
    for cut, sym in ((1e-4, "****"), (1e-3, "***"), (1e-2, "**")):
        if p <= cut:
            return sym
    return "*"
