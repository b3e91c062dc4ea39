"""Fig. 1: deterministic against Bayesian heatmaps of one failed attack (the image shared by both nets'
failed attacks with the lowest deterministic LRP robustness), each map masked to its own top-k pixels.

    python src/lrp_heatmaps_det_vs_bay.py --model_idx 2 --topk 30
"""
import pandas as pd
import torch

from utils import cli
from utils.figures import plots
from utils.data.datasets import SUBSET_SEED, load_test_subset
from utils.figures.figure_cli import figure_parser, output, setup
from utils.metrics.robustness import lrp_robustness, masked_topk
from utils.paths import data_root
from utils.figures.results import learnable_layers, load_attack, load_heatmaps, save_csv


def main():
    args = figure_parser(__doc__.splitlines()[0], model_idx=2, topk=30).parse_args()
    root, figures, settings = setup(args)
    layer = learnable_layers(args.model_idx)[-1]
    found = {}
    for name, model, n in (("Deterministic", "baseNN", None), ("Bayesian", "fullBNN", args.n_samples)):
        atk, _ = load_attack(root, model, args.model_idx, args.attack_method, n, args.debug)
        h, h_adv, meta = load_heatmaps(root, model, args.model_idx, args.attack_method, args.rule, layer, n,
                                       args.lrp_method, args.lrp_compat, args.debug, args.n_inputs)
        found[name] = (atk, h, h_adv, lrp_robustness(h, h_adv, args.topk))
    x, y, _ = load_test_subset(settings["dataset"], meta["n_inputs"], SUBSET_SEED, data_root(args.data_dir), root)
    (det_atk, *_, det_rob), (bay_atk, *_, bay_rob) = found["Deterministic"], found["Bayesian"]
    candidates = det_atk["failed"] & bay_atk["failed"] & (bay_rob < 1)
    if not candidates.any():
        print("no failed attack shared by both nets with Bayesian robustness < 1; taking the lowest det robustness")
        candidates = torch.ones_like(candidates)
    i = int(torch.where(candidates, det_rob, torch.full_like(det_rob, 2.0)).argmin())
    rows = {name: (atk["x_adv"][i], masked_topk(h[i:i + 1], args.topk)[0], masked_topk(h_adv[i:i + 1], args.topk)[0])
            for name, (atk, h, h_adv, _) in found.items()}
    stem = (f"heatmaps_det_vs_bay_{settings['dataset']}_topk={args.topk}_rule={args.rule}_failed_atk="
            f"{args.attack_method}_model_idx={args.model_idx}")
    path = plots.heatmaps_det_vs_bay(rows, output(args, figures / f"{stem}.png"))
    table = pd.DataFrame([{"net": name, "image": i, "label": int(y[i]), "lrp_robustness": float(rob[i]),
                           "linf_attack": float((atk["x_adv"][i] - x[i]).abs().max()),
                           "l2_attack": float((atk["x_adv"][i] - x[i]).norm()),
                           "heatmap_min": float(min(rows[name][1].min(), rows[name][2].min())),
                           "heatmap_max": float(max(rows[name][1].max(), rows[name][2].max()))}
                          for name, (atk, _, _, rob) in found.items()])
    save_csv(table, path.with_suffix(".csv"))
    print(table.to_string(index=False))
    print(f"saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
