"""What the three CIFAR-10 ResNet-20 scripts share (README, "CIFAR-10"): flags, `--mode train`
(training with a held-out validation split) and `--mode test` (accuracy, attacks and LRP for the three
rules through the same stages as every other network)."""
import json
import time

import torch

from . import cli
from .artifacts import load_artifact, matches, save_artifact, save_json
from .data import SUBSET_SEED, cifar_source, load_dataset, load_test_subset, seeded_subset
from .errors import UserError
from .lrp import RULES
from .models_io import as_posterior, fingerprint
from .model_settings import CIFAR_CPU_PROFILE, CIFAR_DEBUG, CIFAR_RESNET
from .paths import attack_file, data_root, experiments_root, lrp_file, weights_file
from .posterior import first_samples, n_stored
from .resnet import build_resnet20

SCRIPTS = {"det": "full_test_cifar_resnet.py", "adv": "full_test_cifar_adversarial_resnet.py",
           "bayes": "full_test_cifar_bayesian_resnet.py"}
MODELS = {"det": "baseNN", "adv": "advNN", "bayes": "fullBNN"}
LAYER = 38  # the reference's label of the output layer, where relevance starts
FINGERPRINT_KEYS = ("model", "config", "data_source", "train_seconds")  # train_seconds: one value per training run


def cifar_dir(root, kind):
    """experiments/{baseNN,advNN,fullBNN}/cifar_resnet[_atk=fgsm] (the reference's save dirs)."""
    return root / MODELS[kind] / ("cifar_resnet_atk=fgsm" if kind == "adv" else "cifar_resnet")


def command(kind, mode, args):
    """The command line that makes a missing artifact, with this run's profile and debug flags."""
    return (f"python src/{SCRIPTS[kind]} --mode {mode}" + (f" --profile {args.profile}" if args.profile != "paper" else "")
            + (" --debug" if args.debug else ""))


def parser(kind, description):
    p = cli.base_parser(description)
    p.add_argument("--mode", default="test", choices=("train", "test"), help="train the net, or test it (default)")
    add_bool = cli.add_bool
    t = p.add_argument_group("training (defaults: the paper's values; --profile cpu: README)")
    t.add_argument("--epochs", type=cli.positive_int, default=None)
    t.add_argument("--lr", type=cli.positive_float, default=None, help="learning rate")
    t.add_argument("--batch_size", type=cli.positive_int, default=None)
    t.add_argument("--n_val", type=cli.positive_int, default=None, help="training images held out for model selection (5000)")
    t.add_argument("--n_train", type=cli.positive_int, default=None, help="train on a seeded subset of the remaining images")
    if kind != "bayes":
        t.add_argument("--momentum", type=cli.nonneg_float, default=0.9, help="SGD momentum")
        t.add_argument("--weight_decay", "--wd", type=cli.nonneg_float, default=1e-4, help="SGD weight decay")
        t.add_argument("--milestones", type=cli.positive_int, nargs="*", default=None, help="epochs where the lr drops x0.1")
    if kind != "det":
        add_bool(t, "--init_from_det", default=None, help="start from the trained deterministic net")
    if kind == "bayes":
        t.add_argument("--num_mc", type=cli.positive_int, default=None, help="weight draws per batch in the ELBO (reference: 5)")
        t.add_argument("--init_scale", type=cli.positive_float, default=0.02, help="initial posterior standard deviation")
        t.add_argument("--n_store", type=cli.positive_int, default=100, help="posterior samples to store")
    s = p.add_argument_group("testing")
    cli.add_flag(s, "--attack_method", choices=("fgsm", "pgd"))
    cli.add_flag(s, "--epsilon")
    s.add_argument("--test_inputs", type=cli.positive_int, default=None,
                   help="attacked and explained test images, a multiple of 10 (default 500)")
    s.add_argument("--n_eval", type=cli.positive_int, default=None, help="test images for the clean accuracy (default all 10000)")
    s.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    cli.add_flag(s, "--lrp_compat", help="'reference': the rule only at the first conv and last linear, gradients in between")
    if kind == "bayes":
        cli.add_flag(s, "--n_samples", default=100, help="posterior samples used in test mode")
    add_bool(p, "--skip_current", help="do nothing if current artifacts exist")
    return p


def resolve(args, kind):
    """The effective configuration: flags over the profile over the paper's values."""
    cpu = args.profile == "cpu"
    over = {**CIFAR_RESNET["test"], **CIFAR_RESNET[kind], **(CIFAR_CPU_PROFILE["test"] if cpu else {}),
            **(CIFAR_CPU_PROFILE[kind] if cpu else {}), **(CIFAR_DEBUG if args.debug else {})}
    pick = lambda key, table: getattr(args, key) if getattr(args, key, None) is not None else table.get(key)  # noqa: E731
    train = {k: pick(k, over) for k in ("epochs", "lr", "batch_size", "milestones", "n_train", "init_from_det")}
    train.update({"n_val": pick("n_val", over), "seed": args.seed, "kind": kind})
    if kind == "bayes":
        train.update({"num_mc": pick("num_mc", over), "init_scale": args.init_scale, "n_store": args.n_store,
                      "milestones": None})
    else:
        train.update({"momentum": args.momentum, "weight_decay": args.weight_decay})
    train["init_from_det"] = kind != "det" and bool(train["init_from_det"])
    if kind == "adv":
        train["adversarial"] = {"method": "fgsm", "eps": 0.2}
    test = {k: pick(k, over) for k in ("test_inputs", "n_eval")}
    positive = {**train, **test, "n_samples": getattr(args, "n_samples", 1)}
    for key in ("epochs", "lr", "batch_size", "n_val", "n_train", "num_mc", "init_scale", "n_store", "test_inputs",
                "n_eval", "n_samples"):
        if positive.get(key) is not None and positive[key] <= 0:
            raise UserError(f"--{key} must be positive, got {positive[key]}")
    if kind != "bayes" and (train["momentum"] < 0 or train["weight_decay"] < 0):
        raise UserError("--momentum and --weight_decay must not be negative")
    return train, test


def main(kind, description):
    args = parser(kind, description).parse_args()
    device = cli.resolve_device(args.device)
    root = experiments_root(args.exp_dir, args.debug)
    train_cfg, test_cfg = resolve(args, kind)
    torch.manual_seed(args.seed)
    if args.mode == "train":
        return train(args, kind, train_cfg, root, device)
    return test(args, kind, test_cfg, root, device)


# ----------------------------------------------------------------------------------------------
# --mode train
def _train_data(args, cfg):
    from .cifar_training import validation_split
    x, y = load_dataset("cifar", data_root(args.data_dir), train=True)
    if cfg["n_val"] >= len(x):
        raise UserError(f"--n_val {cfg['n_val']} leaves no training images (there are {len(x)})")
    train, val = validation_split(x, y, cfg["n_val"], args.seed)
    if cfg["n_train"] is not None:
        train = seeded_subset(*train, min(cfg["n_train"], len(train[0])), args.seed)
    return train, val


def train(args, kind, cfg, root, device):
    from .cifar_training import bayesian_posterior, train_bayesian_resnet, train_resnet
    mdir = cifar_dir(root, kind)
    path = weights_file(mdir, MODELS[kind])
    source = cifar_source(data_root(args.data_dir))
    meta = {"model": MODELS[kind], "architecture": "resnet20", "config": cfg, "data_source": source}
    if cfg["init_from_det"]:
        net, _, det_meta = load_net(root, "det", args)
        meta["init_fingerprint"] = fingerprint(det_meta, FINGERPRINT_KEYS)
    if args.skip_current and matches(path, meta):
        return print(f"{kind} ResNet-20 up to date ({path})")
    if not cfg["init_from_det"]:
        net = build_resnet20(args.seed)
    trn, val = _train_data(args, cfg)
    print(f"{kind} ResNet-20 on CIFAR-10 ({source}): {len(trn[0])} training, {len(val[0])} validation images, "
          f"{cfg['epochs']} epochs" + (", starting from the deterministic net" if cfg["init_from_det"] else ""))
    start = time.time()
    if kind == "bayes":
        (guide, point), history, best = train_bayesian_resnet(
            net, trn, val, cfg["epochs"], cfg["lr"], cfg["batch_size"], cfg["num_mc"], cfg["init_scale"],
            seed=args.seed, device=device, quiet=args.quiet)
        tensors = bayesian_posterior(guide, point, cfg["n_store"], args.seed)
        save_artifact(mdir / "guide.pt", {f"{k}.{part}": t for k, (loc, scale) in guide.items()
                                          for part, t in (("loc", loc), ("scale", scale))}, meta)
    else:
        history, best = train_resnet(net, trn, val, cfg["epochs"], cfg["lr"], cfg["batch_size"], cfg["momentum"],
                                     cfg["weight_decay"], cfg["milestones"], cfg.get("adversarial"), args.seed,
                                     device, args.quiet)
        tensors = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    seconds = time.time() - start
    meta.update({"history": history, "val_accuracy": best, "train_seconds": seconds, "n_train_used": len(trn[0])})
    save_artifact(path, tensors, meta)
    save_json(mdir / "metrics.json", {"val_accuracy": best, "train_seconds": seconds, "history": history,
                                      "data_source": source})
    print(f"best validation accuracy {100 * best:.2f}%, {seconds / 60:.1f} min; saved {path}")


def load_net(root, kind, args, n_samples=None):
    """(template net in eval mode, stacked samples, metadata) of a trained ResNet-20."""
    path = weights_file(cifar_dir(root, kind), MODELS[kind])
    tensors, meta = load_artifact(path, {"model": MODELS[kind], "architecture": "resnet20"},
                                  what=f"{kind} ResNet-20", hint=command(kind, "train", args))
    net = build_resnet20(0)
    if kind == "bayes":
        stored = n_stored(tensors)
        if n_samples is not None and n_samples > stored:
            raise UserError(f"--n_samples {n_samples} is more than the {stored} posterior samples stored in {path}; "
                            f"use at most {stored} or retrain with --n_store {n_samples}")
        samples = first_samples(tensors, n_samples)
        tensors = {k: v[0] for k, v in samples.items()}
    try:
        net.load_state_dict(tensors)
    except RuntimeError:
        raise UserError(f"{path} does not fit the ResNet-20; re-run: {command(kind, 'train', args)}") from None
    return net.eval(), samples if kind == "bayes" else as_posterior(net), meta


# ----------------------------------------------------------------------------------------------
# --mode test
def test(args, kind, cfg, root, device):
    from .bayesian import bayes_accuracy, predictive_probs
    from .plots import explanation_grid
    from .stages import AttackSpec, RunOptions, run_attacks, run_lrp
    bayes = kind == "bayes"
    n = args.n_samples if bayes else None
    net, samples, wmeta = load_net(root, kind, args, n)
    net.to(device)
    samples = {k: v.to(device) for k, v in samples.items()}
    fp = fingerprint(wmeta, FINGERPRINT_KEYS)
    mdir = cifar_dir(root, kind)
    dr = data_root(args.data_dir)
    acc_path = mdir / f"test_accuracy{'_samp=' + str(n) if bayes else ''}.json"
    record = {"weights_fingerprint": fp, "n_eval_requested": cfg["n_eval"], "n_samples": n}
    try:
        stored = json.loads(acc_path.read_text())
    except (OSError, ValueError):  # missing or unreadable: recompute
        stored = {}
    if args.skip_current and all(stored.get(k) == v for k, v in record.items()):
        acc, n_eval = stored["test_accuracy"], stored["n_eval"]
    else:
        x_all, y_all = load_dataset("cifar", dr, train=False)
        if cfg["n_eval"] is not None and cfg["n_eval"] < len(x_all):
            x_all, y_all = seeded_subset(x_all, y_all, cfg["n_eval"], SUBSET_SEED)
        probs = predictive_probs(net, samples, x_all, device=device)
        acc, n_eval = bayes_accuracy(probs, y_all, [n_stored(samples)])[n_stored(samples)], len(y_all)
        save_json(acc_path, {**record, "test_accuracy": acc, "n_eval": n_eval, "data_source": wmeta["data_source"]})
    print(f"Test Accuracy ({n_eval} test images" + (f", {n} samples" if bayes else "") + f"): {100 * acc:.2f}%")
    x, y, _ = load_test_subset("cifar", cfg["test_inputs"], SUBSET_SEED, dr, root)
    meta = {"model": MODELS[kind], "architecture": "resnet20", "attack_method": args.attack_method,
            "epsilon": args.epsilon, "seed": args.seed, "n_inputs": cfg["test_inputs"], "weights_fingerprint": fp,
            "data_source": wmeta["data_source"], "pgd": [40, 0.01] if args.attack_method == "pgd" else None}
    paths = {n: attack_file(mdir, args.attack_method, n)}
    x_adv = run_attacks(net, samples, x, y, AttackSpec(args.attack_method, args.epsilon, seed=args.seed), paths, meta,
                        RunOptions(device, skip_current=args.skip_current, hint=command(kind, "test", args),
                                   title=f"{kind} ResNet-20", quiet=args.quiet))
    for rule in args.rules:
        lmeta = {**meta, "rule": rule, "lrp_compat": args.lrp_compat, "lrp_method": "avg_heatmap" if bayes else None}
        path = lambda L, attacked, m, r=rule: lrp_file(mdir, args.attack_method, r, L, attacked, m,  # noqa: E731
                                                      lrp_compat=args.lrp_compat)
        run_lrp(net, samples, x, x_adv, rule, path, lmeta, [n], lrp_compat=args.lrp_compat, device=device,
                skip_current=args.skip_current, title=f"{kind} ResNet-20", quiet=args.quiet)
        heat, heat_adv = (load_artifact(path(LAYER, a, n))[0]["heatmaps"] for a in (False, True))
        grid = explanation_grid(x, heat, x_adv[n], heat_adv, path(LAYER, False, n).parent / "heatmaps.png",
                                title=f"{kind} ResNet-20, {rule}, {args.attack_method} eps={args.epsilon}")
        print(f"saved {grid}")
