"""The reference's CIFAR-10 commands (`full_test_cifar_*.py --mode train|test`) as thin aliases onto the one
pipeline: `--mode train` is train_networks.py, `--mode test` reports the test accuracy recorded at training (or,
with --n_eval, re-evaluates it: train_networks.py --load), then runs attack_networks.py and compute_lrp.py for
each rule, all on the ResNet-20 entry (model_settings.CIFAR_ROW_IDX)."""
import argparse

from .. import cli
from ..lrp.engine import RULES
from ..model_settings import CIFAR_ROW_IDX

_COMMON = ("--device", "--seed", "--debug", "--profile", "--data_dir", "--exp_dir", "--quiet", "--skip_current")


def parser(model, description):
    p = cli.base_parser(description)
    p.epilog = ("Every other flag is train_networks.py's (--epochs, --lr, --batch_size, --milestones, --n_val, "
                "--n_train, --init_from_det, --num_mc, --n_store, ...) and applies to --mode train.")
    p.add_argument("--mode", default="test", choices=("train", "test"), help="train the net, or test it (default)")
    cli.add_bool(p, "--skip_current", help="do nothing if current artifacts exist")
    cli.add_flag(p, "--attack_method", choices=("fgsm", "pgd"), default=None,
                 help="test: the attack (fgsm); the advNN's training attack is fgsm")
    cli.add_flag(p, "--epsilon", default=None)
    cli.add_flag(p, "--n_inputs", help=argparse.SUPPRESS)
    p.add_argument("--test_inputs", type=cli.positive_int, default=None, dest="n_inputs",
                   help="attacked and explained test images, a multiple of 10 (default 500; CPU profile 200)")
    p.add_argument("--n_eval", type=cli.positive_int, default=None, help="test images for the clean accuracy")
    p.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    cli.add_flag(p, "--lrp_compat")
    if model == "fullBNN":
        cli.add_flag(p, "--n_samples", default=100, help="posterior samples used in test mode")
    return p


def _flag(name, value):
    if value is None or value is False:
        return []
    return [name] if value is True else [name, str(value)]


def main(model, description, argv=None):
    import attack_networks
    import compute_lrp
    import train_networks
    args, rest = parser(model, description).parse_known_args(argv)
    common = [t for name in _COMMON for t in _flag(name, getattr(args, name.lstrip("-")))]
    me = ["--model", model, "--model_idx", str(CIFAR_ROW_IDX)]
    atk = _flag("--attack_method", args.attack_method) + _flag("--epsilon", args.epsilon)
    if args.mode == "train":
        return train_networks.main(me + common + (atk if model == "advNN" else []) + _flag("--n_eval", args.n_eval) + rest)
    if rest:
        raise cli.UserError(f"{rest[0]} is a training flag; it applies to --mode train")
    if args.n_eval is not None:
        train_networks.main(me + common + ["--load"] + _flag("--n_eval", args.n_eval))
    else:
        _report_accuracy(model, args)
    stage = me + common + _flag("--n_inputs", args.n_inputs) + _flag("--n_samples", getattr(args, "n_samples", None))
    attack_networks.main(stage + atk)
    for rule in args.rules:
        compute_lrp.main(stage + _flag("--attack_method", args.attack_method) + ["--rule", rule,
                                                                               "--lrp_compat", args.lrp_compat])


def _report_accuracy(model, args):
    """Print the test accuracy recorded in the trained net's metadata (nothing if it is not trained yet: the attack
    stage then names the training command)."""
    import json

    from ..networks.store import net_dir
    from ..paths import experiments_root, weights_file
    sidecar = weights_file(net_dir(experiments_root(args.exp_dir, args.debug), model, CIFAR_ROW_IDX), model)
    try:
        acc = json.loads(sidecar.with_suffix(".json").read_text()).get("test_accuracy")
    except (OSError, ValueError):
        return
    if isinstance(acc, dict):
        acc = ", ".join(f"{100 * a:.2f}% with {n} samples" for n, a in acc.items() if isinstance(a, (int, float)))
    elif isinstance(acc, (int, float)):
        acc = f"{100 * acc:.2f}%"
    if acc:
        print(f"Test accuracy (recorded at training): {acc}")
