"""Fig. 4: densities of the per-image LRP robustness differences Adv - Det and Bay - Det, per layer.

    python src/lrp_robustness_diff.py --model_idx 1 --attack_method fgsm
    python src/lrp_robustness_diff.py --model_idx 3 --attack_method pgd
"""
from utils import cli
from utils.figures import plots
from utils.figures.figure_cli import bayes_variant, describe, figure_parser, output, protocol_tag, setup
from utils.figures.results import comparison_stats, differences, learnable_layers, robustness_frame, save_csv

N_SAMPLES_LIST = (10, 50, 100)


def main():
    args = figure_parser(__doc__.splitlines()[0]).parse_args()
    root, figures, settings = setup(args)
    n_list = tuple(n for n in N_SAMPLES_LIST if n < args.n_samples) + (args.n_samples,)  # drawn with what it says
    frame = robustness_frame(root, args.model_idx, args.attack_method, (args.rule,), n_list=n_list, topk=args.topk,
                             lrp_method=args.lrp_method, lrp_compat=args.lrp_compat, debug=args.debug, n_inputs=args.n_inputs,
                             source=args.attack_source, ties=args.ties, bayes_model=args.bayes_model,
                             var=bayes_variant(args))
    diffs = differences(frame, n_list)
    layers = learnable_layers(args.model_idx)
    stem = (f"diff_lrp_robustness_{settings['dataset']}_{settings['inference']}_images={frame.n_inputs.iloc[0]}_"
            f"rule={args.rule}_samples={args.n_samples}_atk={args.attack_method}_model_idx={args.model_idx}_"
            f"layers_topk={args.topk}{protocol_tag(args)}")
    path = plots.robustness_diff_densities(diffs, layers, output(args, figures / "layers_robustness" / f"{stem}.png"),
                                           describe(settings, args.model_idx, args.attack_method) + f", {args.rule}")
    summary = diffs.groupby(["layer_idx", "comparison", "n_samples"]).robustness_diff.describe().reset_index()
    summary["fraction_positive"] = diffs.groupby(["layer_idx", "comparison", "n_samples"]).robustness_diff.apply(
        lambda d: (d > 0).mean()).to_numpy()
    save_csv(summary, path.with_suffix(".csv"))
    stats = comparison_stats(frame, n_bay=max(n_list))
    save_csv(stats, path.with_name(path.stem + "_stats.csv"))
    for _, row in stats.iterrows():
        print(f"layer {row.layer_idx}: median Adv-Det {row.adv_minus_det_median:+.3f} (Wilcoxon p {row.adv_minus_det_wilcoxon_p:.1e}), "
              f"Bay-Det {row.bay_minus_det_median:+.3f} (p {row.bay_minus_det_wilcoxon_p:.1e})")
    print(f"saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
