"""Appendix: LRP robustness differences for the three rules, one row per learnable layer, for one model idx.

    python src/lrp_rules_robustness.py --model_idx 2 --attack_method fgsm
"""
from utils import cli
from utils.figures import plots
from utils.figures.figure_cli import bayes_variant, describe, figure_parser, output, protocol_tag, setup
from utils.metrics.robustness import significance_symbol
from utils.figures.results import learnable_layers, save_csv
from utils.figures.rules_figure import cached, rules_differences, rules_stats


def main(argv=None, description=__doc__.splitlines()[0], model_idx=0):
    p = figure_parser(description, model_idx=model_idx, rule=False)
    cli.add_bool(p, "--load", help="redraw from the cached per-image table")
    args = p.parse_args(argv)
    root, figures, settings = setup(args)
    stem = (f"rules_robustness_{settings['dataset']}_{settings['inference']}_{args.attack_method}_"
            f"samples={args.n_samples}_topk={args.topk}_model_idx={args.model_idx}{protocol_tag(args)}")
    folder = figures / "rules_robustness"
    box = {}

    def compute():
        diffs, frame = rules_differences(root, args.model_idx, args.attack_method, args.topk, args.n_samples,
                                         lrp_method=args.lrp_method, lrp_compat=args.lrp_compat, debug=args.debug,
                                         n_inputs=args.n_inputs, source=args.attack_source, ties=args.ties,
                                         bayes_model=args.bayes_model, var=bayes_variant(args))
        box["stats"] = rules_stats(frame, args.n_samples)
        return diffs.merge(box["stats"][["rule", "layer_idx", "p_value", "adv_p_value", "bay_p_value"]],
                           on=["rule", "layer_idx"])
    png = output(args, folder / f"{stem}.png")
    diffs = cached(png.with_name(png.stem + "_data.csv"), args.load, compute)
    layers = learnable_layers(args.model_idx)
    panels = {f"Layer idx={L}": diffs[diffs.layer_idx == L] for L in layers}
    symbols = {f"Layer idx={L}": {r: significance_symbol(g.p_value.iloc[0]) for r, g in diffs[diffs.layer_idx == L].groupby("rule")}
               for L in layers}
    path = plots.rules_boxplots(panels, png, {}, symbols)
    if "stats" in box:
        save_csv(box["stats"], path.with_suffix(".csv"))
    print(f"{describe(settings, args.model_idx, args.attack_method)}: saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
