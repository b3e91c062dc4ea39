# The grid's paths and flags, from the package itself (src/utils): the artifact scheme of paths.py, the settings
# entries and the profiles of model_settings.py, so a new entry or a changed scheme needs no edit here.
import json
import re
import shlex
import sys
from pathlib import Path

REPO = Path(workflow.basedir).parent
SRC = REPO / "src"
sys.path.insert(0, str(SRC))

import yaml  # noqa: E402
from snakemake.exceptions import WorkflowError  # noqa: E402
from snakemake.utils import validate  # noqa: E402

# Only torch-free modules: a plan (-n) or a job's submission does not pay for importing torch.
from utils.errors import UserError  # noqa: E402
from utils.lrp import RULES  # noqa: E402
from utils.model_settings import CIFAR_ROW_IDX, default_n_inputs, get_settings, overrides  # noqa: E402
from utils.paths import (CIFAR_CACHE, FOLDER, SUBSET_SEED, attack_file, lrp_file, net_dir, subset_file,  # noqa: E402
                         weights_file)



def _typed(value):
    """`--config key=value` gives strings ("false", "null", "[2,3]" as ["2", "3"]): read them as YAML values."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return yaml.safe_load(value) if isinstance(value, str) and value.strip() else value


for _key in [k for k in config if k != "resources"]:
    config[_key] = _typed(config[_key])
validate(config, str(Path(workflow.basedir) / "schemas" / "config.schema.yaml"))
for _idx in config["model_idxs"] + (config["controls_idxs"] or []):
    try:
        get_settings("fullBNN", _idx)
    except UserError as err:  # an index without a settings entry: the line that names the valid ones
        raise WorkflowError(f"config model_idxs: {err}") from None

KINDS = ("baseNN", "advNN", "fullBNN")
PROFILE = config["profile"]
DEBUG = bool(config["debug"])
EXP = REPO / config["exp_dir"]  # relative paths are the repository's, as the scripts' defaults
ROOT = EXP / "debug" if DEBUG else EXP
DATA = REPO / config["data_dir"]
FIG = ROOT / "figures"
PY = config["python"] or sys.executable
SCALE = "paper" if PROFILE == "paper" and not DEBUG else "cpu"
COMMON = (f"--profile {PROFILE} --device {config['device']} --seed {config['seed']} "
          f"--exp_dir {shlex.quote(str(EXP))} --data_dir {shlex.quote(str(DATA))}" + (" --debug" if DEBUG else ""))
LOGS = ROOT / "logs" / "workflow"
BENCH = ROOT / "benchmarks"

wildcard_constraints:
    model="baseNN|advNN|fullBNN",
    net=r"[A-Za-z0-9_]+_idx=\d+(_atk=fgsm)?",
    weights="weights|posterior",
    atk="fgsm|pgd",
    lrpdir=r"(avg_heatmap_)?(epsilon|gamma|alpha1beta0)_lrp",
    idx=r"\d+",
    rule="epsilon|gamma|alpha1beta0",
    folder="MNIST|FashionMNIST",
    dataset="mnist|fashion_mnist|cifar",
    n=r"\d+",
    topk=r"\d+",


def res(stage, key):
    """A stage's cluster resource at this scale (config `resources`)."""
    return config["resources"][SCALE][stage][key]


def resources_of(stage):
    return dict(mem_mb=res(stage, "mem_mb"), runtime=res(stage, "runtime"), gpu=res(stage, "gpu"))


def idx_of(wildcards):
    """The model index of a `{model}/{net}` folder, checked against the scheme of paths.py."""
    idx = int(re.search(r"_idx=(\d+)", wildcards.net).group(1))
    if net_dir(ROOT, wildcards.model, idx).name != wildcards.net:
        raise ValueError(f"{wildcards.model}/{wildcards.net} is not the folder of {wildcards.model} idx {idx}")
    return idx


def mdir(model, idx):
    return net_dir(ROOT, model, int(idx))


def weights(model, idx):
    return str(weights_file(mdir(model, idx), model))


def dataset_of(idx):
    return get_settings("fullBNN", int(idx))["dataset"]


def data_file(dataset):
    """The file the data rule makes: the provenance record (MNIST, Fashion-MNIST) or the decoded CIFAR-10 cache."""
    return str(DATA / "CIFAR10" / CIFAR_CACHE if dataset == "cifar" else DATA / FOLDER[dataset] / "provenance.json")


def n_inputs(idx):
    return config["test_inputs"] or default_n_inputs(PROFILE, int(idx), DEBUG)


def subset(idx):
    return str(subset_file(ROOT, dataset_of(idx), n_inputs(idx), SUBSET_SEED))


def n_samples(model, idx):
    """The posterior samples a stage uses: all stored (n = 10, 50, 100 in one run), or ATK_SAMPLES for the CIFAR-10
    Bayesian ResNet (as exec_cifar.sh)."""
    return config["atk_samples"] if model == "fullBNN" and int(idx) == CIFAR_ROW_IDX else None


def stage_flags(model, idx):
    n, inputs = n_samples(model, idx), config["test_inputs"]
    return (f" --n_samples {n}" if n else "") + (f" --n_inputs {inputs}" if inputs else "")


def attacks_dir(model, idx, atk):
    n = n_samples(model, idx) or 100 if model == "fullBNN" else None
    return str(attack_file(mdir(model, idx), atk, n).parent)


def lrp_dir(model, idx, atk, rule):
    n = 100 if model == "fullBNN" else None
    return str(lrp_file(mdir(model, idx), atk, rule, 0, False, n).parents[1])


def starts_from_det(model, idx):
    """Whether the model's training starts from the trained baseNN (its settings entry or the profile say so)."""
    entry = get_settings(model, int(idx))
    return bool({**entry, **overrides(PROFILE, model, int(idx), entry.get("inference"), DEBUG)}.get("init_from_det"))


def resolved_settings(w):
    """A net's settings entry under the profile's overrides, as JSON: a params value, so that editing the entry
    (or the profile) reruns its training and everything downstream (--rerun-triggers params)."""
    idx = idx_of(w)
    entry = get_settings(w.model, idx)
    over = overrides(PROFILE, w.model, idx, entry.get("inference"), DEBUG)
    return json.dumps({"entry": entry, "overrides": over}, sort_keys=True, default=str)


def stage_outputs(idx, atk, rules):
    """Every artifact a figure of (idx, attack, rules) reads: weights, attacks and heatmaps of the three kinds."""
    out = []
    for model in KINDS:
        out += [weights(model, idx), attacks_dir(model, idx, atk)]
        out += [lrp_dir(model, idx, atk, rule) for rule in rules]
    return out


def log(name):
    return str(LOGS / f"{name}.log")


def bench(name):
    return str(BENCH / f"{name}.tsv")


def script(name):
    """How a job runs an entry script: the workflow's interpreter, torch on the job's threads."""
    return f"OMP_NUM_THREADS={{threads}} MKL_NUM_THREADS={{threads}} {shlex.quote(PY)} {shlex.quote(str(SRC / name))}"
