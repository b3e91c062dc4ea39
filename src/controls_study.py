"""The controls study: train or load every variant, attack it under four protocols, explain it with three rules
at the last layer, and write one CSV of every number and one figure under experiments/figures/controls/.

    python src/controls_study.py --profile cpu                 # MNIST fc2 (idx 2) and F-MNIST fc2 (idx 3)
    python src/controls_study.py --model_idxs 0 2 3            # paper scale, with the MNIST conv net
    python src/controls_study.py --load                        # redraw from the CSV

Every stage runs in this one process through the same functions as train_networks.py, attack_networks.py
and compute_lrp.py, with --skip_current, so a rerun redoes only what is missing or stale (docs/controls.md).
"""
import time

import pandas as pd

import attack_networks
import compute_lrp
import train_networks
from utils import cli
from utils.figures import plots
from utils.artifacts import load_artifact
from utils.lrp.engine import RULES
from utils.figures.controls import (PROTOCOLS, faithfulness, last_layer, model_flags, summarize, variant_frame, variants)
from utils.model_settings import CONTROLS_PROFILES, get_settings
from utils.networks.store import stage_inputs
from utils.paths import experiments_root, figures_dir
from utils.figures.results import DATASET_NAMES, load_csv, save_csv
from utils.pipeline.stages import LRPSpec, RunOptions, lrp_set, run_lrp_sets, smoothgrad_noise


def parse_args():
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument("--model_idxs", type=cli.nonneg_int, nargs="+", default=None, help="settings entries (profile default)")
    cli.add_flag(p, "--n_inputs", help="test-subset size (profile default)")
    cli.add_flag(p, "--topk")
    cli.add_flag(p, "--out")
    p.add_argument("--n_members", type=cli.positive_int, default=None, help="ensemble size K (profile default)")
    cli.add_bool(p, "--load", help="redraw the figure from the saved CSV")
    return p.parse_args()


def common_flags(args, idx, n_inputs=None):
    out = ["--model_idx", str(idx), "--seed", str(args.seed), "--device", args.device, "--profile", args.profile,
           "--skip_current", "--quiet"] + (["--debug"] if args.debug else [])
    out += [f for k in ("data_dir", "exp_dir") if getattr(args, k) for f in (f"--{k}", str(getattr(args, k)))]
    return out + (["--n_inputs", str(n_inputs)] if n_inputs else [])


def run_variant(args, idx, v, n_inputs, n_samples, layer, topk, timings):
    """Train, attack under every protocol, explain with every rule; returns what the table needs of the model."""
    base = ["--model", v.model] + common_flags(args, idx)
    t = time.time()
    train_networks.main(base + v.flags)
    timings.append({"model_idx": idx, "variant": v.label, "stage": "train", "seconds": time.time() - t})
    stage = base + model_flags(v) + ["--n_inputs", str(n_inputs)]
    if v.stacked and n_samples and v.model != "ensemble":
        stage += ["--n_samples", str(n_samples)]
    t = time.time()
    for p in PROTOCOLS:
        q = v.protocol(p)
        attack_networks.main(stage + ["--attack_method", q.attack_method, "--attack_source", q.source,
                                      "--bayes_attack", q.bayes_attack])
    timings.append({"model_idx": idx, "variant": v.label, "stage": "attack", "seconds": time.time() - t})
    t = time.time()
    st = stage_inputs(compute_lrp.parse_args(stage))
    info = {"dataset": DATASET_NAMES[st.meta["settings"]["dataset"]], "faithfulness": {},
            "test_accuracy": st.meta.get("test_accuracy")}
    for rule in RULES:
        spec = LRPSpec(rule, layers=(layer,), input_noise=smoothgrad_noise(st))
        sets = [lrp_set(st, q.attack_method, q.source, q.bayes_attack, spec, profile=args.profile, debug=args.debug,
                        all_n=False) for q in dict.fromkeys(v.protocol(p) for p in PROTOCOLS)]
        run_lrp_sets(st.net, st.samples, st.x, sets, spec,
                     RunOptions(device=st.device, skip_current=True, title=f"{v.label} idx {idx}", quiet=args.quiet))
        n = sets[0]["n_list"][-1]
        clean = load_artifact(sets[0]["path"](layer, False, n), what="heatmaps")[0]["heatmaps"]
        info["faithfulness"][rule] = faithfulness(st, clean, topk, seed=args.seed)
    timings.append({"model_idx": idx, "variant": v.label, "stage": "lrp", "seconds": time.time() - t})
    return info, st.var, n


def main():
    args = parse_args()
    prof = CONTROLS_PROFILES["debug" if args.debug else args.profile]
    idxs = args.model_idxs or prof["model_idxs"]
    n_inputs = args.n_inputs or prof["n_inputs"]
    k_members = args.n_members or prof["n_members"]
    root = experiments_root(args.exp_dir, args.debug)
    out_dir = figures_dir(root, "controls")
    csv = (args.out or out_dir / f"controls_{'debug' if args.debug else args.profile}_topk={args.topk}.png").with_suffix(".csv")
    if args.load:
        table = load_csv(csv, "run the same command without --load first")
    else:
        frames, info, timings = {}, {}, []
        start = time.time()
        for idx in idxs:
            entry = get_settings("fullBNN", idx)
            layer = last_layer(idx)
            for v in variants(idx, entry["inference"], prof["hmc_batch_size"].get(idx, 4000), k_members):
                print(f"== idx {idx}: {v.label}")
                info[(idx, v.label)], var, n = run_variant(args, idx, v, n_inputs, prof["n_samples"], layer,
                                                           args.topk, timings)
                frames[(idx, v.label)] = variant_frame(root, idx, v, PROTOCOLS, layer, args.topk, args.debug, var, n)
        table = summarize(frames, info)
        save_csv(table, csv)
        save_csv(pd.DataFrame(timings), csv.with_name(csv.stem + "_timings.csv"))
        print(f"study done in {time.time() - start:.0f} s")
    path = plots.controls_figure(table, csv.with_suffix(".png"))
    print(f"saved {csv}\nsaved {path}")


if __name__ == "__main__":
    cli.run_main(main)
