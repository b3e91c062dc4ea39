"""Saving and loading trained networks, and the configuration that identifies them."""
import hashlib
import json

import torch

from .artifacts import load_artifact
from .errors import UserError
from .model_settings import get_settings, profile_overrides
from .networks import build_network
from .paths import model_dir, weights_file

ADV_TRAIN_ATTACK = "fgsm"  # downstream stages use the FGSM-trained advNN, as the reference does


def train_command(model, model_idx, profile="paper", debug=False):
    cmd = f"python src/train_networks.py --model {model} --model_idx {model_idx}"
    if profile != "paper":
        cmd += f" --profile {profile}"
    return cmd + (" --debug" if debug else "")


def training_config(args):
    """What identifies a trained net: the settings entry plus profile and flag overrides."""
    settings = get_settings(args.model, args.model_idx)
    cfg = {"model": args.model, "model_idx": args.model_idx, "settings": settings, "seed": args.seed,
           "n_train": None, "epochs": settings.get("epochs")}
    over = profile_overrides(args.profile, args.model, args.model_idx)
    if args.debug:
        over.update({"n_train": 1000 if settings.get("inference") != "hmc" else 200, "epochs": 1})
    cfg.update({k: v for k, v in over.items() if k in ("n_train", "epochs")})
    for key in ("n_train", "epochs"):
        if getattr(args, key, None) is not None:
            cfg[key] = getattr(args, key)
    if args.model == "advNN":
        mix = args.adv_mix if getattr(args, "adv_mix", None) is not None else over.get("adv_mix", 1.0)
        cfg["adversarial"] = {"method": args.attack_method, "eps": args.epsilon, "mix": mix}
        init = getattr(args, "init_from_det", None)
        cfg["init_from_det"] = bool(init if init is not None else over.get("init_from_det", False))
    return cfg, over


NET_KEYS = ("model", "model_idx", "settings", "seed", "n_train", "epochs", "adversarial", "inference", "code_version")


def fingerprint(meta, keys=NET_KEYS):
    """A short hash of a trained net's metadata (`keys` of it); downstream artifacts record it to detect retraining."""
    keep = {k: meta.get(k) for k in keys}
    return hashlib.sha1(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:12]


def net_dir(root, model, model_idx, adv_attack=ADV_TRAIN_ATTACK):
    return model_dir(root, model, get_settings(model, model_idx), model_idx, adv_attack)


def load_deterministic(root, model, model_idx, profile="paper", debug=False, device="cpu", adv_attack=ADV_TRAIN_ATTACK):
    """A trained baseNN/advNN in eval mode, and its metadata; a clear error if missing, corrupt or stale."""
    settings = get_settings(model, model_idx)
    path = weights_file(model_dir(root, model, settings, model_idx, adv_attack), model)
    tensors, meta = load_artifact(path, {"model": model, "model_idx": model_idx, "settings": settings},
                                  what=f"{model} idx {model_idx} weights", hint=train_command(model, model_idx, profile, debug))
    net = build_network(settings)
    try:
        net.load_state_dict(tensors)
    except RuntimeError:
        raise UserError(f"{path} does not fit the architecture of {model} idx {model_idx}; "
                        f"re-run: {train_command(model, model_idx, profile, debug)}") from None
    return net.to(device).eval(), meta


def state_dict_cpu(net):
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def check_finite(tensors, what):
    for k, v in tensors.items():
        if not torch.isfinite(v).all():
            raise UserError(f"{what}: non-finite values in {k}")


def as_posterior(net):
    """A deterministic net's weights as a one-sample stacked posterior {name: (1, ...)}."""
    return {k: v.detach().unsqueeze(0) for k, v in net.state_dict().items()}


def load_model(root, model, model_idx, n_samples=None, profile="paper", debug=False, device="cpu"):
    """Any trained model as (template net, stacked samples (S, ...), metadata, fingerprint).

    Deterministic and adversarially trained nets are one-sample posteriors; a fullBNN gives its first
    n_samples stored samples.
    """
    if model == "fullBNN":
        from .bayesian_cli import load_posterior
        samples, meta = load_posterior(root, model_idx, profile, debug, n_samples)
        net = build_network(meta["settings"]).to(device).eval()
        return net, {k: v.to(device) for k, v in samples.items()}, meta, fingerprint(meta)
    net, meta = load_deterministic(root, model, model_idx, profile, debug, device)
    return net, as_posterior(net), meta, fingerprint(meta)


def stage_inputs(args):
    """What the attack and LRP stages start from: device, experiments root, the model as a stacked
    posterior (`--n_samples` of a fullBNN), its directory, the fixed test subset, the Bayesian attack
    definition, and the sample counts n whose artifacts one run writes ([None] for a deterministic net;
    n = 10, 50, 100 up to --n_samples for `mean_of_attacks`, whose smaller attacks are prefix means)."""
    from types import SimpleNamespace

    from .cli import resolve_device
    from .data import SUBSET_SEED, load_test_subset
    from .model_settings import default_n_inputs
    from .paths import STANDARD_N_SAMPLES, data_root, experiments_root
    device = resolve_device(args.device)
    root = experiments_root(args.exp_dir, args.debug)
    bayes = args.model == "fullBNN"
    n_inputs = args.n_inputs or (100 if args.debug else default_n_inputs(args.profile, args.model_idx))
    net, samples, meta, fp = load_model(root, args.model, args.model_idx, args.n_samples if bayes else None,
                                        args.profile, args.debug, device)
    x, y, _ = load_test_subset(meta["settings"]["dataset"], n_inputs, SUBSET_SEED, data_root(args.data_dir), root)
    bayes_attack = args.bayes_attack if bayes else "mean_of_attacks"
    if not bayes:
        n_list = [None]
    elif bayes_attack == "mean_of_attacks":
        n_list = sorted({n for n in STANDARD_N_SAMPLES if n <= args.n_samples} | {args.n_samples})
    else:
        n_list = [args.n_samples]
    return SimpleNamespace(device=device, root=root, bayes=bayes, n_inputs=n_inputs, net=net, samples=samples,
                           meta=meta, fingerprint=fp, x=x, y=y, mdir=net_dir(root, args.model, args.model_idx),
                           bayes_attack=bayes_attack, n_list=n_list)
