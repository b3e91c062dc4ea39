"""Fig. 5: LRP robustness differences for the three rules at the last layer: MNIST (idx 2), F. MNIST (idx 3)
and CIFAR-10 (ResNet-20; drawn as absent until its pipeline has run).

    python src/lrp_rules_robustness_main.py --attack_method fgsm
"""
from utils import cli, plots
from utils.figure_cli import figure_parser, setup
from utils.metrics import significance_symbol
from utils.results import DATASET_NAMES, learnable_layers, save_csv
from utils.rules_figure import cached, rules_differences, rules_stats
from utils.model_settings import get_settings

ROWS = (2, 3)  # model idx of the MNIST and Fashion-MNIST rows (fc2, HMC)


def main():
    p = figure_parser(__doc__.splitlines()[0], rule=False)
    cli.add_bool(p, "--load", help="redraw from the cached per-image table")
    p.add_argument("--model_idxs", type=int, nargs="+", default=list(ROWS), help="model idx of each dataset row")
    args = p.parse_args()
    root, figures, _ = setup(args)
    folder = figures / "rules_robustness"
    stem = f"rules_robustness_main_{args.attack_method}_samples={args.n_samples}_topk={args.topk}"
    panels, symbols, labels, stats = {}, {}, {}, []
    for idx in args.model_idxs:
        name = DATASET_NAMES[get_settings("fullBNN", idx)["dataset"]]
        last = learnable_layers(idx)[-1]

        def compute(idx=idx, last=last):
            diffs, frame = rules_differences(root, idx, args.attack_method, args.topk, args.n_samples, [last],
                                             args.lrp_method, args.lrp_compat, args.debug, args.n_inputs)
            s = rules_stats(frame, args.n_samples).assign(dataset=name, model_idx=idx)
            stats.append(s)
            return diffs.merge(s[["rule", "layer_idx", "p_value"]], on=["rule", "layer_idx"]).assign(dataset=name)
        diffs = cached(folder / f"{stem}_{idx}_data.csv", args.load, compute)
        panels[name] = diffs
        symbols[name] = {r: significance_symbol(g.p_value.iloc[0]) for r, g in diffs.groupby("rule")}
        labels[name] = f"{name}\nLayer idx={last}"
    path = plots.rules_boxplots(panels, folder / f"{stem}.png", labels, symbols, figsize=(4.4, 5.0),
                                missing_rows=("CIFAR10",))
    if stats:
        import pandas as pd
        save_csv(pd.concat(stats, ignore_index=True), path.with_suffix(".csv"))
    print(f"saved {path} (CIFAR-10 row absent: its pipeline is not part of this build yet)")


if __name__ == "__main__":
    cli.run_main(main)
