"""LRP heatmaps at every learnable layer, for the clean test subset and for the model's own attacks.

    python src/compute_lrp.py --model baseNN --model_idx 2 --attack_method fgsm --rule epsilon
    python src/compute_lrp.py --model fullBNN --model_idx 2 --rule gamma --n_samples 100

For a fullBNN one run writes n = 10, 50, 100 (up to --n_samples): the clean maps are prefix means of
the per-sample maps; the attacked maps of n are computed on the n-sample attack with samples 0..n-1.
"""
from utils import cli
from utils.artifacts import load_artifact
from utils.lrp import COMPAT, LRP_METHODS, RULES
from utils.models_io import stage_inputs
from utils.paths import attack_file, lrp_file
from utils.stages import run_lrp


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
    hint = (f"python src/attack_networks.py --model {args.model} --model_idx {args.model_idx} "
            f"--attack_method {args.attack_method}" + (" --debug" if args.debug else ""))
    attack_meta = {"weights_fingerprint": st.fingerprint, "n_inputs": st.n_inputs, "attack_method": args.attack_method}
    x_adv = {n: load_artifact(attack_file(st.mdir, args.attack_method, n, st.bayes_attack),
                              {**attack_meta, "n_samples": n}, what="attack", hint=hint)[0]["x_adv"] for n in st.n_list}
    meta = {"model": args.model, "model_idx": args.model_idx, "rule": args.rule, "attack_method": args.attack_method,
            "lrp_method": args.lrp_method if st.bayes else None, "lrp_compat": args.lrp_compat,
            "n_inputs": st.n_inputs, "weights_fingerprint": st.fingerprint,
            "bayes_attack": st.bayes_attack if st.bayes else None}
    path = lambda L, attacked, n: lrp_file(st.mdir, args.attack_method, args.rule, L, attacked, n,  # noqa: E731
                                           args.lrp_method, args.lrp_compat, st.bayes_attack)
    run_lrp(st.net, st.samples, st.x, x_adv, args.rule, path, meta, st.n_list, args.lrp_method, args.lrp_compat,
            st.device, args.skip_current, f"{args.model} idx {args.model_idx}", args.quiet)


if __name__ == "__main__":
    cli.run_main(main)
