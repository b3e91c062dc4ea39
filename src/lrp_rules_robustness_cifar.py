"""Appendix: LRP robustness differences (Adv - Det, Bay - Det) for the three rules on CIFAR-10, ResNet-20s,
output layer (the reference's "layer idx 38").

    python src/lrp_rules_robustness_cifar.py --attack_method fgsm --n_samples 100 --topk 20
"""
from utils import cli, plots
from utils.cifar_cli import LAYER
from utils.figure_cli import figure_parser, setup
from utils.metrics import significance_symbol
from utils.results import save_csv
from utils.rules_figure import cached, cifar_rules_differences, rules_stats


def main():
    p = figure_parser(__doc__.splitlines()[0], rule=False)
    cli.add_bool(p, "--load", help="redraw from the cached per-image table")
    args = p.parse_args()
    root, figures, _ = setup(args)
    images = f"_images={args.n_inputs}" if args.n_inputs else ""
    stem = f"rules_robustness_cifar_svi_{args.attack_method}{images}_samples={args.n_samples}_topk={args.topk}"
    folder = figures / "rules_robustness"
    box = {}

    def compute():
        diffs, frame = cifar_rules_differences(root, args.attack_method, args.topk, args.n_samples, args.lrp_compat,
                                               args.debug, args.n_inputs)
        box["stats"] = rules_stats(frame, args.n_samples)
        return diffs.merge(box["stats"][["rule", "layer_idx", "p_value", "adv_p_value", "bay_p_value"]],
                           on=["rule", "layer_idx"])
    diffs = cached(folder / f"{stem}_data.csv", args.load, compute)
    label = f"Layer idx={LAYER}"
    symbols = {label: {r: significance_symbol(g.p_value.iloc[0]) for r, g in diffs.groupby("rule")}}
    path = plots.rules_boxplots({label: diffs}, folder / f"{stem}.png", {label: f"CIFAR10\n{label}"}, symbols,
                                figsize=(4.4, 2.2))
    if "stats" in box:
        save_csv(box["stats"], path.with_suffix(".csv"))
    print(f"CIFAR-10 ResNet-20, {args.attack_method.upper()}: saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
