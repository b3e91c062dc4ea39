"""Fig. 6: LRP robustness against softmax robustness per image, per layer, with Spearman's rho per layer.

    python src/lrp_robustness_scatterplot.py --model_idx 0 --attack_method fgsm
    python src/lrp_robustness_scatterplot.py --model_idx 2 --attack_method pgd
"""
from utils import cli
from utils.figures import plots
from utils.figures.figure_cli import bayes_variant, describe, figure_parser, output, protocol_tag, setup
from utils.figures.results import correlation_table, learnable_layers, robustness_frame, save_csv


def main():
    args = figure_parser(__doc__.splitlines()[0]).parse_args()
    root, figures, settings = setup(args)
    n_list = tuple(n for n in (50,) if n < args.n_samples) + (args.n_samples,)  # drawn with what it says
    frame = robustness_frame(root, args.model_idx, args.attack_method, (args.rule,), n_list=n_list, topk=args.topk,
                             lrp_method=args.lrp_method, lrp_compat=args.lrp_compat, debug=args.debug, n_inputs=args.n_inputs,
                             source=args.attack_source, ties=args.ties, bayes_model=args.bayes_model,
                             var=bayes_variant(args))
    corr = correlation_table(frame)
    stem = (f"scatterplot_lrp_robustness_{settings['dataset']}_{settings['inference']}_images={frame.n_inputs.iloc[0]}_"
            f"rule={args.rule}_samples={args.n_samples}_atk={args.attack_method}_model_idx={args.model_idx}_"
            f"layers_topk={args.topk}{protocol_tag(args)}")
    path = plots.robustness_scatter(frame, corr, learnable_layers(args.model_idx),
                                    output(args, figures / "layers_robustness" / f"{stem}.png"),
                                    describe(settings, args.model_idx, args.attack_method), n_show=n_list)
    save_csv(corr, path.with_suffix(".csv"))
    save_csv(frame[["layer_idx", "model", "n_samples", "image", "lrp_robustness", "softmax_robustness"]],
             path.with_name(path.stem + "_points.csv"))
    for _, row in corr.iterrows():
        print(f"layer {row.layer_idx} {row.model}{f' n={row.n_samples}' if row.n_samples else ''}: rho = {row.spearman_rho:.2f}")
    print(f"saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
