"""The one place that decides where every artifact lives (docs/pipeline.md, "Artifacts")."""
import os
import tempfile
from pathlib import Path

from .errors import UserError
from .model_settings import get_settings
from .variants import suffix

REPO = Path(__file__).resolve().parents[2]
STANDARD_N_SAMPLES = (10, 50, 100)
FOLDER = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar": "CIFAR10"}  # each dataset's folder under data/
CIFAR_CACHE = "cifar10_uint8.pt"  # the decoded CIFAR-10 tensors, in data/CIFAR10/
SUBSET_SEED = 0  # one test subset for every stage, model and --seed
ADV_TRAIN_ATTACK = "fgsm"  # downstream stages use the FGSM-trained advNN, as the reference does


def data_root(data_dir=None):
    return Path(data_dir or os.environ.get("BLRP_DATA") or REPO / "data")


def experiments_root(exp_dir=None, debug=False):
    """The experiments folder (checked writable here, before any stage spends time on work it could not save)."""
    root = Path(exp_dir or os.environ.get("BLRP_EXPERIMENTS") or REPO / "experiments")
    return ensure_writable(root / "debug" if debug else root)


def ensure_writable(folder):
    """`folder`, created if missing; refused in one line if it is a file or cannot be written."""
    folder = Path(folder)
    hint = "choose another with --exp_dir or $BLRP_EXPERIMENTS"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"the experiments folder {folder} is a file, not a folder; {hint}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"cannot write to the experiments folder {folder} ({err.strerror or err}); {hint}") from None
    return folder


def subset_file(root, dataset, n_inputs, seed):
    return root / "subsets" / f"{dataset}_n={n_inputs}_seed={seed}.pt"


def model_dir(root, model, settings, model_idx, adv_attack=ADV_TRAIN_ATTACK):
    """`{model}/{dataset}_{arch}_idx={i}`, plus `_atk={attack}` for adversarially trained nets."""
    name = f"{settings['dataset']}_{settings['architecture']}_idx={model_idx}"
    if model == "advNN":
        name += f"_atk={adv_attack}"
    return root / model / name


def net_dir(root, model, model_idx, adv_attack=ADV_TRAIN_ATTACK, var=None):
    """The folder of one model: `{model}/{dataset}_{arch}_idx={i}` plus the variant's tag."""
    mdir = model_dir(root, model, get_settings(model, model_idx, (var or {}).get("inference")), model_idx, adv_attack)
    return mdir.with_name(mdir.name + suffix(var))


def weights_file(mdir, model):
    return mdir / ("posterior.pt" if model in ("fullBNN", "ensemble") else "weights.pt")


ATTACK_SOURCES = ("own", "det")


def attack_tag(attack_method, bayes_attack="mean_of_attacks", source="own"):
    """The folder of one attack protocol: `{method}`, `{method}_{definition}` for the shared-input Bayesian
    attacks, `{method}_src=det` for the baseNN's adversarial images scored on another model."""
    if source == "det":
        return f"{attack_method}_src=det"
    return attack_method if bayes_attack == "mean_of_attacks" else f"{attack_method}_{bayes_attack}"


def attack_file(mdir, attack_method, n_samples=None, bayes_attack="mean_of_attacks", source="own"):
    sub = attack_tag(attack_method, bayes_attack, source)
    name = f"{attack_method}_attack.pt" if n_samples is None else f"{attack_method}_attackSamp={n_samples}_attack.pt"
    return mdir / sub / "attacks" / name


def lrp_file(mdir, attack_method, rule, layer_idx, attacked, n_samples=None, lrp_method="avg_heatmap",
             lrp_compat="default", bayes_attack="mean_of_attacks", source="own"):
    sub = attack_tag(attack_method, bayes_attack, source)
    rule_dir = f"{rule}_lrp" if n_samples is None else f"{lrp_method}_{rule}_lrp"
    if lrp_compat != "default":
        rule_dir += f"_compat={lrp_compat}"
    kind = "attack_lrp" if attacked else "lrp"
    name = f"det_{kind}.pt" if n_samples is None else f"bay_{kind}_samp={n_samples}.pt"
    return mdir / sub / rule_dir / f"layer_idx={layer_idx}" / name


def figures_dir(root, sub=None):
    return root / "figures" / sub if sub else root / "figures"
