"""The shared part of the rules figures (Fig. 5 and the appendix per-model plot)."""

from ..lrp.engine import RULES
from ..metrics.robustness import significance_symbol
from .results import comparison_stats, differences, load_csv, robustness_frame, save_csv


def rules_differences(root, model_idx, attack_method, topk, n_samples, layers=None, lrp_method="avg_heatmap",
                      lrp_compat="default", debug=False, n_inputs=None, source="own", ties="index", bayes_model="fullBNN",
                      var=None):
    """Per-image Adv - Det and Bay - Det (n = n_samples) for every rule and the given layers, plus the robustness."""
    frame = robustness_frame(root, model_idx, attack_method, RULES, layers, (n_samples,), topk, lrp_method,
                             lrp_compat, debug, n_inputs, source, ties, bayes_model, var)
    return differences(frame, (n_samples,)), frame


# comparison_stats' columns under the reference's names (adv_p_value, bay_p_value, p_value)
RULES_COLUMNS = {"rule": "rule", "layer_idx": "layer_idx", "adv_minus_det_median": "adv_minus_det_median",
                 "bay_minus_det_median": "bay_minus_det_median", "mw_p_det_less_adv": "adv_p_value",
                 "mw_p_det_less_bay": "bay_p_value", "mw_p_adv_less_bay": "p_value",
                 "adv_minus_det_wilcoxon_p": "wilcoxon_adv_minus_det", "bay_minus_det_wilcoxon_p": "wilcoxon_bay_minus_det",
                 "wilcoxon_p_bay_minus_adv": "wilcoxon_bay_minus_adv"}


def rules_stats(frame, n_samples):
    """Per (rule, layer): the reference's three one-sided Mann-Whitney p-values and paired Wilcoxon tests."""
    out = comparison_stats(frame, n_bay=n_samples)[list(RULES_COLUMNS)].rename(columns=RULES_COLUMNS)
    out["symbol"] = out.p_value.map(significance_symbol)
    return out


def cached(path, load, compute):
    """With --load, read the per-image table cached beside the figure; otherwise compute and cache it."""
    if load:
        return load_csv(path, "run the same command without --load first")
    df = compute()
    save_csv(df, path)
    return df
