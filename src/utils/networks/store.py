"""Saving and loading trained networks, and the configuration that identifies them."""
import hashlib
import json

import torch

from ..artifacts import load_artifact
from ..errors import UserError
from ..model_settings import get_settings, overrides
from .architectures import build_network
from ..paths import ADV_TRAIN_ATTACK, model_dir, net_dir, weights_file
from .posterior import first_samples, n_stored
from ..variants import NOISE_DEFAULTS, N_NOISE_DRAWS, STACKED_KINDS, variant, variant_flags


def command(script, model, model_idx, *flags, var=None, profile="paper", debug=False):
    """The one "run this" hint: `python src/<script> --model M --model_idx I <flags> <variant flags>`, with the
    profile and --debug of the run that needs it."""
    cmd = ["python", f"src/{script}", "--model", model, "--model_idx", str(model_idx), *flags,
           *variant_flags(model, var)]
    cmd += ["--profile", profile] if profile != "paper" else []
    return " ".join(cmd + (["--debug"] if debug else []))


def _protocol_flags(source, bayes_attack):
    return ((["--attack_source", "det"] if source == "det" else [])
            + (["--bayes_attack", bayes_attack] if bayes_attack != "mean_of_attacks" else []))


def train_command(model, model_idx, profile="paper", debug=False, var=None):
    """The train_networks.py command that (re)makes a trained model."""
    return command("train_networks.py", model, model_idx, var=var, profile=profile, debug=debug)


def attack_command(model, model_idx, attack_method, var=None, source="own", bayes_attack="mean_of_attacks",
                   n_samples=None, profile="paper", debug=False):
    """The attack_networks.py command that (re)makes one attack artifact."""
    flags = ["--attack_method", attack_method, *_protocol_flags(source, bayes_attack)]
    flags += ["--n_samples", str(n_samples)] if n_samples else []
    return command("attack_networks.py", model, model_idx, *flags, var=var, profile=profile, debug=debug)


def lrp_command(model, model_idx, attack_method, rule, lrp_method="avg_heatmap", lrp_compat="default", var=None,
                source="own", bayes_attack="mean_of_attacks", profile="paper", debug=False):
    """The compute_lrp.py command that (re)makes one rule's heatmaps of one attack protocol."""
    flags = ["--attack_method", attack_method, "--rule", rule]
    flags += ["--lrp_method", lrp_method] if model in STACKED_KINDS else []
    flags += ["--lrp_compat", lrp_compat] if lrp_compat != "default" else []
    flags += _protocol_flags(source, bayes_attack)
    return command("compute_lrp.py", model, model_idx, *flags, var=var, profile=profile, debug=debug)


def model_variant(args):
    """The variant of `args.model` selected by its flags ({} for the default model)."""
    entry = get_settings("fullBNN", args.model_idx)["inference"] if args.model == "fullBNN" else None
    return variant(args, entry)


# The recipe hyperparameters a flag (or a profile) may set, per recipe; the fullBNN's sgd recipe has its own.
RECIPE_KEYS = {"adam": ("lr", "batch_size"),
               "sgd": ("lr", "batch_size", "milestones", "momentum", "weight_decay", "n_val"),
               "bayes_sgd": ("lr", "batch_size", "n_val", "num_mc")}


def training_config(args):
    """What identifies a trained net: the settings entry plus profile, variant and flag overrides (flags over the
    profile over the entry: `model_settings.overrides`)."""
    var = model_variant(args)
    inference = var.get("inference")
    settings = get_settings(args.model, args.model_idx, inference)
    cfg = {"model": args.model, "model_idx": args.model_idx, "settings": settings, "seed": args.seed,
           "n_train": None, "epochs": settings.get("epochs")}
    from ..data.datasets import data_identity
    from ..paths import data_root
    cfg["data"] = data_identity(settings["dataset"], data_root(args.data_dir))  # the verified checksums it trains on
    if var:
        cfg["variant"] = var
    over = overrides(args.profile, args.model, args.model_idx, inference, args.debug)
    pick = lambda key, default=None: (getattr(args, key) if getattr(args, key, None) is not None  # noqa: E731
                                      else over.get(key, default))
    for key in ("n_train", "epochs"):
        if pick(key) is not None:
            cfg[key] = pick(key)
    recipe = settings.get("recipe", "adam")
    keys = RECIPE_KEYS["bayes_sgd" if recipe == "sgd" and args.model == "fullBNN" else recipe]
    for key in {k for names in RECIPE_KEYS.values() for k in names} - set(keys):
        if getattr(args, key, None) is not None:
            raise UserError(f"--{key} is not a setting of the {recipe} recipe of {args.model} idx {args.model_idx}")
    if recipe == "sgd":  # every hyperparameter recorded, flags over profile over entry
        cfg["recipe"] = {k: pick(k, settings.get(k)) for k in keys}
    elif any(pick(k) is not None for k in keys):  # the paper's recipe records only what a flag changed
        cfg["recipe"] = {k: pick(k) for k in keys if pick(k) is not None}
    if args.model != "fullBNN" and pick("n_eval") is not None:
        cfg["n_eval"] = pick("n_eval")
    if args.model == "advNN":
        cfg["adversarial"] = {"method": args.attack_method, "eps": args.epsilon, "mix": pick("adv_mix", 1.0)}
    if args.model == "advNN" or args.model == "fullBNN" and recipe == "sgd":
        cfg["init_from_det"] = bool(pick("init_from_det", False))
    elif getattr(args, "init_from_det", None):
        raise UserError(f"--init_from_det applies to the advNN and to a fullBNN of the sgd recipe, not to {args.model} "
                        f"idx {args.model_idx}")
    return cfg, over


NET_KEYS = ("model", "model_idx", "settings", "seed", "n_train", "epochs", "adversarial", "inference", "code_version")
# identity keys hashed only where present (variants and baselines, a changed recipe, the start of a fine-tuning, the data)
VARIANT_KEYS = ("variant", "base_fingerprint", "member_fingerprints", "recipe", "init_fingerprint", "data")


def fingerprint(meta, keys=NET_KEYS):
    """A short hash of a trained net's metadata (`keys` of it); downstream artifacts record it to detect retraining."""
    keep = {k: meta.get(k) for k in keys}
    if keys is NET_KEYS:
        keep.update({k: meta[k] for k in VARIANT_KEYS if meta.get(k) is not None})
    return hashlib.sha1(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:12]


ATTACK_KEYS = ("model", "attack_method", "epsilon", "seed", "pgd", "bayes_attack", "weights_fingerprint", "n_inputs",
               "n_samples", "attack_source", "source_fingerprint", "source_attack_fingerprint")


def attack_fingerprint(meta):
    """A short hash of what made an attack artifact; the heatmaps of its images record it."""
    return fingerprint(meta, ATTACK_KEYS)


def current_fingerprint(mdir, model, model_idx):
    """The fingerprint of the net now stored in `mdir` (from its sidecar), or None where it has no file of its own."""
    import json
    sidecar = weights_file(mdir, model).with_suffix(".json")
    try:
        return fingerprint(json.loads(sidecar.read_text())) if sidecar.exists() else None
    except (OSError, ValueError):
        raise UserError(f"{sidecar} is unreadable; re-run: {train_command(model, model_idx)}") from None


def load_deterministic(root, model, model_idx, profile="paper", debug=False, device="cpu", adv_attack=ADV_TRAIN_ATTACK,
                       mdir=None, expect_extra=None):
    """A trained baseNN/advNN (or an ensemble member, from `mdir`) in eval mode, and its metadata; a clear error
    if missing, corrupt or stale."""
    settings = get_settings(model, model_idx)
    path = weights_file(mdir or model_dir(root, model, settings, model_idx, adv_attack), model)
    expect = {"model": model, "model_idx": model_idx, "settings": settings, **(expect_extra or {})}
    tensors, meta = load_artifact(path, expect, what=f"{model} idx {model_idx} weights",
                                  hint=train_command(model, model_idx, profile, debug))
    net = build_network(settings)
    check_state(tensors, net, path, train_command(model, model_idx, profile, debug))
    check_finite(tensors, f"{path} (re-run: {train_command(model, model_idx, profile, debug)})")
    net.load_state_dict(tensors)
    return net.to(device).eval(), meta


def load_posterior(root, model_idx, profile="paper", debug=False, n_samples=None, model="fullBNN", var=None):
    """The stored samples of a fullBNN or an ensemble (all, or the first n_samples) and its metadata."""
    var = var or {}
    settings = get_settings(model, model_idx, var.get("inference"))
    path = weights_file(net_dir(root, model, model_idx, var=var), "fullBNN")
    expect = {"model": model, "model_idx": model_idx, "settings": settings, **({"variant": var} if var else {})}
    hint = train_command(model, model_idx, profile, debug, var)
    samples, meta = load_artifact(path, expect, what=f"{model} idx {model_idx} samples", hint=hint)
    check_state(samples, build_network(settings), path, hint, stacked=True)
    check_finite(samples, f"{path} (re-run: {hint})")
    stored = n_stored(samples)
    if n_samples is not None:
        if n_samples > stored:
            raise UserError(f"--n_samples {n_samples} is more than the {stored} posterior samples stored in {path}; "
                            f"use at most {stored} or retrain with more samples")
        samples = first_samples(samples, n_samples)
    return samples, meta


def check_state(tensors, net, path, hint, stacked=False):
    """Refuse weights (or stacked samples, (S, ...) per entry) that do not hold exactly the keys and shapes of
    `net`: a missing key would otherwise be filled by the template's random init."""
    want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    have = {k: tuple(v.shape[1:] if stacked else v.shape) for k, v in tensors.items()}
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    wrong = [k for k in want if k in have and have[k] != want[k]]
    sizes = {v.shape[0] for v in tensors.values()} if stacked else set()
    if missing or extra or wrong or len(sizes) > 1:
        what = (f"missing {missing[0]}" if missing else f"unexpected {extra[0]}" if extra
                else f"{wrong[0]} has shape {have[wrong[0]]}, expected {want[wrong[0]]}" if wrong
                else "entries with different sample counts")
        raise UserError(f"{path} does not fit the network of its settings ({what}); re-run: {hint}")


def state_dict_cpu(net):
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def check_finite(tensors, what):
    for k, v in tensors.items():
        if not torch.isfinite(v).all():
            raise UserError(f"{what}: non-finite values in {k}")


def as_posterior(net):
    """A deterministic net's weights as a one-sample stacked posterior {name: (1, ...)}."""
    return {k: v.detach().unsqueeze(0) for k, v in net.state_dict().items()}


def noisegrad_samples(weights, noise_std, n_draws, seed):
    """NoiseGrad's weight samples: every parameter times (1 + noise_std * eps), eps ~ N(0, 1); draw j comes
    from its own generator seeded by (seed, j), so the first n draws are the same for every n."""
    out = {k: [] for k in weights}
    for j in range(n_draws):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + j)
        for k, w in weights.items():
            eps = torch.randn(w.shape, generator=gen, dtype=w.dtype).to(w.device)
            out[k].append(w * (1 + noise_std * eps))
    return {k: torch.stack(v) for k, v in out.items()}


def load_model(root, model, model_idx, n_samples=None, profile="paper", debug=False, device="cpu", var=None, seed=0):
    """Any trained model as (template net, stacked samples (S, ...), metadata, fingerprint).

    Deterministic and adversarially trained nets are one-sample posteriors; a fullBNN or an ensemble
    gives its first n_samples stored samples; NoiseGrad draws its samples from the trained baseNN
    (seeded by `seed`); SmoothGrad is the baseNN itself (its noise is added to the inputs, at explanation time).
    """
    var = var or {}
    if model in ("fullBNN", "ensemble"):
        samples, meta = load_posterior(root, model_idx, profile, debug, n_samples, model=model, var=var)
        net = build_network(meta["settings"]).to(device).eval()
        return net, {k: v.to(device) for k, v in samples.items()}, meta, fingerprint(meta)
    if model in NOISE_DEFAULTS:
        net, base = load_deterministic(root, "baseNN", model_idx, profile, debug, device)
        meta = {"model": model, "model_idx": model_idx, "settings": base["settings"], "seed": seed, "variant": var,
                "base_fingerprint": fingerprint(base), "n_noise_draws": N_NOISE_DRAWS}
        if model == "smoothgrad":
            return net, as_posterior(net), meta, fingerprint(meta)
        n = N_NOISE_DRAWS if n_samples is None else n_samples
        if not 0 < n <= N_NOISE_DRAWS:
            raise UserError(f"--n_samples must be in 1..{N_NOISE_DRAWS} for noisegrad, got {n_samples}")
        samples = noisegrad_samples(dict(net.state_dict()), var["noise_std"], n, seed)
        return net, samples, meta, fingerprint(meta)
    net, meta = load_deterministic(root, model, model_idx, profile, debug, device)
    return net, as_posterior(net), meta, fingerprint(meta)


def stage_inputs(args):
    """What the attack and LRP stages start from: device, experiments root, the model as stacked samples
    (`--n_samples` of them; all stored by default), its folder, the fixed test subset, the Bayesian attack
    definition, the attack source, and the sample counts n whose artifacts one run writes ([None] for a
    single-sample net; n = 10, 50, 100 up to n_samples when the smaller n are prefix means: the per-sample
    `mean_of_attacks`, and images shared by every sample, as the baseNN's attack or the random floor)."""
    from types import SimpleNamespace

    from ..cli import resolve_device
    from ..data.datasets import SUBSET_SEED, load_test_subset
    from ..model_settings import default_n_inputs
    from ..paths import data_root, experiments_root
    from .posterior import n_stored
    device = resolve_device(args.device)
    root = experiments_root(args.exp_dir, args.debug)
    var = model_variant(args)
    bayes = args.model in STACKED_KINDS
    n_inputs = args.n_inputs or default_n_inputs(args.profile, args.model_idx, args.debug)
    net, samples, meta, fp = load_model(root, args.model, args.model_idx, args.n_samples if bayes else None,
                                        args.profile, args.debug, device, var, args.seed)
    x, y, _ = load_test_subset(meta["settings"]["dataset"], n_inputs, SUBSET_SEED, data_root(args.data_dir), root)
    source = getattr(args, "attack_source", "own")
    bayes_attack, n_list = attack_protocol(bayes, n_stored(samples), getattr(args, "attack_method", None), source,
                                           args.bayes_attack)
    input_noise = var["noise_std"] if args.model == "smoothgrad" else None
    return SimpleNamespace(device=device, root=root, bayes=bayes, n_inputs=n_inputs, net=net, samples=samples,
                           meta=meta, fingerprint=fp, x=x, y=y, var=var,
                           mdir=net_dir(root, args.model, args.model_idx, var=var), bayes_attack=bayes_attack,
                           source=source, n_list=n_list, input_noise=input_noise)


def attack_protocol(bayes, s_total, attack_method, source="own", bayes_attack="mean_of_attacks"):
    """(definition, sample counts n) of one attack protocol on a model of s_total samples: [None] for a
    single-sample net; n = 10, 50, 100 up to s_total when the smaller n are prefix means (the per-sample
    `mean_of_attacks`, and images shared by every sample: the baseNN's attack, the random floor); else [s_total]."""
    from ..paths import STANDARD_N_SAMPLES
    bayes_attack = bayes_attack if bayes and source == "own" and attack_method != "random" else "mean_of_attacks"
    if not bayes:
        return bayes_attack, [None]
    if bayes_attack == "mean_of_attacks":
        return bayes_attack, sorted({n for n in STANDARD_N_SAMPLES if n <= s_total} | {s_total})
    return bayes_attack, [s_total]


def det_attack(root, model_idx, attack_method, n_inputs, profile="paper", debug=False):
    """The baseNN's saved adversarial images (the shared attack of `--attack_source det`) and their metadata;
    refused if the baseNN was retrained since or the test subset differs."""
    from ..paths import attack_file
    _, det_meta = load_deterministic(root, "baseNN", model_idx, profile, debug)
    hint = attack_command("baseNN", model_idx, attack_method, profile=profile, debug=debug)
    tensors, meta = load_artifact(attack_file(net_dir(root, "baseNN", model_idx), attack_method),
                                  {"weights_fingerprint": fingerprint(det_meta), "n_inputs": n_inputs,
                                   "attack_method": attack_method}, what="baseNN attack", hint=hint)
    return tensors["x_adv"], meta
