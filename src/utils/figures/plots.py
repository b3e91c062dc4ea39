"""One plotting style for every figure (the reference's look): seaborn darkgrid, dpi 150."""
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..artifacts import atomic_write  # noqa: E402

DPI = 150


def set_style():
    sns.set_style("darkgrid")
    plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 8})


def save_figure(fig, path):
    """Save atomically (temporary file, then rename) and close the figure."""
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, bbox_inches="tight", format=Path(path).suffix[1:]))
    finally:
        plt.close(fig)
    return Path(path)


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


def det_color():
    return sns.color_palette("flare", 10)[6]


def adv_color():
    return sns.color_palette("rocket", 10)[7]


def bay_colors(n_list=(10, 50, 100)):
    """crest at linspace(0, 1, 4)[1:] for n = 10, 50, 100."""
    cmap = sns.color_palette("crest", as_cmap=True)
    return {n: cmap(v) for n, v in zip(n_list, [1 / 3, 2 / 3, 1.0])}


def robustness_diff_densities(diffs, layers, path, title):
    """Fig. 4: one row per layer, filled densities of Adv - Det and Bay - Det for each n."""
    import warnings
    set_style()
    fig, axes = plt.subplots(len(layers), 1, figsize=(3.6, 1.3 * len(layers) + 0.9), sharex=True, sharey=False,
                             squeeze=False)
    colors = {("Adv - Det", 0): adv_color(), **{("Bay - Det", n): c for n, c in bay_colors().items()}}
    for ax, layer in zip(axes[:, 0], layers):
        sub = diffs[diffs.layer_idx == layer]
        for (label, n), color in colors.items():
            d = sub[(sub.comparison == label) & (sub.n_samples == n)].robustness_diff
            if len(d) == 0:
                continue
            name = label if label == "Adv - Det" else f"Bay - Det samp={n}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if d.std() > 0:
                    sns.kdeplot(d, ax=ax, fill=True, alpha=0.5, linewidth=0, color=color, label=name, warn_singular=False)
                else:
                    ax.axvline(d.iloc[0], color=color, label=name, lw=2)
        ax.axvline(0, color="k", lw=0.6, ls=":")
        ax.set_ylabel("")
        ax.text(1.02, 0.5, f"Layer idx={layer}", transform=ax.transAxes, rotation=270, va="center", fontsize=7)
    axes[-1, 0].set_xlabel("LRP Robustness diff.")
    axes[0, 0].set_title(title, fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=6.5, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout()
    return save_figure(fig, path)


def robustness_scatter(frame, corr, layers, path, title, n_show=(50, 100)):
    """Fig. 6: LRP robustness (x) against softmax robustness (y), one row per layer, rho per layer in the legend."""
    set_style()
    fig, axes = plt.subplots(len(layers), 1, figsize=(3.6, 1.6 * len(layers) + 0.6), sharex=True, sharey=True,
                             squeeze=False)
    series = [("Det", 0, det_color()), ("Adv", 0, adv_color())] + [("Bay", n, bay_colors()[n]) for n in n_show]
    for ax, layer in zip(axes[:, 0], layers):
        for model, n, color in series:
            g = frame[(frame.layer_idx == layer) & (frame.model == model) & (frame.n_samples == n)]
            if len(g) == 0:
                continue
            rho = corr[(corr.layer_idx == layer) & (corr.model == model) & (corr.n_samples == n)].spearman_rho.iloc[0]
            name = (f"Bay samp={n}" if model == "Bay" else model) + f"  ρ={rho:.2f}"
            ax.scatter(g.lrp_robustness, g.softmax_robustness, s=7, alpha=0.5, lw=0, color=color, label=name)
        ax.legend(fontsize=5.5, loc="lower right", frameon=True, markerscale=1.5, handletextpad=0.2)
        ax.text(1.02, 0.5, f"Layer idx={layer}", transform=ax.transAxes, rotation=270, va="center", fontsize=7)
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.05, 1.05)
    axes[-1, 0].set_xlabel("LRP Robustness")
    fig.text(0.0, 0.5, "Softmax Robustness", rotation=90, va="center", fontsize=8)
    axes[0, 0].set_title(title, fontsize=8)
    fig.tight_layout(rect=(0.03, 0, 1, 1))
    return save_figure(fig, path)


RULE_TICKS = {"epsilon": "ε", "gamma": "γ", "alpha1beta0": "αβ"}


def rules_boxplots(panels, path, row_labels, symbols, figsize=None, missing_rows=()):
    """Fig. 5 / appendix: rows (datasets or layers) x columns (Adv - Det, Bay - Det), boxplots over the rules.

    `panels[row]` is a frame of differences with columns rule, comparison, robustness_diff;
    `symbols[row]` the significance symbol per rule (drawn under both columns, as the reference).
    """
    set_style()
    rows = list(panels) + list(missing_rows)
    fig, axes = plt.subplots(len(rows), 2, figsize=figsize or (4.4, 1.5 * len(rows) + 0.6), sharex=True,
                             sharey="row", squeeze=False)
    rules = ["epsilon", "gamma", "alpha1beta0"]
    palettes = {"Adv - Det": [sns.color_palette("rocket", 13)[3:][i] for i in (2, 4, 6)],
                "Bay - Det": [sns.color_palette("crest", 10)[3:][i] for i in (2, 4, 6)]}
    for r, row in enumerate(rows):
        if row in missing_rows:
            for ax in axes[r]:
                ax.text(0.5, 0.5, f"{row}: not computed yet", ha="center", va="center", transform=ax.transAxes,
                        fontsize=6.5, color="0.3")
                ax.set_yticks([])
            axes[r, 1].text(1.03, 0.5, row_labels.get(row, row), transform=axes[r, 1].transAxes, rotation=270,
                            va="center", fontsize=7)
            continue
        df = panels[row]
        data = {comparison: [df[(df.comparison == comparison) & (df.rule == rule)].robustness_diff.to_numpy()
                             for rule in rules] for comparison in ("Adv - Det", "Bay - Det")}
        values = [v for d in data.values() for arr in d for v in arr]
        low, high = (min(values), max(values)) if values else (-1, 1)
        span = max(high - low, 0.1)
        for c, comparison in enumerate(("Adv - Det", "Bay - Det")):
            ax = axes[r, c]
            box = ax.boxplot(data[comparison], positions=range(3), widths=0.6, patch_artist=True,
                             flierprops={"markersize": 3, "alpha": 0.5}, medianprops={"color": "k"})
            for patch, color in zip(box["boxes"], palettes[comparison]):
                patch.set_facecolor(color)
                patch.set_alpha(0.7)
            ax.axhline(0, color="k", lw=0.6, ls=":")
            for i, rule in enumerate(rules):  # the adv-vs-bay symbol under both columns, as the reference
                ax.text(i, low - 0.08 * span, symbols[row].get(rule, ""), ha="center", va="top", fontsize=6)
            ax.set_ylim(low - 0.25 * span, high + 0.08 * span)
            if r == 0:
                ax.set_title(comparison, fontsize=8)
        axes[r, 1].text(1.03, 0.5, row_labels.get(row, row), transform=axes[r, 1].transAxes, rotation=270,
                        va="center", fontsize=7)
    for ax in axes[-1]:
        ax.set_xticks(range(3))
        ax.set_xticklabels([RULE_TICKS[x] for x in rules])
    axes[len(rows) // 2, 0].set_ylabel("LRP robustness diff.")
    for ax in axes[-1]:
        ax.set_xlabel("LRP rule")
    fig.tight_layout()
    return save_figure(fig, path)


def _heatmap_norm(maps):
    from matplotlib.colors import TwoSlopeNorm
    lo = min(float(m.min()) for m in maps)
    hi = max(float(m.max()) for m in maps)
    lo, hi = min(lo, -1e-9), max(hi, 1e-9)
    return TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)


def _img(t):
    return t.permute(1, 2, 0).squeeze(-1).numpy()


def heatmaps_det_vs_bay(rows, path):
    """Fig. 1: rows (Deterministic, Bayesian) x columns (x~, R(x), R(x~)), one shared colour norm and bar.

    `rows` maps a row name to (x_adv, heat_clean, heat_adv), heatmaps already masked to their top-k.
    """
    set_style()
    plt.rcParams["font.family"] = "serif"
    fig, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.6 * len(rows) + 0.3), squeeze=False)
    norm = _heatmap_norm([m for _, h, ha in rows.values() for m in (h, ha)])
    for r, (name, (x_adv, h, h_adv)) in enumerate(rows.items()):
        axes[r, 0].imshow(_img(x_adv), cmap="Greys", vmin=0, vmax=1)
        for c, m in ((1, h), (2, h_adv)):
            im = axes[r, c].imshow(_img(m), cmap="RdBu_r", norm=norm)
        axes[r, 0].text(-0.12, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right",
                        fontweight="bold", fontsize=8)
    for c, title in enumerate(("$\\tilde{x}$", "$R(x)$", "$R(\\tilde{x})$")):
        axes[0, c].set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.subplots_adjust(right=0.86, wspace=0.05, hspace=0.08)
    cax = fig.add_axes([0.88, 0.15, 0.025, 0.7])
    fig.colorbar(im, cax=cax)
    cax.tick_params(labelsize=6)
    out = save_figure(fig, path)
    plt.rcParams["font.family"] = "sans-serif"
    return out


def layer_heatmaps(x, x_adv, label, pred, pred_adv, layer_maps, overlay_mask, path):
    """Fig. 3: rows (image, attack) x columns (the input with the last layer's shared pixels, then each
    layer's heatmap restricted to its shared top-k pixels); one colour norm and bar per row."""
    set_style()
    n_layers = len(layer_maps)
    fig, axes = plt.subplots(2, n_layers + 1, figsize=(1.75 * (n_layers + 1) + 0.4, 3.9), squeeze=False)
    for r, (img, caption) in enumerate(((x, f"Label={label}\nPrediction={pred}"), (x_adv, f"Prediction={pred_adv}"))):
        ax = axes[r, 0]
        ax.imshow(_img(img), cmap="Greys", vmin=0, vmax=1)
        over = (_img(img) * overlay_mask)
        ax.imshow(np.ma.masked_where(over == 0, over), cmap="viridis", alpha=0.8)  # shared pixels with ink
        ax.set_title(caption, fontsize=7)
        row_maps = [maps[r] for maps in layer_maps.values()]
        norm = _heatmap_norm(row_maps)
        for c, (layer, maps) in enumerate(layer_maps.items(), start=1):
            im = axes[r, c].imshow(_img(maps[r]), cmap="RdBu_r", norm=norm)
            if r == 0:
                axes[r, c].set_title(f"Layer idx={layer}", fontsize=7)
        cbar = fig.colorbar(im, ax=list(axes[r]), fraction=0.02, pad=0.02)
        cbar.set_label("LRP", fontsize=7)
        cbar.ax.tick_params(labelsize=6)
        axes[r, 0].text(-0.15, 0.5, ("Image", "Attack")[r], transform=axes[r, 0].transAxes, rotation=90, va="center",
                        ha="right", fontweight="bold", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, path)


def _annotated(ax, values, annot, rows, cols, cmap, center=None, title="", col_norm=False):
    """An annotated heatmap of values (rows x cols); `col_norm` colours each column on its own scale."""
    shown = values.copy()
    if col_norm:
        lo, hi = np.nanmin(shown, 0), np.nanmax(shown, 0)
        shown = (shown - lo) / np.where(hi > lo, hi - lo, 1)
    kw = {"center": center} if center is not None else {}
    if center is not None:
        span = np.nanmax(np.abs(values)) or 1.0
        kw.update(vmin=-span, vmax=span)
    sns.heatmap(shown, ax=ax, cmap=cmap, annot=annot, fmt="", cbar=False, annot_kws={"fontsize": 5},
                linewidths=0.3, linecolor="white", xticklabels=cols, yticklabels=rows, **kw)
    ax.set_title(title, fontsize=7)
    ax.tick_params(labelsize=5.5, length=0)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=60, ha="right")


def controls_figure(table, path):
    """The controls study: per dataset, the median gain over Det (paper's metric; random tie-breaking) for
    every variant x (protocol, rule), with a star where the paired Wilcoxon p < 0.01, and the per-model numbers."""
    set_style()
    datasets = list(dict.fromkeys(table.dataset))
    variants = list(dict.fromkeys(table.variant))
    protocols = [p for p in ("own", "det", "eot", "random") if p in set(table.protocol)]
    rules = ["epsilon", "gamma", "alpha1beta0"]
    cols = [(p, r) for p in protocols for r in rules]
    col_names = [f"{p} {RULE_TICKS[r]}" for p, r in cols]
    fig, axes = plt.subplots(len(datasets), 3, figsize=(13, 3.6 * len(datasets) + 0.4), squeeze=False,
                             gridspec_kw={"width_ratios": [len(cols), len(cols), 6]})
    for r, ds in enumerate(datasets):
        d = table[table.dataset == ds]
        for c, metric in enumerate(("lrp_robustness", "lrp_robustness_random_ties")):
            m = d[d.metric == metric].set_index(["variant", "protocol", "rule"])
            vals = np.array([[m.gain_over_det_median.get((v, p, ru), np.nan) for p, ru in cols] for v in variants])
            pv = np.array([[m.gain_over_det_wilcoxon_p.get((v, p, ru), np.nan) for p, ru in cols] for v in variants])
            annot = np.array([[("" if np.isnan(x) else f"{x:+.2f}" + ("*" if q < 0.01 else ""))
                               for x, q in zip(row, prow)] for row, prow in zip(vals, pv)])
            name = "top-k (paper's metric)" if c == 0 else "top-k, ties broken at random"
            _annotated(axes[r, c], vals, annot, variants if c == 0 else False, col_names, "RdBu_r", center=0.0,
                       title=f"{ds}: median gain over Det, {name}")
        e = d[(d.metric == "lrp_robustness") & (d.rule == "epsilon")].set_index(["variant", "protocol"])
        side = [("clean acc", "own", "clean_accuracy"), ("adv acc own", "own", "adversarial_accuracy"),
                ("adv acc det", "det", "adversarial_accuracy"), ("L2 own", "own", "perturbation_l2_mean"),
                ("L2 eot", "eot", "perturbation_l2_mean"), ("deletion ε / random", "own", "deletion_ratio")]
        vals = np.array([[e[col].get((v, p), np.nan) for _, p, col in side] for v in variants], dtype=float)
        annot = np.array([[("" if np.isnan(x) else f"{x:.2f}") for x in row] for row in vals])
        _annotated(axes[r, 2], vals, annot, False, [s[0] for s in side], "Greens", title="per model", col_norm=True)
    fig.suptitle("Does the Bayesian gain survive its controls? (* paired Wilcoxon p < 0.01)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
