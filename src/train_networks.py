"""Train (or, with --load, re-evaluate) a deterministic, adversarially trained or Bayesian network.

    python src/train_networks.py --model baseNN --model_idx 2
    python src/train_networks.py --model advNN --model_idx 2 --attack_method fgsm --epsilon 0.2
    python src/train_networks.py --model fullBNN --model_idx 2 --profile cpu
"""
import time

from utils import cli
from utils.artifacts import matches, save_artifact, save_json
from utils.bayesian_cli import add_bayesian_flags, train_or_load_bnn
from utils.data import load_dataset, seeded_subset
from utils.models_io import check_finite, fingerprint, load_deterministic, net_dir, state_dict_cpu, training_config
from utils.networks import build_seeded, count_parameters
from utils.paths import experiments_root, data_root, weights_file
from utils.training import accuracy, train_network


def parse_args():
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="baseNN", help="baseNN | advNN | fullBNN")
    p.add_argument("--model_idx", type=int, default=0, help="entry of src/utils/model_settings.py")
    cli.add_bool(p, "--load", help="load the trained net and only evaluate it")
    p.add_argument("--attack_method", default="fgsm", choices=("fgsm", "pgd"), help="advNN training attack")
    p.add_argument("--epsilon", type=float, default=0.2, help="advNN training attack strength")
    p.add_argument("--adv_mix", type=float, default=None,
                   help="weight of the adversarial loss in advNN training (default 1 = 100%% adversarial, the "
                        "reference; the CPU profile uses 0.5 for Fashion-MNIST)")
    cli.add_bool(p, "--init_from_det", default=None,
                 help="advNN: start from the trained baseNN of the same idx (the CPU profile does for F-MNIST conv)")
    cli.add_bool(p, "--skip_current", help="do nothing if weights made with the same configuration exist")
    p.add_argument("--n_train", type=int, default=None, help="train on a seeded subset of this many images")
    p.add_argument("--epochs", type=int, default=None, help="override the settings' epochs")
    add_bayesian_flags(p)
    return p.parse_args()


def main():
    args = parse_args()
    device = cli.resolve_device(args.device)
    if args.adv_mix is not None and not 0.0 <= args.adv_mix <= 1.0:
        raise cli.UserError(f"--adv_mix must be in [0, 1], got {args.adv_mix}")
    cfg, _ = training_config(args)
    root = experiments_root(args.exp_dir, args.debug)
    dataset = cfg["settings"]["dataset"]
    x_test, y_test = load_dataset(dataset, data_root(args.data_dir), train=False)
    if args.model == "fullBNN":
        return train_or_load_bnn(args, cfg, root, x_test, y_test, device)

    mdir = net_dir(root, args.model, args.model_idx, args.attack_method)
    start_net = None
    if cfg.get("init_from_det"):
        start_net, det_meta = load_deterministic(root, "baseNN", args.model_idx, args.profile, args.debug, device)
        cfg["init_fingerprint"] = fingerprint(det_meta)
    if args.skip_current and not args.load and matches(weights_file(mdir, args.model), cfg):
        return print(f"{args.model} idx {args.model_idx}: up to date ({weights_file(mdir, args.model)})")
    if args.load:
        net, meta = load_deterministic(root, args.model, args.model_idx, args.profile, args.debug, device,
                                       args.attack_method)
    else:
        x, y = load_dataset(dataset, data_root(args.data_dir), train=True)
        if cfg["n_train"] is not None:
            x, y = seeded_subset(x, y, cfg["n_train"], args.seed)
        net = build_seeded(cfg["settings"], args.seed)
        if start_net is not None:
            net.load_state_dict(start_net.state_dict())
        print(f"{args.model} idx {args.model_idx}: {cfg['settings']['architecture']} on {dataset}, "
              f"{count_parameters(net):,} weights, {len(x)} training images, {cfg['epochs']} epochs"
              + (", starting from the trained baseNN" if start_net is not None else ""))
        start = time.time()
        history = train_network(net, x, y, cfg["epochs"], cfg["settings"]["lr"], seed=args.seed,
                                adversarial=cfg.get("adversarial"), device=device, quiet=args.quiet)
        seconds = time.time() - start
        print(f"Execution time = {time.strftime('%H:%M:%S', time.gmtime(seconds))}")
        weights = state_dict_cpu(net)
        check_finite(weights, "training diverged")
        meta = {**cfg, "history": history, "train_seconds": seconds, "n_train_used": len(x)}
    acc = accuracy(net, x_test, y_test, device)
    print(f"Accuracy: {100 * acc:.2f}%")
    if not args.load:
        meta["test_accuracy"] = acc
        save_artifact(weights_file(mdir, args.model), weights, meta)
        save_json(mdir / "metrics.json", {"test_accuracy": acc, "train_seconds": meta["train_seconds"],
                                          "history": meta["history"]})
        print(f"saved {weights_file(mdir, args.model)}")


if __name__ == "__main__":
    cli.run_main(main)
