"""Attack a trained network on the fixed test subset with FGSM or PGD, and evaluate the attack.

    python src/attack_networks.py --model baseNN --model_idx 2 --attack_method fgsm
    python src/attack_networks.py --model fullBNN --model_idx 2 --attack_method pgd --n_samples 100
    python src/attack_networks.py --model ensemble --model_idx 2 --attack_source det   # the baseNN's images

For a model of several samples (fullBNN, ensemble, noisegrad) with the default `mean_of_attacks`, one run
writes the n = 10, 50 and 100 attacks (prefix means of the per-sample adversarial images). `--attack_method
random` is the floor: a random-sign perturbation of the same eps. `--attack_source det` scores the model on
the baseNN's adversarial images. Every attack reports the perturbation's mean L2 and Linf and the success rate.
"""
from utils import cli
from utils.attacks.gradient import ATTACK_METHODS, UNIMPLEMENTED_ATTACKS
from utils.networks.store import attack_command, attack_fingerprint, det_attack, stage_inputs
from utils.paths import attack_file
from utils.pipeline.stages import AttackSpec, RunOptions, run_attacks


def parse_args(argv=None):
    p = cli.stage_parser(__doc__.splitlines()[0])
    cli.add_flag(p, "--attack_method", choices=ATTACK_METHODS + UNIMPLEMENTED_ATTACKS, help="fgsm | pgd | random")
    cli.add_flag(p, "--epsilon")
    p.add_argument("--pgd_steps", type=cli.nonneg_int, default=40)
    p.add_argument("--pgd_step_size", type=cli.positive_float, default=0.01)
    cli.add_bool(p, "--load", help="load the saved attacks and only evaluate them")
    return p.parse_args(argv)


def attack_meta(args, st, source_meta=None):
    """What identifies an attack artifact (compared by --skip_current and by the LRP stage)."""
    meta = {"model": args.model, "model_idx": args.model_idx, "attack_method": args.attack_method,
            "epsilon": args.epsilon, "bayes_attack": st.bayes_attack if st.bayes else None, "seed": args.seed,
            "n_inputs": st.n_inputs, "weights_fingerprint": st.fingerprint, "pgd": [args.pgd_steps, args.pgd_step_size]
            if args.attack_method == "pgd" else None, "attack_source": st.source}
    if source_meta is not None:  # the baseNN attack these images are, by its own record
        meta.update({k: source_meta.get(k) for k in ("epsilon", "seed", "pgd")})
        meta["source_fingerprint"] = source_meta["weights_fingerprint"]
        meta["source_attack_fingerprint"] = attack_fingerprint(source_meta)
    return meta


def main(argv=None):
    args = parse_args(argv)
    if args.attack_method in UNIMPLEMENTED_ATTACKS:
        raise cli.UserError(f"attack '{args.attack_method}' is not implemented yet (no paper figure uses it); use fgsm or pgd")
    if args.attack_method not in ATTACK_METHODS:
        raise cli.UserError(f"unknown --attack_method {args.attack_method!r}; choose one of {', '.join(ATTACK_METHODS)}")
    st = stage_inputs(args)
    given, source_meta = None, None
    if st.source == "det":
        given, source_meta = det_attack(st.root, args.model_idx, args.attack_method, st.n_inputs, args.profile, args.debug)
    meta = attack_meta(args, st, source_meta)
    paths = {n: attack_file(st.mdir, args.attack_method, n, st.bayes_attack, st.source) for n in st.n_list}
    hint = attack_command(args.model, args.model_idx, args.attack_method, st.var, st.source, st.bayes_attack,
                          profile=args.profile, debug=args.debug)
    spec = AttackSpec(args.attack_method, args.epsilon, st.bayes_attack, args.seed, args.pgd_steps, args.pgd_step_size)
    opts = RunOptions(st.device, args.load, args.skip_current, hint, f"{args.model} idx {args.model_idx}", args.quiet)
    run_attacks(st.net, st.samples, st.x, st.y, spec, paths, meta, opts, given=given)


if __name__ == "__main__":
    cli.run_main(main)
