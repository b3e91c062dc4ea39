"""Robustness of explanations and the statistics of the figures (reference.md section 9, decisions.md).

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


def select_topk(h, topk):
    """The signed top-k % selection: boolean masks (positive picks, negative picks), each (N, P).

    The int(P * (k/2) / 100) largest and as many smallest entries of each flattened heatmap; ties
    (zero-relevance background above all) are broken by the lower pixel index (stable sort).
    """
    flat = _flat(h)
    half = topk_half(flat.shape[1], topk)
    pos = torch.zeros_like(flat, dtype=torch.bool)
    neg = torch.zeros_like(flat, dtype=torch.bool)
    if half > 0:
        pos.scatter_(1, torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :half], True)
        neg.scatter_(1, torch.sort(flat, dim=1, stable=True).indices[:, :half], True)
    return pos, neg


def tie_fraction(h):
    """Per image, the fraction of entries with exactly zero relevance (their order is a tie)."""
    return (_flat(h) == 0).float().mean(1)


def lrp_robustness(h_clean, h_adv, topk, signed=False):
    """Imagewise LRP robustness |S(h(x)) ∩ S(h(x~))| / |S(h(x))|, S the pooled top-k picks (the paper's).

    `signed=True`: a pixel counts only if it is picked with the same sign in both maps.
    """
    p1, n1 = select_topk(h_clean, topk)
    p2, n2 = select_topk(h_adv, topk)
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
