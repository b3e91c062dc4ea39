"""Attack a trained network on the fixed test subset with FGSM or PGD, and evaluate the attack.

    python src/attack_networks.py --model baseNN --model_idx 2 --attack_method fgsm
    python src/attack_networks.py --model fullBNN --model_idx 2 --attack_method pgd --n_samples 100

For a fullBNN with the default `mean_of_attacks`, one run writes the n = 10, 50 and 100 attacks
(prefix means of the per-sample adversarial images, up to --n_samples).
"""
from tqdm import tqdm

from utils import cli
from utils.artifacts import load_artifact, matches, save_artifact
from utils.attacks import (GRADIENT_ATTACKS, UNIMPLEMENTED_ATTACKS, attack, evaluate_attack,
                           prefix_means)
from utils.models_io import stage_inputs
from utils.paths import attack_file
from utils.posterior import first_samples
from utils.plots import attack_grid


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
    device, bayes, n_inputs, net, samples, x, y, mdir = st.device, st.bayes, st.n_inputs, st.net, st.samples, st.x, st.y, st.mdir
    definition, n_list = st.bayes_attack, st.n_list
    meta = {"model": args.model, "model_idx": args.model_idx, "attack_method": args.attack_method,
            "epsilon": args.epsilon, "bayes_attack": args.bayes_attack if bayes else None, "seed": args.seed,
            "n_inputs": n_inputs, "weights_fingerprint": st.fingerprint, "pgd": [args.pgd_steps, args.pgd_step_size]
            if args.attack_method == "pgd" else None}
    paths = {n: attack_file(mdir, args.attack_method, n, definition) for n in n_list}
    if args.skip_current and all(matches(p, {**meta, "n_samples": n}) for n, p in paths.items()):
        return print(f"attacks up to date: {', '.join(str(p) for p in paths.values())}")
    if args.load:
        adv = {n: load_artifact(p, {**meta, "n_samples": n}, what="attack",
                                hint=f"python src/attack_networks.py --model {args.model} --model_idx {args.model_idx} "
                                     f"--attack_method {args.attack_method}")[0]["x_adv"] for n, p in paths.items()}
    else:
        total = len(x) * (args.n_samples if bayes else 1)
        with tqdm(total=total, desc=f"{args.attack_method} on {args.model} idx {args.model_idx}", unit="img",
                  disable=args.quiet) as bar:
            out = attack(net, samples, x.to(device), y.to(device), args.attack_method, args.epsilon,
                         definition, args.seed, args.pgd_steps, args.pgd_step_size, progress=bar)
        if definition != "mean_of_attacks":
            adv = {args.n_samples: out}
        else:  # per-sample adversarial images (S, N, ...)
            adv = prefix_means(out, n_list) if bayes else {None: out[0]}
    for n, x_adv in adv.items():
        metrics, tensors = evaluate_attack(net, first_samples(samples, n), x, x_adv, y, device)
        label = f"n_samples={n} " if n else ""
        print(f"{label}test accuracy = {100 * metrics['clean_accuracy']:.2f}%\tadversarial accuracy = "
              f"{100 * metrics['adversarial_accuracy']:.2f}%\tsuccess rate = {100 * metrics['attack_success_rate']:.2f}%")
        print(f"{label}avg softmax robustness = {metrics['softmax_robustness_mean']:.4f} (min = "
              f"{metrics['softmax_robustness_min']:.4f} max = {metrics['softmax_robustness_max']:.4f})")
        if not args.load:
            save_artifact(paths[n], {"x_adv": x_adv, **tensors}, {**meta, "n_samples": n, "metrics": metrics})
            attack_grid(x, x_adv, paths[n].with_suffix(".png"), title=f"{args.model} idx {args.model_idx}, "
                        f"{args.attack_method} eps={args.epsilon}" + (f", n={n}" if n else ""))
            print(f"saved {paths[n]}")


if __name__ == "__main__":
    cli.run_main(main)
