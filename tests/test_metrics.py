import numpy as np
import pytest
import torch
from scipy import stats

from utils.metrics.robustness import (abs_topk_robustness, heatmap_spearman, l2_distance, lrp_robustness, mann_whitney_less,
                           masked_topk, select_topk, significance_symbol, spearman, tie_fraction, topk_half,
                           wilcoxon_paired)


def maps(*rows):
    return torch.tensor(rows, dtype=torch.float32).view(len(rows), 1, 1, -1)


def test_topk_half_matches_the_reference_counts():
    assert topk_half(784, 20) == 78 and topk_half(784, 30) == 117 and topk_half(3072, 20) == 307
    assert topk_half(10, 0) == 0 and topk_half(10, 100) == 5


def test_signed_selection_picks_extremes_and_breaks_ties_by_index():
    h = maps([0.5, -1.0, 0.0, 2.0, 0.0, -0.2, 0.0, 0.0, 0.0, 0.0])
    pos, neg = select_topk(h, 40)  # half = 2
    assert pos[0].nonzero().flatten().tolist() == [0, 3]
    assert neg[0].nonzero().flatten().tolist() == [1, 5]
    pos, neg = select_topk(h, 80)  # half = 4: zeros join, lowest indices first
    assert pos[0].nonzero().flatten().tolist() == [0, 2, 3, 4]
    assert neg[0].nonzero().flatten().tolist() == [1, 2, 4, 5]


def test_robustness_on_hand_made_maps():
    clean = maps([3, 2, 1, 0, 0, 0, 0, 0, -1, -2])
    assert lrp_robustness(clean, clean, 40).item() == 1.0
    flipped = maps([-3, -2, 0, 0, 0, 0, 0, 0, 2, 1])  # same pixels, opposite signs
    assert lrp_robustness(clean, flipped, 40).item() == 1.0  # the paper's metric pools signs
    assert lrp_robustness(clean, flipped, 40, signed=True).item() == 0.0
    moved = maps([0, 0, 0, 3, 2, -1, -2, 0, 0, 0])
    assert lrp_robustness(clean, moved, 40).item() == 0.0
    half = maps([3, 0, 0, 2, 0, 0, 0, 0, -1, -2])  # keeps 0, 8, 9 of {0, 1, 8, 9}
    assert lrp_robustness(clean, half, 40).item() == pytest.approx(0.75)


def test_all_zero_maps_and_k_edges():
    zero = maps([0.0] * 10)
    assert lrp_robustness(zero, zero, 40).item() == 1.0 and tie_fraction(zero).item() == 1.0
    some = maps([1, 0, 0, 0, 0, 0, 0, 0, 0, -1])
    assert lrp_robustness(some, some, 0).item() == 0.0  # nothing selected
    r = lrp_robustness(some, maps([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), 100)
    assert 0 <= r.item() <= 1
    assert tie_fraction(some).item() == pytest.approx(0.8)


def test_other_metrics():
    a = maps([3, 2, 1, 0, -1, -2, -3, 0, 0, 0])
    b = maps([-3, 2, 1, 0, -1, -2, 3, 0, 0, 0])
    assert abs_topk_robustness(a, b, 20).item() == 1.0  # |values| identical
    assert heatmap_spearman(a, a).item() == pytest.approx(1.0)
    assert heatmap_spearman(a, b).item() == pytest.approx(stats.spearmanr(a.flatten(), b.flatten()).statistic, abs=1e-6)
    assert l2_distance(a, b).item() == pytest.approx(np.sqrt(72))
    assert masked_topk(a, 20).flatten().tolist() == [3, 0, 0, 0, 0, 0, -3, 0, 0, 0]


def test_statistics_against_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(0.5, size=50)
    assert mann_whitney_less(a, b) == pytest.approx(stats.mannwhitneyu(a, b, alternative="less").pvalue)
    assert wilcoxon_paired(b - a) == pytest.approx(stats.wilcoxon(b - a).pvalue)
    assert np.isnan(wilcoxon_paired(np.zeros(5)))
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
    assert np.isnan(spearman(a, np.ones(50)))
    assert [significance_symbol(p) for p in (0.5, 0.03, 0.005, 5e-4, 1e-5, float("nan"))] == \
        ["n.s.", "*", "**", "***", "****", "n.s."]
