"""Flags and helpers shared by the figure scripts."""
from .. import cli
from ..metrics.robustness import TIES
from ..model_settings import get_settings
from ..paths import experiments_root, figures_dir
from ..variants import BASELINE_KINDS, add_variant_flags, suffix, variant
from .results import DATASET_NAMES


def figure_parser(description, model_idx=0, topk=20, rule=True):
    p = cli.base_parser(description)
    cli.add_flag(p, "--model_idx", default=model_idx)
    cli.add_flag(p, "--n_inputs", help="check that the artifacts used this test-subset size")
    cli.add_flag(p, "--topk", default=topk)
    cli.add_flag(p, "--attack_method")
    cli.add_flag(p, "--attack_source",
                 help="own: each model on its own attack; det: every model on the baseNN's adversarial images")
    p.add_argument("--ties", default="index", choices=TIES,
                   help="top-k ties broken by pixel index (the paper's metric, stable) or at random per map")
    cli.add_flag(p, "--lrp_method")
    cli.add_flag(p, "--lrp_compat")
    cli.add_flag(p, "--n_samples", default=100, help="posterior samples of the Bayesian net")
    p.add_argument("--bayes_model", default="fullBNN", choices=("fullBNN",) + BASELINE_KINDS,
                   help="the model in the Bayesian place: the fullBNN, or an averaging baseline (with its variant flags)")
    add_variant_flags(p)
    cli.add_flag(p, "--out")
    if rule:
        cli.add_flag(p, "--rule")
    return p


def bayes_variant(args):
    """The variant of the model in the Bayesian place ({} for the default fullBNN)."""
    from types import SimpleNamespace
    entry = get_settings("fullBNN", args.model_idx)["inference"]
    return variant(SimpleNamespace(**{**vars(args), "model": args.bayes_model}), entry)


def setup(args):
    """(experiments root, figures root, settings of the model idx)."""
    if not 0 < args.topk <= 100:
        raise cli.UserError(f"--topk must be in (0, 100], got {args.topk}")
    root = experiments_root(args.exp_dir, args.debug)
    return root, figures_dir(root), get_settings("fullBNN", args.model_idx)


def protocol_tag(args):
    """The file-name tag of a non-default attack source, tie-breaking or Bayesian-place model ('' for the paper's)."""
    var = bayes_variant(args)
    bay = "" if args.bayes_model == "fullBNN" and not var else f"_bay={args.bayes_model}{suffix(var)}"
    return ("_src=det" if args.attack_source == "det" else "") + ("_ties=random" if args.ties == "random" else "") + bay


def describe(settings, model_idx, attack_method):
    return (f"{DATASET_NAMES[settings['dataset']]} {settings['architecture']} ({settings['inference'].upper()}), "
            f"idx {model_idx}, {attack_method.upper()}")


def output(args, default):
    """Where the figure goes: `--out` if given (the workflow names its figures), else its default path."""
    return args.out or default
