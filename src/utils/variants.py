"""Model kinds and variants: what identifies a trained model beyond its settings entry (docs/controls.md).

Kinds: the paper's `baseNN`, `advNN`, `fullBNN`, and three averaging baselines that every downstream
stage treats like a fullBNN because they too are stacked samples:
    ensemble    K deterministic nets of the same settings entry, seeds seed, seed + 1, ..., seed + K - 1
    noisegrad   the trained baseNN's weights times N(1, s^2) noise, 100 draws (Bykov et al. 2021)
    smoothgrad  the trained baseNN, explained on 100 copies of the image plus N(0, s^2) noise
A variant is the set of inference options that differ from the defaults (`--kl_weight 10`,
`--svi_init reference`, ...). It is recorded in the artifact metadata and in the model's folder name,
so a variant never reuses another's artifacts.
"""
import math

from .errors import UserError

BASELINE_KINDS = ("ensemble", "noisegrad", "smoothgrad")
MODEL_KINDS = ("baseNN", "advNN", "fullBNN") + BASELINE_KINDS
STACKED_KINDS = ("fullBNN", "ensemble", "noisegrad")  # several weight samples; smoothgrad has one
NOISE_DEFAULTS = {"noisegrad": 0.2, "smoothgrad": 0.15}
N_NOISE_DRAWS = 100
RECIPES = ("ours", "reference")
# option: (default, the reference's value under --recipe reference, tag in folder names)
_OPTIONS = {
    "svi_elbo": ("full", "reference", "elbo"),
    "svi_init": ("ours", "reference", "init"),
    "hmc_scheme": ("full", "minibatch", "scheme"),
    "hmc_init": ("map", "uniform", "hmcinit"),
}


def add_variant_flags(p):
    """The flags that pick a model variant; every stage takes them, so it finds the same artifacts."""
    from .cli import nonneg_float, positive_float, positive_int
    g = p.add_argument_group("model variant (docs/controls.md)")
    g.add_argument("--inference", default=None, choices=("svi", "hmc"),
                   help="fullBNN: infer by SVI or HMC instead of the settings entry's choice")
    g.add_argument("--kl_weight", type=positive_float, default=1.0,
                   help="SVI: scale the mini-batch likelihood by (N/batch)/B (B = 1: the correct ELBO)")
    g.add_argument("--svi_elbo", default=None, choices=("full", "reference"),
                   help="SVI: 'reference' leaves the mini-batch likelihood unscaled, as the reference (B = N/batch)")
    g.add_argument("--svi_init", default=None, choices=("ours", "reference"),
                   help="SVI guide start: ours (PyTorch init, small scales) or the reference's N(0,1) locs, "
                        "softplus(N(0,1)) scales")
    g.add_argument("--hmc_scheme", default=None, choices=("full", "minibatch"),
                   help="HMC: one chain on the (sub)set, or the reference's cold-started chains on batches of 4000")
    g.add_argument("--hmc_init", default=None, choices=("map", "uniform"),
                   help="HMC: start at a MAP fit (default) or at Pyro's uniform(-2, 2)")
    g.add_argument("--recipe", default="ours", choices=RECIPES,
                   help="'reference': every inference choice of the reference at once (ELBO, guide init, HMC scheme, "
                        "HMC init); explicit flags still win")
    g.add_argument("--n_members", type=positive_int, default=10, help="ensemble: number of deterministic members K")
    g.add_argument("--noise_std", type=nonneg_float, default=None,
                   help="noisegrad: std of the multiplicative weight noise (0.2); smoothgrad: of the input noise (0.15)")


def resolve_options(args):
    """Fill the inference options left unset from --recipe; returns them (and sets them on args)."""
    recipe = getattr(args, "recipe", "ours")
    for name, (default, reference, _) in _OPTIONS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, reference if recipe == "reference" else default)
    return {name: getattr(args, name) for name in _OPTIONS}


def check_variant_flags(args):
    """Refuse out-of-range variant flags with one line."""
    kl = getattr(args, "kl_weight", 1.0)
    if not math.isfinite(kl) or kl <= 0:
        raise UserError(f"--kl_weight must be a positive number, got {kl}")
    if getattr(args, "n_members", 10) < 1:
        raise UserError(f"--n_members must be at least 1, got {args.n_members}")
    s = getattr(args, "noise_std", None)
    if s is not None and (not math.isfinite(s) or s < 0):
        raise UserError(f"--noise_std must be a non-negative number, got {s}")


def variant(args, settings_inference=None):
    """The options of `args.model` that differ from the defaults, in a fixed order ({} for the default model)."""
    check_variant_flags(args)
    opts = resolve_options(args)
    model, out = args.model, {}
    if model == "fullBNN":
        inference = getattr(args, "inference", None) or settings_inference
        if getattr(args, "inference", None) and args.inference != settings_inference:
            out["inference"] = inference
        if inference == "svi":
            if opts["svi_elbo"] == "reference":
                out["svi_elbo"] = "reference"
            elif args.kl_weight != 1.0:
                out["kl_weight"] = float(args.kl_weight)
            if opts["svi_init"] != "ours":
                out["svi_init"] = opts["svi_init"]
        else:
            for name in ("hmc_scheme", "hmc_init"):
                if opts[name] != _OPTIONS[name][0]:
                    out[name] = opts[name]
    elif model == "ensemble":
        out["n_members"] = int(args.n_members)
    elif model in NOISE_DEFAULTS:
        out["noise_std"] = float(args.noise_std if args.noise_std is not None else NOISE_DEFAULTS[model])
    return out


def suffix(var):
    """The folder-name tag of a variant: '' for the default, else e.g. '_kl=10_init=reference'."""
    tags = {"inference": "inf", "kl_weight": "kl", "n_members": "K", "noise_std": "s",
            **{name: tag for name, (_, _, tag) in _OPTIONS.items()}}
    return "".join(f"_{tags[k]}={_fmt(v)}" for k, v in (var or {}).items())


def _fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def variant_flags(model, var):
    """The command-line flags that select `var` again (for "run this" hints)."""
    out = []
    for k, v in (var or {}).items():
        out += [f"--{k}", _fmt(v)]
    return out
