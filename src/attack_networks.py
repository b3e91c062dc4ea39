"""Attack a trained network on the fixed test subset with FGSM or PGD, and evaluate the attack.

    python src/attack_networks.py --model baseNN --model_idx 2 --attack_method fgsm
    python src/attack_networks.py --model fullBNN --model_idx 2 --attack_method pgd --n_samples 100

For a fullBNN with the default `mean_of_attacks`, one run writes the n = 10, 50 and 100 attacks
(prefix means of the per-sample adversarial images, up to --n_samples).
"""
from utils import cli
from utils.attacks import GRADIENT_ATTACKS, UNIMPLEMENTED_ATTACKS
from utils.models_io import stage_inputs
from utils.paths import attack_file
from utils.stages import run_attacks


def parse_args():
    p = cli.stage_parser(__doc__.splitlines()[0])
    p.add_argument("--attack_method", default="fgsm", help="fgsm | pgd")
    p.add_argument("--epsilon", type=float, default=0.2)
    p.add_argument("--pgd_steps", type=int, default=40)
    p.add_argument("--pgd_step_size", type=float, default=0.01)
    cli.add_bool(p, "--load", help="load the saved attacks and only evaluate them")
    return p.parse_args()


def main():
    args = parse_args()
    if args.attack_method in UNIMPLEMENTED_ATTACKS:
        raise cli.UserError(f"attack '{args.attack_method}' is not implemented yet (no paper figure uses it); use fgsm or pgd")
    if args.attack_method not in GRADIENT_ATTACKS:
        raise cli.UserError(f"unknown --attack_method {args.attack_method!r}; choose fgsm or pgd")
    st = stage_inputs(args)
    meta = {"model": args.model, "model_idx": args.model_idx, "attack_method": args.attack_method,
            "epsilon": args.epsilon, "bayes_attack": args.bayes_attack if st.bayes else None, "seed": args.seed,
            "n_inputs": st.n_inputs, "weights_fingerprint": st.fingerprint, "pgd": [args.pgd_steps, args.pgd_step_size]
            if args.attack_method == "pgd" else None}
    paths = {n: attack_file(st.mdir, args.attack_method, n, st.bayes_attack) for n in st.n_list}
    hint = f"python src/attack_networks.py --model {args.model} --model_idx {args.model_idx} --attack_method {args.attack_method}"
    run_attacks(st.net, st.samples, st.x, st.y, args.attack_method, args.epsilon, paths, meta, st.bayes_attack,
                args.seed, args.pgd_steps, args.pgd_step_size, st.device, args.load, args.skip_current, hint,
                f"{args.model} idx {args.model_idx}", args.quiet)


if __name__ == "__main__":
    cli.run_main(main)
