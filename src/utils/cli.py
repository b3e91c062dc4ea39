"""What every entry script shares: common flags, device choice, and clean error exits."""
import argparse
import errno
import math
from pathlib import Path
import os
import sys

import torch

from .errors import UserError
from .model_settings import PROFILES


def str2bool(value):
    """Parse a real boolean flag (`--load`, `--load=True`, `--debug false`)."""
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (True/False), got {value!r}")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `error: <what is wrong> (see <script> --help)`, exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _ranged(kind, check, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value) or not check(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    parse.__name__ = what
    return parse


positive_int = _ranged(int, lambda v: v > 0, "a positive integer")
nonneg_int = _ranged(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _ranged(float, lambda v: v > 0, "a positive number")
nonneg_float = _ranged(float, lambda v: v >= 0, "a non-negative number")
unit_float = _ranged(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
seed_int = _ranged(int, lambda v: 0 <= v < 2**63, "an integer in [0, 2^63)")
percent_int = _ranged(int, lambda v: 0 < v <= 100, "an integer in (0, 100]")


def png_path(text):
    """A figure's file name: it must end in .png."""
    if not text.endswith(".png"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a .png file name")
    return Path(text)


def add_bool(parser, name, default=False, help=""):
    parser.add_argument(name, type=str2bool, nargs="?", const=True, default=default, help=help)


# The flags several scripts share, defined once with their types and ranges (a script may override the default,
# the choices or the help, never the type). `add_flag(p, "--epsilon")` adds one.
def _flags():
    from .attacks.gradient import ATTACK_METHODS, BAYES_ATTACKS
    from .lrp.engine import COMPAT, LRP_METHODS, RULES
    from .paths import ATTACK_SOURCES
    return {
        "--model_idx": dict(type=nonneg_int, default=0, help="entry of src/utils/model_settings.py"),
        "--attack_method": dict(default="fgsm", choices=ATTACK_METHODS, help="which attack"),
        "--epsilon": dict(type=unit_float, default=0.2, help="attack strength in [0, 1] pixel units"),
        "--n_inputs": dict(type=positive_int, default=None,
                           help="test-subset size, a multiple of 10 (default 500; CPU profile: 200 for conv)"),
        "--n_samples": dict(type=positive_int, default=None,
                            help="posterior samples of a fullBNN / ensemble / noisegrad (default: all stored, 100)"),
        "--rule": dict(default="epsilon", choices=RULES, help="LRP rule"),
        "--lrp_method": dict(default="avg_heatmap", choices=LRP_METHODS, help="how the samples' maps are combined"),
        "--lrp_compat": dict(default="default", choices=COMPAT, help="'reference' reproduces the reference's quirks"),
        "--topk": dict(type=percent_int, default=20, help="percentage of pixels selected (half positive, half negative)"),
        "--bayes_attack": dict(default="mean_of_attacks", choices=BAYES_ATTACKS,
                               help="how a model of several samples is attacked (see README)"),
        "--attack_source": dict(default="own", choices=ATTACK_SOURCES,
                                help="own: the model's own attack; det: the baseNN's adversarial images "
                                     "(the same for every model)"),
        "--out": dict(type=png_path, default=None,
                      help="write the figure here (a .png; its CSVs beside it) instead of under the default name"),
    }


def add_flag(parser, name, **override):
    spec = _flags()[name]
    if "type" in override and override["type"] is not spec.get("type"):
        raise ValueError(f"{name} is defined with its type in cli._flags; override its default, choices or help only")
    return parser.add_argument(name, **{**spec, **override})


def base_parser(description):
    """A parser with the flags every stage has: device, seed, debug, profile, quiet, data/experiment roots."""
    p = Parser(description=description)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where to compute (auto: cuda if available)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of every random draw")
    add_bool(p, "--debug", help="tiny run under experiments/debug/")
    p.add_argument("--profile", default=os.environ.get("BLRP_PROFILE", "paper"), choices=PROFILES,
                   help="paper scale, or the reduced CPU profile (env BLRP_PROFILE)")
    p.add_argument("--data_dir", default=None, help="data root (else $BLRP_DATA, else <repo>/data)")
    p.add_argument("--exp_dir", default=None, help="experiments root (else $BLRP_EXPERIMENTS, else <repo>/experiments)")
    add_bool(p, "--quiet", help="no progress bars")
    return p


def resolve_device(name):
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but CUDA is not available here; use --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def run_main(main):
    """Run `main()`; a UserError becomes one line on stderr and exit status 2."""
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted (nothing half-written is left: artifacts are written atomically)", file=sys.stderr)
        sys.exit(130)
    except OSError as err:  # a full or read-only disk, a path that is a file: nothing half-written is left
        where = f" {err.filename}" if err.filename else ""
        extra = "; free some space and re-run" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        print(f"error: cannot read or write{where}: {err.strerror or err}{extra}", file=sys.stderr)
        sys.exit(2)


def stage_parser(description):
    """The flags of the attack and LRP stages: which model, which test subset, how many posterior samples."""
    from .variants import MODEL_KINDS, add_variant_flags
    p = base_parser(description)
    p.add_argument("--model", default="baseNN", help=" | ".join(MODEL_KINDS))
    for name in ("--model_idx", "--n_inputs", "--n_samples", "--bayes_attack", "--attack_source"):
        add_flag(p, name)
    add_bool(p, "--skip_current", help="do nothing if current artifacts exist")
    add_variant_flags(p)
    return p
