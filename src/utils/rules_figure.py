"""The shared part of the rules figures (Fig. 5 and the appendix per-model plot)."""
import pandas as pd

from .errors import UserError
from .lrp import RULES
from .metrics import mann_whitney_less, significance_symbol, wilcoxon_paired
from .results import differences, robustness_frame, save_csv


def rules_differences(root, model_idx, attack_method, topk, n_samples, layers=None, lrp_method="avg_heatmap",
                      lrp_compat="default", debug=False, n_inputs=None):
    """Per-image Adv - Det and Bay - Det (n = n_samples) for every rule and the given layers, plus the robustness."""
    frame = robustness_frame(root, model_idx, attack_method, RULES, layers, (n_samples,), topk, lrp_method,
                             lrp_compat, debug, n_inputs)
    return differences(frame, (n_samples,)), frame


def rules_stats(frame, n_samples):
    """Per (rule, layer): the reference's three one-sided Mann-Whitney p-values and paired Wilcoxon tests."""
    rows = []
    for (rule, layer), g in frame.groupby(["rule", "layer_idx"]):
        get = lambda m, n=0: g[(g.model == m) & (g.n_samples == n)].sort_values("image").lrp_robustness.to_numpy()  # noqa: E731
        det, adv, bay = get("Det"), get("Adv"), get("Bay", n_samples)
        rows.append({"rule": rule, "layer_idx": layer, "adv_minus_det_median": float(pd.Series(adv - det).median()),
                     "bay_minus_det_median": float(pd.Series(bay - det).median()),
                     "adv_p_value": mann_whitney_less(det, adv), "bay_p_value": mann_whitney_less(det, bay),
                     "p_value": mann_whitney_less(adv, bay), "wilcoxon_adv_minus_det": wilcoxon_paired(adv - det),
                     "wilcoxon_bay_minus_det": wilcoxon_paired(bay - det), "wilcoxon_bay_minus_adv": wilcoxon_paired(bay - adv)})
    out = pd.DataFrame(rows)
    out["symbol"] = out.p_value.map(significance_symbol)
    return out


def cached(path, load, compute):
    """With --load, read the per-image table cached beside the figure; otherwise compute and cache it."""
    if load:
        if not path.exists():
            raise UserError(f"no cached table {path}; run the same command without --load first")
        return pd.read_csv(path)
    df = compute()
    save_csv(df, path)
    return df
