"""Fig. 5: LRP robustness differences for the three rules at the last layer: MNIST (idx 2), F. MNIST (idx 3)
and CIFAR-10 (the ResNet-20 entry, model_settings.CIFAR_ROW_IDX, of the full_test_cifar_*.py scripts).

    python src/lrp_rules_robustness_main.py --attack_method fgsm
    python src/lrp_rules_robustness_main.py --cifar false   # CIFAR-10 row drawn as not computed
"""
import pandas as pd

from utils import cli
from utils.figures import plots
from utils.figures.figure_cli import figure_parser, output, protocol_tag, setup
from utils.metrics.robustness import significance_symbol
from utils.model_settings import CIFAR_ROW_IDX, get_settings
from utils.figures.results import DATASET_NAMES, learnable_layers, save_csv
from utils.figures.rules_figure import cached, rules_differences, rules_stats

ROWS = (2, 3)  # model idx of the MNIST and Fashion-MNIST rows (fc2, HMC)
CIFAR = "CIFAR10"


def main():
    p = figure_parser(__doc__.splitlines()[0], rule=False)
    cli.add_bool(p, "--load", help="redraw from the cached per-image table")
    p.add_argument("--model_idxs", type=cli.nonneg_int, nargs="+", default=list(ROWS), help="model idx of each dataset row")
    cli.add_bool(p, "--cifar", default=True, help="draw the CIFAR-10 row (needs the CIFAR pipeline, exec_cifar.sh)")
    p.add_argument("--cifar_n_inputs", type=cli.positive_int, default=None, help="check the CIFAR test-subset size")
    args = p.parse_args()
    root, figures, _ = setup(args)
    folder = figures / "rules_robustness"
    stem = f"rules_robustness_main_{args.attack_method}_samples={args.n_samples}_topk={args.topk}{protocol_tag(args)}"
    png = output(args, folder / f"{stem}.png")
    panels, symbols, labels, stats = {}, {}, {}, []

    def add_row(name, key, last, differences_fn):
        def compute():
            diffs, frame = differences_fn()
            s = rules_stats(frame, args.n_samples).assign(dataset=name, model_idx=key)
            stats.append(s)
            return diffs.merge(s[["rule", "layer_idx", "p_value"]], on=["rule", "layer_idx"]).assign(dataset=name)
        diffs = cached(png.with_name(f"{png.stem}_{key}_data.csv"), args.load, compute)
        panels[name] = diffs
        symbols[name] = {r: significance_symbol(g.p_value.iloc[0]) for r, g in diffs.groupby("rule")}
        labels[name] = f"{name}\nLayer idx={last}"

    rows = [(DATASET_NAMES[get_settings("fullBNN", idx)["dataset"]], idx, args.n_inputs) for idx in args.model_idxs]
    rows += [(CIFAR, CIFAR_ROW_IDX, args.cifar_n_inputs)] if args.cifar else []
    for name, idx, n_inputs in rows:
        last = learnable_layers(idx)[-1]
        add_row(name, idx, last, lambda idx=idx, last=last, n_inputs=n_inputs: rules_differences(
            root, idx, args.attack_method, args.topk, args.n_samples, [last], args.lrp_method, args.lrp_compat,
            args.debug, n_inputs, args.attack_source, args.ties))
    path = plots.rules_boxplots(panels, png, labels, symbols, figsize=(4.4, 5.0),
                                missing_rows=() if args.cifar else (CIFAR,))
    if stats:
        save_csv(pd.concat(stats, ignore_index=True), path.with_suffix(".csv"))
    print(f"saved {path}" + ("" if args.cifar else " (CIFAR-10 row not drawn: --cifar false)"))


if __name__ == "__main__":
    cli.run_main(main)
