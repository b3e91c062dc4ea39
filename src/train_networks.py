"""Train (or, with --load, re-evaluate) a deterministic, adversarially trained or Bayesian network, or an
averaging baseline (an ensemble of baseNNs; NoiseGrad and SmoothGrad over the trained baseNN).

    python src/train_networks.py --model baseNN --model_idx 2
    python src/train_networks.py --model advNN --model_idx 2 --attack_method fgsm --epsilon 0.2
    python src/train_networks.py --model fullBNN --model_idx 2 --profile cpu
    python src/train_networks.py --model fullBNN --model_idx 2 --inference svi --kl_weight 10
    python src/train_networks.py --model fullBNN --model_idx 0 --recipe reference   # the reference's inference
    python src/train_networks.py --model ensemble --model_idx 2 --n_members 10
    python src/train_networks.py --model baseNN --model_idx 6 --profile cpu      # the CIFAR-10 ResNet-20
"""
import time
from types import SimpleNamespace

from utils import cli
from utils.artifacts import matches, save_artifact, save_json
from utils.training.bayesian import bayes_accuracy, predictive_probs, stack_state_dicts
from utils.pipeline.train_bayes import add_bayesian_flags, train_or_load_bnn
from utils.data.datasets import SUBSET_SEED, load_dataset, seeded_subset
from utils.networks.store import (check_finite, fingerprint, load_deterministic, load_model, net_dir, state_dict_cpu,
                             training_config)
from utils.networks.architectures import build_seeded, count_parameters
from utils.paths import experiments_root, data_root, weights_file
from utils.training.recipes import accuracy, sgd_split, train_network, train_sgd
from utils.variants import MODEL_KINDS, NOISE_DEFAULTS, add_variant_flags


def build_parser():
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="baseNN", help=" | ".join(MODEL_KINDS))
    cli.add_flag(p, "--model_idx")
    cli.add_bool(p, "--load", help="load the trained net and only evaluate it")
    cli.add_flag(p, "--attack_method", choices=("fgsm", "pgd"), help="advNN training attack")
    cli.add_flag(p, "--epsilon", help="advNN training attack strength")
    p.add_argument("--adv_mix", type=cli.unit_float, default=None,
                   help="weight of the adversarial loss in advNN training (default 1 = 100%% adversarial, the "
                        "reference; the CPU profile uses 0.5 for Fashion-MNIST)")
    cli.add_bool(p, "--init_from_det", default=None,
                 help="advNN: start from the trained baseNN of the same idx (the CPU profile does for F-MNIST conv)")
    cli.add_bool(p, "--skip_current", help="do nothing if weights made with the same configuration exist")
    p.add_argument("--n_train", type=cli.positive_int, default=None, help="train on a seeded subset of this many images")
    p.add_argument("--epochs", type=cli.positive_int, default=None, help="override the settings' epochs")
    r = p.add_argument_group("recipe (default: the settings entry's, under the profile's overrides)")
    r.add_argument("--lr", type=cli.positive_float, default=None, help="learning rate")
    r.add_argument("--batch_size", type=cli.positive_int, default=None)
    r.add_argument("--milestones", type=cli.positive_int, nargs="*", default=None,
                   help="sgd recipe: epochs where the learning rate drops x0.1")
    r.add_argument("--momentum", type=cli.nonneg_float, default=None, help="sgd recipe: SGD momentum")
    r.add_argument("--weight_decay", "--wd", type=cli.nonneg_float, default=None, help="sgd recipe: SGD weight decay")
    r.add_argument("--n_val", type=cli.positive_int, default=None,
                   help="sgd recipe: training images held out for model selection (5000)")
    add_bayesian_flags(p)
    add_variant_flags(p)
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def train_deterministic(args, cfg, data, device):
    """Train one baseNN/advNN as `cfg` says (its seed and recipe included); returns (net, metadata)."""
    x, y = data
    recipe = cfg.get("recipe", {})
    sgd = cfg["settings"].get("recipe") == "sgd"
    if sgd:
        (x, y), val = sgd_split(x, y, recipe["n_val"], cfg["n_train"], cfg["seed"])
    elif cfg["n_train"] is not None:
        x, y = seeded_subset(x, y, cfg["n_train"], cfg["seed"])
    net = build_seeded(cfg["settings"], cfg["seed"])
    start_net = cfg.pop("_start_net", None)
    if start_net is not None:
        net.load_state_dict(start_net.state_dict())
    print(f"{args.model} idx {args.model_idx}: {cfg['settings']['architecture']} on {cfg['settings']['dataset']}, "
          f"{count_parameters(net):,} weights, {len(x)} training images"
          + (f", {len(val[0])} validation images" if sgd else "") + f", {cfg['epochs']} epochs"
          + (f", seed {cfg['seed']}" if cfg["seed"] != args.seed else "")
          + (", starting from the trained baseNN" if start_net is not None else ""))
    start = time.time()
    extra = {}
    if sgd:
        history, extra["val_accuracy"] = train_sgd(
            net, (x, y), val, cfg["epochs"], recipe["lr"], recipe["batch_size"], recipe["momentum"],
            recipe["weight_decay"], recipe["milestones"], cfg.get("adversarial"), cfg["seed"], device, args.quiet)
        print(f"best validation accuracy {100 * extra['val_accuracy']:.2f}%")
    else:
        history = train_network(net, x, y, cfg["epochs"], recipe.get("lr", cfg["settings"]["lr"]),
                                batch_size=recipe.get("batch_size", 128), seed=cfg["seed"],
                                adversarial=cfg.get("adversarial"), device=device, quiet=args.quiet)
    seconds = time.time() - start
    print(f"Execution time = {time.strftime('%H:%M:%S', time.gmtime(seconds))}")
    check_finite(state_dict_cpu(net), "training diverged")
    return net, {**cfg, "history": history, "train_seconds": seconds, "n_train_used": len(x), **extra}


def save_trained(path, net, meta, acc):
    meta["test_accuracy"] = acc
    save_artifact(path, state_dict_cpu(net), meta)
    save_json(path.parent / "metrics.json", {"test_accuracy": acc, "train_seconds": meta["train_seconds"],
                                             "history": meta["history"]})
    print(f"saved {path}")


def member_dir(root, model_idx, k):
    return net_dir(root, "ensemble", model_idx) / f"member={k}"


def train_ensemble(args, cfg, root, x_test, y_test, device):
    """K baseNNs with seeds seed .. seed + K - 1 (member 0 is the baseNN itself when that one is current),
    stacked into posterior.pt like a fullBNN's samples. Member k is saved once under
    `ensemble/{dataset}_{arch}_idx={i}/member={k}/` and serves every K > k."""
    k_members = cfg["variant"]["n_members"]
    mdir = net_dir(root, "ensemble", args.model_idx, var=cfg["variant"])
    path = weights_file(mdir, "fullBNN")
    base_cfg, _ = training_config(SimpleNamespace(**{**vars(args), "model": "baseNN"}))
    members = [{**base_cfg, "seed": args.seed + k} for k in range(k_members)]
    if args.skip_current and not args.load and matches(path, {**cfg, "members": members}):
        return print(f"ensemble idx {args.model_idx}: up to date ({path})")
    if args.load:
        _, samples, meta, _ = load_model(root, "ensemble", args.model_idx, profile=args.profile, debug=args.debug,
                                         var=cfg["variant"])
    else:
        data, nets, metas = None, [], []
        base_path = weights_file(net_dir(root, "baseNN", args.model_idx), "baseNN")
        for k, mcfg in enumerate(members):
            mpath = member_dir(root, args.model_idx, k) / "weights.pt"
            have = mpath if matches(mpath, mcfg) else base_path if k == 0 and matches(base_path, mcfg) else None
            if have is not None:
                net, meta = load_deterministic(root, "baseNN", args.model_idx, mdir=have.parent, expect_extra=mcfg)
                print(f"member {k + 1}/{k_members}: current ({have})")
            else:
                data = data or load_dataset(cfg["settings"]["dataset"], data_root(args.data_dir), train=True)
                net, meta = train_deterministic(SimpleNamespace(**{**vars(args), "model": f"member {k + 1}/{k_members}"}),
                                                dict(mcfg), data, device)
                save_trained(mpath, net, meta, accuracy(net, x_test, y_test, device))
            nets.append(net)
            metas.append(meta)
        samples = stack_state_dicts([state_dict_cpu(n) for n in nets])
        meta = {**cfg, "members": members, "member_fingerprints": [fingerprint(m) for m in metas],
                "train_seconds": sum(m["train_seconds"] for m in metas), "n_train_used": metas[0]["n_train_used"]}
    template = build_seeded(cfg["settings"], args.seed)
    acc = bayes_accuracy(predictive_probs(template, samples, x_test, device=device), y_test, [k_members])[k_members]
    print(f"Accuracy of the ensemble of {k_members}: {100 * acc:.2f}%")
    if not args.load:
        meta["test_accuracy"] = {str(k_members): acc}
        save_artifact(path, samples, meta)
        save_json(mdir / "metrics.json", {"test_accuracy": meta["test_accuracy"], "train_seconds": meta["train_seconds"]})
        print(f"saved {path} ({k_members} members)")


def evaluate_noise_baseline(args, cfg, root, x_test, y_test, device):
    """NoiseGrad and SmoothGrad need no training: their samples come from the trained baseNN at load time.
    This checks that it is there and reports the accuracy of the NoiseGrad predictive mean."""
    net, samples, meta, _ = load_model(root, args.model, args.model_idx, profile=args.profile, debug=args.debug,
                                       device=device, var=cfg["variant"], seed=args.seed)
    s = cfg["variant"]["noise_std"]
    n_eval = args.n_eval or (200 if args.debug else 2000 if args.profile == "cpu" else None)
    if n_eval is not None:  # 100 draws on 10,000 images take minutes on a CPU
        x_test, y_test = seeded_subset(x_test, y_test, n_eval, args.seed)
    if args.model == "smoothgrad":
        acc = accuracy(net, x_test, y_test, device)
        print(f"smoothgrad idx {args.model_idx}: the trained baseNN ({100 * acc:.2f}%), explained over noisy inputs "
              f"(std {s:g}, {meta['n_noise_draws']} draws)")
    else:
        probs = predictive_probs(net, samples, x_test, device=device)
        acc = bayes_accuracy(probs, y_test, [len(probs)])[len(probs)]
        print(f"noisegrad idx {args.model_idx}: baseNN weights x N(1, {s:g}^2), {len(probs)} draws: accuracy "
              f"{100 * acc:.2f}% ({len(y_test)} test images)")
    mdir = net_dir(root, args.model, args.model_idx, var=cfg["variant"])
    save_json(mdir / "metrics.json", {"test_accuracy": acc, "variant": cfg["variant"],
                                      "base_fingerprint": meta["base_fingerprint"]})


def main(argv=None):
    args = parse_args(argv)
    device = cli.resolve_device(args.device)
    cfg, _ = training_config(args)
    root = experiments_root(args.exp_dir, args.debug)
    dataset = cfg["settings"]["dataset"]
    x_test, y_test = load_dataset(dataset, data_root(args.data_dir), train=False)
    if args.model == "fullBNN":
        return train_or_load_bnn(args, cfg, root, x_test, y_test, device)
    if args.model == "ensemble":
        return train_ensemble(args, cfg, root, x_test, y_test, device)
    if args.model in NOISE_DEFAULTS:
        return evaluate_noise_baseline(args, cfg, root, x_test, y_test, device)

    mdir = net_dir(root, args.model, args.model_idx, args.attack_method)
    if cfg.get("init_from_det"):
        start_net, det_meta = load_deterministic(root, "baseNN", args.model_idx, args.profile, args.debug, device)
        cfg["init_fingerprint"] = fingerprint(det_meta)
    if args.skip_current and not args.load and matches(weights_file(mdir, args.model), cfg):
        return print(f"{args.model} idx {args.model_idx}: up to date ({weights_file(mdir, args.model)})")
    if args.load:
        net, meta = load_deterministic(root, args.model, args.model_idx, args.profile, args.debug, device,
                                       args.attack_method)
    else:
        data = load_dataset(dataset, data_root(args.data_dir), train=True)
        run_cfg = {**cfg, "_start_net": start_net} if cfg.get("init_from_det") else dict(cfg)
        net, meta = train_deterministic(args, run_cfg, data, device)
    if cfg.get("n_eval") is not None:
        x_test, y_test = seeded_subset(x_test, y_test, cfg["n_eval"], SUBSET_SEED)
    acc = accuracy(net, x_test, y_test, device)
    print(f"Accuracy: {100 * acc:.2f}% ({len(y_test)} test images)")
    if not args.load:
        save_trained(weights_file(mdir, args.model), net, meta, acc)


if __name__ == "__main__":
    cli.run_main(main)
