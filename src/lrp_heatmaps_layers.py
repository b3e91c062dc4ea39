"""Fig. 3: layer-wise heatmaps of one successful attack, restricted to the pixels picked in both the clean and
the attacked map (top-k), for the image (top row) and its attack (bottom row).

    python src/lrp_heatmaps_layers.py --model_idx 0 --model baseNN --topk 30
"""
import pandas as pd
import torch

from utils import cli
from utils.figures import plots
from utils.data.datasets import SUBSET_SEED, load_test_subset
from utils.figures.figure_cli import figure_parser, output, setup
from utils.metrics.robustness import intersection_mask, lrp_robustness
from utils.networks.store import load_model, model_variant
from utils.paths import data_root
from utils.figures.results import learnable_layers, load_attack, load_heatmaps, save_csv
from utils.variants import MODEL_KINDS, STACKED_KINDS, suffix


def main():
    p = figure_parser(__doc__.splitlines()[0], model_idx=0, topk=30)
    p.add_argument("--model", default="baseNN", choices=MODEL_KINDS)
    cli.add_bool(p, "--normalize", default=True, help="scale each map by its largest |relevance| (keeps 0 and signs)")
    args = p.parse_args()
    root, figures, settings = setup(args)
    n = args.n_samples if args.model in STACKED_KINDS else None
    var = model_variant(args)
    atk, atk_meta = load_attack(root, args.model, args.model_idx, args.attack_method, n, args.debug,
                                source=args.attack_source, var=var)
    successful = torch.nonzero(atk["successful"]).flatten()
    if len(successful) == 0:
        raise cli.UserError("this attack has no successful image to show")
    i = int(successful[torch.randint(len(successful), (1,), generator=torch.Generator().manual_seed(2))])
    layer_maps, masks, rows = {}, {}, []
    for layer in learnable_layers(args.model_idx):
        h, h_adv, meta = load_heatmaps(root, args.model, args.model_idx, args.attack_method, args.rule, layer, n,
                                       args.lrp_method, args.lrp_compat, args.debug, args.n_inputs,
                                       source=args.attack_source, var=var, attack_meta=atk_meta)
        mask = masks[layer] = intersection_mask(h[i:i + 1], h_adv[i:i + 1], args.topk).view_as(h[i])
        pair = [h[i], h_adv[i]]
        if args.normalize:
            pair = [m / m.abs().max().clamp(min=1e-12) for m in pair]
        layer_maps[layer] = [m * mask for m in pair]
        rows.append({"layer_idx": layer, "image": i, "lrp_robustness": float(lrp_robustness(h[i:i + 1], h_adv[i:i + 1], args.topk)),
                     "shared_pixels": int(mask.sum()),
                     "shared_sign_agreement": float(((h[i] * h_adv[i]) > 0)[mask.bool()].float().mean())
                     if mask.any() else float("nan")})
    x, y, _ = load_test_subset(settings["dataset"], meta["n_inputs"], SUBSET_SEED, data_root(args.data_dir), root)
    net, samples, _, _ = load_model(root, args.model, args.model_idx, n, args.profile, args.debug, var=var,
                                    seed=args.seed)
    from utils.training.bayesian import predictive_probs
    probs = predictive_probs(net, samples, torch.stack([x[i], atk["x_adv"][i]])).mean(0).argmax(-1)
    overlay = masks[max(masks)].permute(1, 2, 0).squeeze(-1).float().numpy()  # the last layer's shared pixels
    stem = (f"layers_heatmaps_{settings['dataset']}_topk={args.topk}_rule={args.rule}_atk={args.attack_method}_"
            f"model={args.model}{suffix(var)}_model_idx={args.model_idx}" + ("_norm" if args.normalize else "")
            + ("_src=det" if args.attack_source == "det" else ""))
    path = plots.layer_heatmaps(x[i], atk["x_adv"][i], int(y[i]), int(probs[0]), int(probs[1]), layer_maps, overlay,
                                output(args, figures / f"{stem}.png"))
    table = pd.DataFrame(rows).assign(label=int(y[i]), prediction=int(probs[0]), prediction_attack=int(probs[1]))
    save_csv(table, path.with_suffix(".csv"))
    print(table.to_string(index=False))
    print(f"saved {path}")


if __name__ == "__main__":
    cli.run_main(main)
