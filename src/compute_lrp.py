"""LRP heatmaps at every learnable layer, for the clean test subset and for the model's own attacks.

    python src/compute_lrp.py --model baseNN --model_idx 2 --attack_method fgsm --rule epsilon
    python src/compute_lrp.py --model fullBNN --model_idx 2 --rule gamma --n_samples 100

For a fullBNN one run writes n = 10, 50, 100 (up to --n_samples): the clean maps are prefix means of
the per-sample maps; the attacked maps of n are computed on the n-sample attack with samples 0..n-1.
"""
import resource

from tqdm import tqdm

from utils import cli
from utils.artifacts import load_artifact, matches, save_artifact
from utils.lrp import COMPAT, LRP_METHODS, RULES, lrp_chunked, per_sample_heatmaps
from utils.models_io import stage_inputs
from utils.paths import attack_file, lrp_file
from utils.posterior import first_samples, n_stored


def parse_args():
    p = cli.stage_parser(__doc__.splitlines()[0])
    p.add_argument("--attack_method", default="fgsm", choices=("fgsm", "pgd"), help="which saved attacks to explain")
    p.add_argument("--rule", default="epsilon", choices=RULES)
    p.add_argument("--lrp_method", default="avg_heatmap", choices=LRP_METHODS)
    p.add_argument("--lrp_compat", default="default", choices=COMPAT, help="'reference' reproduces the reference's quirks")
    return p.parse_args()


def main():
    args = parse_args()
    st = stage_inputs(args)
    device, bayes, n_inputs, net, samples, x, mdir, fp = st.device, st.bayes, st.n_inputs, st.net, st.samples, st.x, st.mdir, st.fingerprint
    bayes_attack, n_list = st.bayes_attack, st.n_list
    hint = (f"python src/attack_networks.py --model {args.model} --model_idx {args.model_idx} "
            f"--attack_method {args.attack_method}" + (" --debug" if args.debug else ""))
    attack_meta = {"weights_fingerprint": fp, "n_inputs": n_inputs, "attack_method": args.attack_method}
    x_adv = {n: load_artifact(attack_file(mdir, args.attack_method, n, bayes_attack), {**attack_meta, "n_samples": n},
                              what="attack", hint=hint)[0]["x_adv"] for n in n_list}
    meta = {"model": args.model, "model_idx": args.model_idx, "rule": args.rule, "attack_method": args.attack_method,
            "lrp_method": args.lrp_method if bayes else None, "lrp_compat": args.lrp_compat, "n_inputs": n_inputs,
            "weights_fingerprint": fp, "bayes_attack": bayes_attack if bayes else None}
    path = lambda L, attacked, n: lrp_file(mdir, args.attack_method, args.rule, L, attacked, n,  # noqa: E731
                                           args.lrp_method, args.lrp_compat, bayes_attack)
    layers = net.learnable_layers
    if args.skip_current and all(matches(path(L, a, n), {**meta, "layer_idx": L, "n_samples": n})
                                 for L in layers for a in (False, True) for n in n_list):
        return print(f"heatmaps up to date under {path(layers[0], False, n_list[0]).parents[1]}")
    s_total = n_stored(samples)
    x = x.to(device)
    per_layer = len(x) * (s_total + sum(n or 1 for n in n_list))
    with tqdm(total=per_layer * len(layers), desc=f"LRP {args.rule} {args.model} idx {args.model_idx}",
              unit="map", disable=args.quiet) as bar:
        for L in layers:
            if bayes and args.lrp_method == "avg_heatmap":  # clean maps of n are prefix means of the per-sample maps
                per_sample = per_sample_heatmaps(net, samples, x, L, args.rule, args.lrp_compat)
                clean = {n: per_sample[:n].mean(0) for n in n_list}
            else:
                clean = {n: lrp_chunked(net, first_samples(samples, n), x, L, args.rule, args.lrp_compat,
                                        args.lrp_method) for n in n_list}
            bar.update(len(x) * s_total)
            for n in n_list:
                attacked = lrp_chunked(net, first_samples(samples, n), x_adv[n].to(device), L, args.rule,
                                       args.lrp_compat, args.lrp_method, progress=bar)
                for is_adv, heat in ((False, clean[n]), (True, attacked)):
                    save_artifact(path(L, is_adv, n), {"heatmaps": heat}, {**meta, "layer_idx": L, "n_samples": n})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"saved heatmaps for layers {layers} under {path(layers[0], False, n_list[0]).parents[1]} "
          f"(peak memory {peak:.1f} GiB)")


if __name__ == "__main__":
    cli.run_main(main)
